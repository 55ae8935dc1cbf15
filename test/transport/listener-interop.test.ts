/**
 * The transport against rxon's own listener with signature verification on: what the transport
 * signs, the listener's verifier accepts, over HTTP and the WebSocket, in both directions.
 */
import { createServer, type Server } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WorkerCommand } from "../../generated/types.js";
import { RxonListener } from "../../src/listener/index.js";
import type { CommandChannel, HandlerArgs } from "../../src/listener/types.js";
import { waitUntil } from "../../src/testing/index.js";
import { createTransport, type HttpTransport } from "../../src/transport/index.js";
import { result, task } from "./helpers.js";

const SECRET = "worker-secret";
let server: Server;
let listener: RxonListener;
let url: string;
const seen: { action: string; payload: unknown; verified?: string | undefined }[] = [];
const tasks: Record<string, unknown>[] = [];
let channel: CommandChannel | undefined;

beforeEach(async () => {
  seen.length = 0;
  tasks.length = 0;
  channel = undefined;
  listener = new RxonListener({
    verify: { keys: (id) => (id === "w1" ? { alg: "hmac-sha256", secret: SECRET } : null) },
    handler: async (...[action, payload, context]: HandlerArgs) => {
      seen.push({ action, payload: action === "websocket" ? null : payload, verified: context.verifiedWorkerId });
      if (action === "poll") return tasks.shift() ?? null;
      if (action === "websocket") {
        channel = payload;
        await payload.closed;
      }
      return undefined;
    },
  });
  server = listener.attach(createServer());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(async () => {
  await listener.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("transport ↔ listener", () => {
  it("signed register, poll, result, heartbeat and event are verified and answered", async () => {
    await using t = createTransport(url, "w1", SECRET, { secret: SECRET }) as HttpTransport;
    expect(await t.register({ worker_id: "w1", supported_skills: [{ name: "echo" }] })).toMatchObject({ status: "registered" });
    expect(await t.pollTask({ timeoutSeconds: 0 })).toBeNull();
    tasks.push(task("1"));
    expect(await t.pollTask({ timeoutSeconds: 0 })).toMatchObject({ task_id: "task-1" });
    expect(await t.sendResult(result("1"))).toMatchObject({ delivered: true });
    expect(await t.sendHeartbeat({ worker_id: "w1", status: "idle" })).not.toBeUndefined();
    expect(await t.emitEvent({ event_id: "e", worker_id: "w1", origin_worker_id: "w1", event_type: "progress", payload: { progress: 1 }, bubbling_chain: ["x"] })).toBe(true);
    const verified = seen.filter((s) => ["register", "result", "heartbeat", "event"].includes(s.action));
    expect(verified.map((s) => s.action)).toEqual(["register", "result", "heartbeat", "event"]);
    expect(verified.every((s) => s.verified === "w1")).toBe(true);
  });

  it("a wrong secret is refused with an AuthError", async () => {
    await using t = createTransport(url, "w1", SECRET, { secret: "not-the-secret" });
    await expect(t.sendResult(result("1"))).rejects.toMatchObject({ name: "AuthError", status: 403 });
  });

  it("commands arrive over the listener's channel and events go back over it", async () => {
    await using t = createTransport(url.replace("http", "ws"), "w1", SECRET, { secret: SECRET }) as HttpTransport;
    const got: WorkerCommand[] = [];
    const controller = new AbortController();
    const done = (async () => {
      for await (const c of t.commands({ signal: controller.signal })) got.push(c);
    })();
    await waitUntil(() => channel?.isOpen && t.commandChannelOpen);
    await channel!.send({ command: "cancel_task", task_id: "task-1", job_id: "job-1" });
    await waitUntil(() => got.length === 1);
    expect(got[0]).toEqual({ command: "cancel_task", task_id: "task-1", job_id: "job-1" });
    expect(await t.emitEvent({ event_id: "e2", worker_id: "w1", origin_worker_id: "w1", event_type: "progress", payload: {} })).toBe(true);
    await waitUntil(() => seen.some((s) => s.action === "event" && s.verified === "w1"));
    controller.abort();
    await done;
  });
});
