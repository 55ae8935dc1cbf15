/**
 * Leases that reconcile: no task stays "running" without a live worker working on it. A task the
 * worker does not list in its heartbeats goes back to the queue after the grace; a worker
 * restarted under the same id has its leases reconciled the same way; a poll answer that does not
 * reach the worker puts the task back at once.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { Hub } from "../../src/hub/index.js";
import { RxonListener } from "../../src/listener/index.js";
import { memoryLogger } from "../helpers/logger.js";
import { heartbeat, poll, register, result, SECRETS, until } from "./helpers.js";

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

function clockedHub(options: ConstructorParameters<typeof Hub>[0] = {}): { hub: Hub; advance(ms: number): void } {
  let now = Date.now();
  const hub = new Hub({ auth: { tokens: SECRETS }, now: () => now, heartbeatIntervalMs: 1000, sweepIntervalMs: 3_600_000, ...options });
  hubs.push(hub);
  return { hub, advance: (ms) => (now += ms) };
}

describe("hub leases", () => {
  it("re-queues a task whose poll answer was lost: the worker never lists it, and after the grace another worker runs it", async () => {
    const { hub, advance } = clockedHub({ leaseGraceMs: 2000 });
    await register(hub, "cpu-1");
    await register(hub, "cpu-2");
    const h = await hub.submit({ type: "echo", params: { n: 1 } });
    const lost = (await poll(hub, "cpu-1"))!; // the answer "never arrives"
    expect(h.status).toBe("running");
    // cpu-1 keeps heartbeating, listing nothing.
    expect(await heartbeat(hub, "cpu-1", { current_tasks: [] }, { at: Date.now() })).toEqual({ status: "ok" });
    advance(1000);
    await heartbeat(hub, "cpu-1", { current_tasks: [] }, { at: Date.now() + 1000 });
    expect(await poll(hub, "cpu-2")).toBeNull(); // still within the grace
    advance(1500);
    await heartbeat(hub, "cpu-1", { current_tasks: [] }, { at: Date.now() + 2000 });
    const again = (await poll(hub, "cpu-2"))!;
    expect(again.job_id).toBe(lost.job_id);
    expect(again.task_id).not.toBe(lost.task_id);
    // A late result of the lost attempt is stale; the new one is accepted.
    expect(await result(hub, "cpu-1", { job_id: lost.job_id, task_id: lost.task_id, data: {} })).toMatchObject({ status: "ignored", reason: "stale_task" });
    expect(await result(hub, "cpu-2", { job_id: again.job_id, task_id: again.task_id, data: { ok: 1 } })).toMatchObject({ status: "accepted" });
    expect(await h.result()).toMatchObject({ status: "success", attempts: 2, workerId: "cpu-2" });
  });

  it("keeps a lease the worker lists by task id or by job id", async () => {
    const { hub, advance } = clockedHub({ leaseGraceMs: 1000 });
    await register(hub, "cpu-1");
    await register(hub, "cpu-2");
    await hub.submit({ type: "echo" });
    await hub.submit({ type: "echo" });
    const a = (await poll(hub, "cpu-1"))!;
    const b = (await poll(hub, "cpu-1"))!;
    for (let i = 1; i <= 4; i++) {
      advance(800);
      await heartbeat(hub, "cpu-1", { current_tasks: [a.task_id, b.job_id] }, { at: Date.now() + i * 1000 });
    }
    expect(await poll(hub, "cpu-2")).toBeNull();
    expect(await result(hub, "cpu-1", { job_id: a.job_id, task_id: a.task_id, data: {} })).toMatchObject({ status: "accepted" });
    expect(await result(hub, "cpu-1", { job_id: b.job_id, task_id: b.task_id, data: {} })).toMatchObject({ status: "accepted" });
  });

  it("reconciles the leases of a worker restarted under the same id mid-task", async () => {
    const { hub, advance } = clockedHub({ leaseGraceMs: 1000 });
    await register(hub, "cpu-1");
    const h = await hub.submit({ type: "echo" });
    const first = (await poll(hub, "cpu-1"))!;
    // The process restarts: same id, nothing running.
    await register(hub, "cpu-1", {}, { at: Date.now() + 1000 });
    advance(1500);
    await heartbeat(hub, "cpu-1", { current_tasks: [] }, { at: Date.now() + 2000 });
    const again = (await poll(hub, "cpu-1"))!;
    expect(again.job_id).toBe(first.job_id);
    expect(again.task_id).not.toBe(first.task_id);
    await result(hub, "cpu-1", { job_id: again.job_id, task_id: again.task_id, data: {} }, { at: Date.now() + 3000 });
    expect(await h.result()).toMatchObject({ status: "success", attempts: 2 });
  });

  it("tells a worker to stop an entry that is no longer its task, and ignores entries it does not know", async () => {
    const { hub, advance } = clockedHub({ leaseGraceMs: 500 });
    await register(hub, "cpu-1");
    await hub.submit({ type: "echo" });
    const t = (await poll(hub, "cpu-1"))!;
    advance(600);
    await heartbeat(hub, "cpu-1", { current_tasks: [] }, { at: Date.now() });
    advance(600);
    await heartbeat(hub, "cpu-1", { current_tasks: [] }, { at: Date.now() + 1000 });
    // The lease is gone; the worker now says it runs the old attempt and something unknown.
    const answer = await heartbeat(hub, "cpu-1", { current_tasks: [t.task_id, "job-unknown-to-this-hub"] }, { at: Date.now() + 2000 });
    expect(answer).toEqual({ status: "ok", cancel_task_ids: [t.task_id] });
  });

  it("puts a task back at once when its poll answer cannot reach the worker (client gone)", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS } });
    hubs.push(hub);
    await register(hub, "cpu-1");
    const released: string[] = [];
    hub.on("task:requeued", (e) => released.push(e.reason));
    let aborted!: () => void;
    const clientGone = new Promise<void>((r) => (aborted = r));
    // A listener whose poll answer comes after the client left: the hub hears of it and re-queues.
    const listener = new RxonListener({
      handler: async (...args) => {
        if (args[0] === "poll") {
          const task = await hub.handler(...args);
          await clientGone;
          await new Promise((r) => setTimeout(r, 20));
          return task;
        }
        return hub.handler(...args);
      },
      onUndelivered: hub.undelivered,
    });
    const server = createServer();
    listener.attach(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const h = await hub.submit({ type: "echo" });
      const controller = new AbortController();
      const pending = request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/_worker/workers/cpu-1/tasks/next?timeout=5`, {
        headers: { "X-Worker-Token": SECRETS["cpu-1"]!, "X-Worker-ID": "cpu-1" },
        signal: controller.signal,
      }).catch(() => undefined);
      await until(() => h.status === "running");
      controller.abort();
      aborted();
      await pending;
      await until(() => released.length === 1);
      expect(h.status).toBe("waiting_for_worker");
      const again = (await poll(hub, "cpu-1"))!;
      expect(again.job_id).toBe(h.jobId);
    } finally {
      await listener.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("gives a killed worker's task to another worker within three heartbeat intervals by default (45 s)", async () => {
    let now = Date.now();
    const logger = memoryLogger();
    const hub = new Hub({ auth: { tokens: SECRETS }, now: () => now, sweepIntervalMs: 3_600_000, logger });
    hubs.push(hub);
    await register(hub, "cpu-1");
    await register(hub, "cpu-2");
    const h = await hub.submit({ type: "echo" });
    await poll(hub, "cpu-1"); // cpu-1 takes it, then dies
    now += 40_000;
    await heartbeat(hub, "cpu-2", { current_tasks: [] }, { at: now });
    await hub.sweep();
    expect(h.status).toBe("running");
    now += 6_000; // 46 s after cpu-1's last sign of life
    await heartbeat(hub, "cpu-2", { current_tasks: [] }, { at: now });
    await hub.sweep();
    expect(h.status).toBe("waiting_for_worker");
    expect((await poll(hub, "cpu-2"))!.job_id).toBe(h.jobId);
    // The operator is told what the hub expected of the worker (a mismatched heartbeat interval shows).
    expect(logger.entries.filter((e) => e.message === "hub: worker gone")).toEqual([
      { level: "warn", message: "hub: worker gone", fields: { worker_id: "cpu-1", reason: "heartbeat_timeout", requeued: 1, silent_ms: 45_000, expected_heartbeat_ms: 15_000 } },
    ]);
  });
});
