/**
 * A task submitted while a poll that can run it is held on the same hub is claimed for that poll's
 * worker in the submit step itself (HubStore.submit's `handTo`): no queue entry, signal or claim.
 * These tests cover the hub's side: the poll gets the task, a poll that ends meanwhile gives it
 * back, and a store that ignores `handTo` still gets its task to the poll.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Hub, MemoryStore, type HubStore } from "../../src/hub/index.js";
import type { NewJob, QueueLimits } from "../../src/hub/store.js";
import { poll, register, result, until } from "./helpers.js";

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

/** A memory store whose submit answers through a promise, and waits for `gate` when one is set; submits are recorded. */
function gatedStore(o: { ignoreHandTo?: boolean } = {}): { store: HubStore; submits: (string | undefined)[]; gate: { wait?: Promise<void> } } {
  const inner = new MemoryStore();
  const submits: (string | undefined)[] = [];
  const gate: { wait?: Promise<void> } = {};
  const store = new Proxy(inner, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (key !== "submit") return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return async (job: NewJob, limits: QueueLimits, handTo?: string) => {
        submits.push(handTo);
        await gate.wait;
        return o.ignoreHandTo === true ? target.submit(job, limits) : target.submit(job, limits, handTo);
      };
    },
  });
  return { store, submits, gate };
}

describe("hand-off of a submitted task to a held poll", () => {
  it("answers a held poll with a task submitted on its hub, claimed in the submit step", async () => {
    const { store, submits } = gatedStore();
    const hub = new Hub({ auth: {}, store });
    hubs.push(hub);
    let claims = 0;
    hub.on("task:dispatched", () => claims++);
    await register(hub, "cpu-1", {}, { sign: false, token: null });
    const held = poll(hub, "cpu-1", { token: null, pollTimeout: 10 });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    const h = await hub.submit({ type: "echo", params: { n: 1 } });
    expect(submits).toEqual(["cpu-1"]);
    const task = await held;
    expect(task).toMatchObject({ job_id: h.jobId, task_id: `${h.jobId}_0`, type: "echo", params: { n: 1 } });
    expect(claims).toBe(1);
    expect(await store.getJob(h.jobId)).toMatchObject({ state: "running", workerId: "cpu-1", attempts: 1 });
    await result(hub, "cpu-1", { job_id: h.jobId, task_id: task!.task_id, data: { ok: true } }, { sign: false, token: null });
    expect((await h.result()).status).toBe("success");
  });

  it("gives the task back when the poll ends while it is being handed, and another worker runs it", async () => {
    const { store, gate } = gatedStore();
    const hub = new Hub({ auth: {}, store });
    hubs.push(hub);
    const requeued: string[] = [];
    hub.on("task:requeued", (e) => requeued.push(e.reason));
    await register(hub, "cpu-1", {}, { sign: false, token: null });
    await register(hub, "cpu-2", {}, { sign: false, token: null });
    const leaving = new AbortController();
    const held = poll(hub, "cpu-1", { token: null, pollTimeout: 10, signal: leaving.signal });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    let open!: () => void;
    gate.wait = new Promise((r) => (open = r));
    const submitted = hub.submit({ type: "echo" });
    // The submission took the poll (it is no longer held) and waits on the store.
    await until(async () => (await hub.stats()).waitingPolls === 0);
    leaving.abort();
    expect(await held).toBeNull();
    open();
    const h = await submitted;
    await until(async () => requeued.length === 1);
    expect(requeued).toEqual(["poll_ended"]);
    expect(await store.getJob(h.jobId)).toMatchObject({ state: "waiting_for_worker", attempts: 0, generation: 1 });
    const task = await poll(hub, "cpu-2", { token: null });
    expect(task).toMatchObject({ job_id: h.jobId, task_id: `${h.jobId}_1` });
  });

  it("still gets the task to the held poll through a store that ignores handTo", async () => {
    const { store, submits } = gatedStore({ ignoreHandTo: true });
    const hub = new Hub({ auth: {}, store });
    hubs.push(hub);
    await register(hub, "cpu-1", {}, { sign: false, token: null });
    const held = poll(hub, "cpu-1", { token: null, pollTimeout: 10 });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    const h = await hub.submit({ type: "echo" });
    expect(submits).toEqual(["cpu-1"]);
    expect(await held).toMatchObject({ job_id: h.jobId, task_id: `${h.jobId}_0` });
    expect(await store.getJob(h.jobId)).toMatchObject({ state: "running", workerId: "cpu-1", attempts: 1 });
  });

  it("gives the poll back to the queues when the submission is refused, so a task queued meanwhile still reaches it", async () => {
    const { store, gate } = gatedStore();
    const hub = new Hub({ auth: {}, store, queueLimits: { total: 0 } });
    hubs.push(hub);
    await register(hub, "cpu-1", {}, { sign: false, token: null });
    const held = poll(hub, "cpu-1", { token: null, pollTimeout: 10 });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    let open!: () => void;
    gate.wait = new Promise((r) => (open = r));
    const refused = hub.submit({ type: "echo" });
    await until(async () => (await hub.stats()).waitingPolls === 0);
    // Queued behind the hub's back while the poll was out of the held set: nobody was offered it.
    const other = store.submit({ jobId: "job-other", type: "echo", queue: "echo", params: {}, requirements: {}, priority: 0, maxRetries: 0 }, {});
    open();
    await expect(refused).rejects.toThrow(/queue/i);
    expect(await other).toMatchObject({ kind: "created" });
    expect(await held).toMatchObject({ job_id: "job-other" });
  });
});
