/**
 * Dispatch under concurrency: many parked polls and many submissions at once, with the in-memory
 * store (answers synchronously) and with stores that answer asynchronously (as a remote one does).
 */
import { afterEach, describe, expect, it } from "vitest";
import { Hub, MemoryStore, type HubStore } from "../../src/hub/index.js";
import type { QueueEntry } from "../../src/hub/store.js";
import { poll, register, result, until } from "./helpers.js";

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

/** Every store answer arrives a macrotask later, so concurrent dispatch steps interleave. */
function laggingStore(): HubStore {
  const inner = new MemoryStore();
  return new Proxy(inner, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      // Subscriptions and configuration are local calls, not store round trips.
      if (key === "subscribe" || key === "configure") return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => new Promise((resolve) => setImmediate(() => resolve((value as (...a: unknown[]) => unknown).apply(target, args))));
    },
  });
}

/**
 * `claimBest` answers with what the store held when asked, but only once `gate` opens (none set:
 * a macrotask later); calls are counted.
 */
function gatedClaimStore(): { store: HubStore; claims: () => number; gate: { wait?: Promise<void> } } {
  const inner = new MemoryStore();
  let calls = 0;
  const gate: { wait?: Promise<void> } = {};
  const store = new Proxy(inner, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (key !== "claimBest") return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return async (...args: Parameters<MemoryStore["claimBest"]>) => {
        calls++;
        const answer = target.claimBest(...args);
        await (gate.wait ?? new Promise((r) => setImmediate(r)));
        return answer;
      };
    },
  });
  return { store, claims: () => calls, gate };
}

/** Queue reads answer with what was queued when asked, but only after a while. */
function slowPeekStore(): HubStore {
  const inner = new MemoryStore();
  return new Proxy(inner, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value === "function" && key !== "peek") return (value as (...a: unknown[]) => unknown).bind(target);
      if (key !== "peek") return value;
      return (queue: string, limit: number): Promise<QueueEntry[]> => {
        const snapshot = target.peek(queue, limit);
        return new Promise((resolve) => setTimeout(() => resolve(snapshot), 50));
      };
    },
  });
}

async function fleet(store: HubStore | undefined, workers: number, tasks: number): Promise<{ hub: Hub; requeued: number; nulls: number }> {
  const tokens = Object.fromEntries(Array.from({ length: workers }, (_, i) => [`w${i}`, `secret-${i}`]));
  const hub = new Hub({ auth: { tokens }, ...(store ? { store } : {}) });
  hubs.push(hub);
  let requeued = 0;
  hub.on("task:requeued", () => requeued++);
  for (const [id, token] of Object.entries(tokens)) await register(hub, id, {}, { token, sign: token });
  let done = false;
  let nulls = 0;
  const loops = Object.entries(tokens).map(async ([id, token]) => {
    while (!done) {
      const task = await poll(hub, id, { token, pollTimeout: 0.5 });
      if (task === null) {
        nulls++;
        continue;
      }
      await result(hub, id, { job_id: task.job_id, task_id: task.task_id, data: { n: (task.params as { n: number }).n } }, { token, sign: token });
    }
  });
  // Let every worker park first, then submit in bursts.
  await new Promise((r) => setTimeout(r, 20));
  const handles = await Promise.all(Array.from({ length: tasks }, (_, n) => hub.submit({ type: "echo", params: { n } })));
  const outcomes = await Promise.all(handles.map((h) => h.result()));
  done = true;
  await Promise.all(loops);
  for (const [n, o] of outcomes.entries()) {
    expect(o.status).toBe("success");
    expect(o.data).toEqual({ n });
    expect(o.attempts).toBe(1);
  }
  expect((await hub.stats()).dispatched).toBe(tasks);
  return { hub, requeued, nulls };
}

describe("hub dispatch under concurrency", () => {
  it("hands each of many simultaneous tasks to exactly one of many parked polls (in-memory store)", async () => {
    const { requeued } = await fleet(undefined, 32, 400);
    expect(requeued).toBe(0);
  });

  it("does the same with a store that answers asynchronously", async () => {
    const { requeued } = await fleet(laggingStore(), 16, 150);
    expect(requeued).toBe(0);
  });

  it("a poll held after an asynchronous claim found nothing claims no more while nothing is queued", async () => {
    const { store, claims } = gatedClaimStore();
    const hub = new Hub({ auth: { tokens: { "cpu-1": "s-cpu-1" } }, store });
    hubs.push(hub);
    await register(hub, "cpu-1");
    const pending = poll(hub, "cpu-1", { pollTimeout: 5 });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    // One look at the queues, then held: the store is not asked again and again for nothing.
    expect(claims()).toBe(1);
    const h = await hub.submit({ type: "echo" });
    expect((await pending)?.job_id).toBe(h.jobId);
  });

  it("a task queued on another hub while a poll's claim is on its way to the store still reaches that poll", async () => {
    const { store, gate } = gatedClaimStore();
    // No sweep (and so no re-check of held polls) within the test: only the look after parking can find the task.
    const hub = new Hub({ auth: { tokens: { "cpu-1": "s-cpu-1" } }, store, sweepIntervalMs: 60_000 });
    const other = new Hub({ auth: {}, store, sweepIntervalMs: 60_000 });
    hubs.push(hub, other);
    await register(hub, "cpu-1");
    // A first task teaches the polling hub its queue, so a later signal for it is offered at once.
    const first = await other.submit({ type: "echo" });
    const got = await poll(hub, "cpu-1", { pollTimeout: 5 });
    expect(got?.job_id).toBe(first.jobId);
    await result(hub, "cpu-1", { job_id: first.jobId, task_id: got!.task_id, data: {} });
    let open!: () => void;
    gate.wait = new Promise((r) => (open = r));
    // The claim has read an empty queue; its answer is held back while the task is queued.
    const pending = poll(hub, "cpu-1", { pollTimeout: 5 });
    await new Promise((r) => setTimeout(r, 10));
    const h = await other.submit({ type: "echo" });
    delete gate.wait;
    open();
    expect((await pending)?.job_id).toBe(h.jobId);
  });

  it("a poll that parks just after a task was queued still gets it (no lost wake-up)", async () => {
    const hub = new Hub({ auth: { tokens: { "cpu-1": "s-cpu-1" } }, store: slowPeekStore() });
    hubs.push(hub);
    await register(hub, "cpu-1");
    // The poll reads an empty queue (slowly); the task is queued while it reads, finds no parked
    // poll to wake, and the poll then parks for 5 s unless it looks at the queue again.
    const pending = poll(hub, "cpu-1", { pollTimeout: 5 });
    await new Promise((r) => setTimeout(r, 10));
    const h = await hub.submit({ type: "echo", params: { late: true } });
    const task = await pending;
    expect(task?.job_id).toBe(h.jobId);
  });
});
