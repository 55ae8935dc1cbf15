import { describe, expect, it } from "vitest";
import type { WorkerCommand } from "../../generated/types.js";
import { NetworkError, ProtocolError } from "../../src/errors.js";
import { verifyHmac } from "../../src/security/hmac.js";
import { MockTransport } from "../../src/testing/index.js";
import { result, task } from "./helpers.js";

describe("MockTransport", () => {
  it("has the reference defaults", async () => {
    const m = new MockTransport();
    expect(m.workerId).toBe("mock-worker");
    expect(m.token).toBe("mock-token");
    expect(await m.register({ worker_id: "mock-worker" })).toMatchObject({ status: "registered" });
    expect(await m.sendHeartbeat({ worker_id: "mock-worker", status: "idle" })).toEqual({ status: "ok" });
    expect(await m.sendResult(result("1"))).toEqual({ delivered: true, response: { status: "ok" } });
    expect(await m.emitEvent({ event_id: "e", worker_id: "w", origin_worker_id: "w", event_type: "progress", payload: {} })).toBe(true);
    expect(await m.refreshToken()).toEqual({ access_token: "refreshed-mock-token", expires_in: 3600, worker_id: "mock-worker" });
    expect(m.token).toBe("refreshed-mock-token");
    expect(m.connected).toBe(true);
    await m.close();
    expect(m.connected).toBe(false);
  });

  it("records what was sent, stamped and signed like the real transport", async () => {
    const m = new MockTransport({ workerId: "w1", secret: "s3cret", clock: () => 1_700_000_000_500 });
    await m.sendResult(result("1"));
    const [sent] = m.results;
    expect(sent).toMatchObject({ task_id: "task-1", timestamp: 1_700_000_000, security: { signer_id: "w1" } });
    expect(verifyHmac(sent, sent!.security!.signature, "s3cret")).toBe(true);
  });

  it("hands out pushed tasks, decoded, and waits for one up to the timeout", async () => {
    const m = new MockTransport();
    expect(await m.pollTask({ timeoutSeconds: 0 })).toBeNull();
    const waiting = m.pollTask({ timeoutSeconds: 5 });
    m.pushTask(task("1"));
    expect(await waiting).toMatchObject({ task_id: "task-1", priority: 0 });
    m.pushTask({ job_id: "j" });
    await expect(m.pollTask({ timeoutSeconds: 0 })).rejects.toBeInstanceOf(ProtocolError);
    expect(m.polls).toHaveLength(3);
  });

  it("aborts a waiting poll", async () => {
    const m = new MockTransport();
    const controller = new AbortController();
    const waiting = m.pollTask({ timeoutSeconds: 30, signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error("stop"));
    expect(await waiting).toMatchObject({ message: "stop" });
  });

  it("answers as configured: ignored results and heartbeat directives", async () => {
    const m = new MockTransport({
      resultResponse: (r) => (r.task_id === "task-2" ? { status: "ignored", reason: "job_cancelled", message: "cancelled" } : { status: "accepted" }),
      heartbeatResponse: { status: "ok", cancel_task_ids: ["task-7"] },
    });
    expect((await m.sendResult(result("1"))).delivered).toBe(true);
    expect(await m.sendResult(result("2"))).toMatchObject({ delivered: false, reason: "job_cancelled" });
    expect(await m.sendHeartbeat(null)).toEqual({ status: "ok", cancel_task_ids: ["task-7"] });
    expect(m.heartbeats).toEqual([null]);
  });

  it("fails the next calls on demand", async () => {
    const m = new MockTransport();
    m.failNext("result", new NetworkError("down"));
    await expect(m.sendResult(result("1"))).rejects.toThrow("down");
    expect((await m.sendResult(result("1"))).delivered).toBe(true);
  });

  it("streams pushed commands (buffered until someone listens), skipping malformed ones", async () => {
    const m = new MockTransport();
    m.pushCommand({ command: "cancel_task", task_id: "t-1" });
    const got: WorkerCommand[] = [];
    const done = (async () => {
      for await (const c of m.commands()) got.push(c);
    })();
    m.pushCommand({ nope: true });
    m.pushCommand({ command: "cancel_task", task_id: "t-2" });
    await m.waitFor(() => got.length === 2);
    expect(got.map((c) => c.task_id)).toEqual(["t-1", "t-2"]);
    await m.close();
    await done;
  });

  it("supports await using and refuses calls once closed", async () => {
    let kept: MockTransport;
    {
      await using m = new MockTransport();
      kept = m;
    }
    await expect(kept.sendHeartbeat(null)).rejects.toMatchObject({ message: "Transport is closed" });
    await kept.connect();
    expect(await kept.sendHeartbeat(null)).toEqual({ status: "ok" });
  });
});
