/**
 * Dispatch cost follows what matches, not the size of the fleet or the queue: tasks no worker of
 * a class can run do not hide the ones it can; a task is offered to one held poll per matching
 * worker profile (never walked past thousands of polls that cannot run it); a long in-process
 * drain gives timers their turn. (Figures are in bench/; these tests check the structure.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { Hub, MemoryStore, type HubStore } from "../../src/hub/index.js";
import type { ListenerContext } from "../../src/listener/types.js";
import { ctx, poll, register, result, skill } from "./helpers.js";

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

const GPU = { devices: [{ type: "gpu", id: "g0", properties: { vram_gb: 24 } }] };
const CPU = { properties: { cpu_cores: 4 } };

/**
 * A memory store that counts the calls of each method; the methods named in `async` answer
 * through a promise, as a networked store (Redis) does.
 */
function countingStore(async: readonly string[] = [], remote = false): { store: HubStore; calls: Map<string, number> } {
  const inner = new MemoryStore();
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, key) {
      // `remote`: not in this process as far as the hub knows, so it treats it as a shared store.
      if (key === "inProcess") return !remote;
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        return async.includes(String(key)) ? Promise.resolve(out) : out;
      };
    },
  });
  return { store, calls };
}

describe("dispatch cost", () => {
  it("does not starve a runnable task behind many tasks of the same skill that the worker cannot run", async () => {
    const hub = new Hub({ auth: {} });
    hubs.push(hub);
    for (let i = 0; i < 200; i++) await hub.submit({ type: "echo", requirements: { resources: { devices: [{ type: "gpu" }] } } });
    const cpuTask = await hub.submit({ type: "echo", params: { cpu: true } });
    await register(hub, "cpu-1", { resources: CPU }, { sign: false, token: null });
    const task = (await poll(hub, "cpu-1", { token: null }))!;
    expect(task.job_id).toBe(cpuTask.jobId);
  });

  it("does not starve a task behind many whose params only another worker's contract accepts", async () => {
    const hub = new Hub({ auth: {} });
    hubs.push(hub);
    const takesA = skill("echo", { version: "1.0.0", input_schema: { type: "object", properties: { a: { type: "string" } }, required: ["a"] } });
    const takesB = skill("echo", { version: "2.0.0", input_schema: { type: "object", properties: { b: { type: "number" } }, required: ["b"] } });
    await register(hub, "w-a", { supported_skills: [takesA] }, { sign: false, token: null });
    await register(hub, "w-b", { supported_skills: [takesB] }, { sign: false, token: null });
    for (let i = 0; i < 200; i++) await hub.submit({ type: "echo", params: { a: `x${i}` } });
    const forB = await hub.submit({ type: "echo", params: { b: 1 } });
    const task = (await poll(hub, "w-b", { token: null }))!;
    expect(task.job_id).toBe(forB.jobId);
    expect((await poll(hub, "w-a", { token: null }))!.params).toEqual({ a: "x0" });
  });

  it("offers a queued task only to parked polls whose profile can run its class, for classes seen before and after they parked", async () => {
    const hub = new Hub({ auth: {} });
    hubs.push(hub);
    const gpuOnly = { resources: { devices: [{ type: "gpu" }] } };
    // A GPU class known before anyone parks, then CPU workers of distinct profiles parked.
    await hub.submit({ type: "echo", requirements: gpuOnly, params: { first: true } });
    await register(hub, "gpu-1", { resources: GPU }, { sign: false, token: null });
    expect((await poll(hub, "gpu-1", { token: null }))!.params).toEqual({ first: true });
    const cpu = Array.from({ length: 20 }, (_, i) => `cpu-${i}`);
    for (const id of cpu) await register(hub, id, { resources: { properties: { cpu_cores: 4, host: id } } }, { sign: false, token: null });
    const cpuPolls = cpu.map((id) => poll(hub, id, { token: null, pollTimeout: 30 }));
    const gpuPoll = poll(hub, "gpu-1", { token: null, pollTimeout: 30 });
    // The GPU task goes to the GPU poll; the CPU polls stay parked.
    const g = await hub.submit({ type: "echo", requirements: gpuOnly, params: { gpu: 1 } });
    expect((await gpuPoll)!.job_id).toBe(g.jobId);
    expect((await hub.stats()).waitingPolls).toBe(cpu.length);
    // A class first seen now, that one parked profile alone can run, reaches that poll.
    const only7 = await hub.submit({ type: "echo", requirements: { resources: { properties: { host: "cpu-7" } } }, params: { only7: true } });
    expect((await cpuPolls[7])!.job_id).toBe(only7.jobId);
    expect((await hub.stats()).waitingPolls).toBe(cpu.length - 1);
    // A task any CPU worker can run reaches one of the others.
    const plain = await hub.submit({ type: "echo", params: { plain: true } });
    const others = cpuPolls.filter((_, i) => i !== 7);
    expect((await Promise.race(others))!.job_id).toBe(plain.jobId);
    await hub.close();
    expect((await Promise.all(others)).filter((t) => t !== null)).toHaveLength(1);
  });

  it("keys worker profiles and requirement classes holding integers beyond 2^53 (kept exact as bigint)", async () => {
    const hub = new Hub({ auth: {} });
    hubs.push(hub);
    const big = 2n ** 70n;
    await register(hub, "cpu-1", { resources: { properties: { cpu_cores: 4, serial: big } } }, { sign: false, token: null });
    const h = await hub.submit({ type: "echo", requirements: { extra: { rack: big } } });
    const plain = await hub.submit({ type: "echo" });
    expect((await poll(hub, "cpu-1", { token: null }))!.job_id).toBe(plain.jobId);
    expect(h.status).toBe("waiting_for_worker");
  });

  it("offers a GPU task to no held poll of a thousand CPU workers (one class check, no claims)", async () => {
    const { store, calls } = countingStore();
    const hub = new Hub({ auth: {}, store });
    hubs.push(hub);
    const controller = new AbortController();
    const h = hub.handler as (a: string, p: unknown, c: ListenerContext) => Promise<unknown>;
    const held: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      const id = `cpu-${i}`;
      await register(hub, id, { resources: CPU, supported_skills: [skill("echo")] }, { sign: false, token: null });
      held.push(h("poll", id, ctx(id, null, { token: null, pollTimeout: 30, signal: controller.signal })));
    }
    await new Promise((r) => setImmediate(r));
    expect((await hub.stats()).waitingPolls).toBe(1000);
    calls.clear();
    await hub.submit({ type: "echo", requirements: { resources: { devices: [{ type: "gpu" }] } } });
    expect(calls.get("claim") ?? 0).toBe(0);
    expect(calls.get("claimBest") ?? 0).toBe(0);
    expect(calls.get("getJob") ?? 0).toBe(0);
    expect(calls.get("peek") ?? 0).toBe(0);
    // A CPU task is handed to exactly one of them in the submit step itself: no claim.
    calls.clear();
    const cpu = await hub.submit({ type: "echo" });
    expect(calls.get("submit")).toBe(1);
    expect(calls.get("claimBest") ?? 0).toBe(0);
    expect(calls.get("claim") ?? 0).toBe(0);
    expect((await hub.stats()).waitingPolls).toBe(999);
    expect((await store.getJob(cpu.jobId))?.state).toBe("running");
    controller.abort();
    await Promise.all(held);
  });

  it("reads a queued job once per worker profile to check its params, however many polls see it at the head", async () => {
    // getJob and peek answer through promises, so the polls' claims run concurrently, as on Redis.
    const { store, calls } = countingStore(["getJob", "peek"]);
    const hub = new Hub({ auth: {}, store });
    const submitter = new Hub({ auth: {}, store });
    hubs.push(hub, submitter);
    // Submitted before any worker brought a contract: no verdict on the params travels with these
    // tasks, so they are checked one by one. Those submitted on another hub sharing the store have
    // to be read; those submitted on the polling hub itself have their params at hand.
    const theirs = new Set<string>();
    for (let n = 0; n < 8; n++) theirs.add((await submitter.submit({ type: "echo", params: { n } })).jobId);
    const mine = new Set<string>();
    for (let n = 0; n < 8; n++) mine.add((await hub.submit({ type: "echo", params: { n } })).jobId);
    const contract = skill("echo", { input_schema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] } });
    const workers = Array.from({ length: 8 }, (_, i) => `cpu-${i}`);
    for (const id of workers) await register(hub, id, { resources: CPU, supported_skills: [contract] }, { sign: false, token: null });
    calls.clear();
    const tasks = await Promise.all(workers.map((id) => poll(hub, id, { token: null })));
    // Every poll got a task of its own; the eight jobs were each read once, not once per poll.
    expect(new Set(tasks.map((t) => t?.job_id))).toEqual(theirs);
    expect(calls.get("getJob")).toBe(8);

    calls.clear();
    const more = await Promise.all(workers.map((id) => poll(hub, id, { token: null })));
    expect(new Set(more.map((t) => t?.job_id))).toEqual(mine);
    expect(calls.get("getJob") ?? 0).toBe(0);
  });

  it("takes a task whose params a known contract accepted at submission in one claim, reading nothing, whichever hub submitted it", async () => {
    const { store, calls } = countingStore(["getJob", "peek", "claimBest", "claim", "queuesOf"]);
    const hub = new Hub({ auth: {}, store });
    const submitter = new Hub({ auth: {}, store });
    hubs.push(hub, submitter);
    const contract = skill("echo", { input_schema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] } });
    const workers = Array.from({ length: 4 }, (_, i) => `cpu-${i}`);
    for (const id of workers) await register(hub, id, { resources: CPU, supported_skills: [contract] }, { sign: false, token: null });
    const jobs = new Set<string>();
    for (let n = 0; n < 4; n++) jobs.add((await submitter.submit({ type: "echo", params: { n } })).jobId);
    // A poll that learns the queues once; the others then claim in one step each.
    const learned = await poll(hub, "cpu-0", { token: null });
    jobs.delete(String(learned!.job_id));
    calls.clear();
    const tasks = await Promise.all(workers.slice(1).map((id) => poll(hub, id, { token: null })));
    expect(new Set(tasks.map((t) => t?.job_id))).toEqual(jobs);
    expect(calls.get("claimBest")).toBe(3);
    for (const read of ["getJob", "peek", "claim", "queuesOf"]) expect(calls.get(read) ?? 0).toBe(0);
  });

  it("forgets emptied queues past 64 of a skill, so claims go back to one step", async () => {
    const { store, calls } = countingStore();
    const hub = new Hub({ auth: {}, store });
    hubs.push(hub);
    await register(hub, "cpu-1", { resources: CPU }, { sign: false, token: null });
    // Seventy requirement classes come and go (cancelled while queued).
    for (let i = 0; i < 70; i++) await (await hub.submit({ type: "echo", requirements: { extra: { rack: i } } })).cancel();
    const a = await hub.submit({ type: "echo" });
    calls.clear();
    expect((await poll(hub, "cpu-1", { token: null }))!.job_id).toBe(a.jobId);
    // Too many queues to name: this poll looked at the queues, and forgot the emptied ones.
    expect(calls.get("queuesOf")).toBe(1);
    await result(hub, "cpu-1", { job_id: a.jobId, task_id: `${a.jobId}_0`, data: {} }, { sign: false, token: null });
    const b = await hub.submit({ type: "echo" });
    calls.clear();
    expect((await poll(hub, "cpu-1", { token: null }))!.job_id).toBe(b.jobId);
    expect(calls.get("claimBest")).toBe(1);
    expect(calls.get("queuesOf") ?? 0).toBe(0);
  });

  it("checks a result against the contract it was handed out under without reading the store; elsewhere from the store", async () => {
    const { store, calls } = countingStore();
    const hub = new Hub({ auth: {}, store });
    const other = new Hub({ auth: {}, store });
    hubs.push(hub, other);
    const contract = skill("echo", { output_schema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] } });
    await register(hub, "cpu-1", { resources: CPU, supported_skills: [contract] }, { sign: false, token: null });
    const bad = await hub.submit({ type: "echo", params: {} });
    const task = await poll(hub, "cpu-1", { token: null });
    calls.clear();
    await result(hub, "cpu-1", { job_id: task!.job_id, task_id: task!.task_id, data: { n: "not a number" } }, { sign: false, token: null });
    expect(await bad.result()).toMatchObject({ status: "failure", error: { code: "CONTRACT_VIOLATION_ERROR" } });
    expect(calls.get("getWorker") ?? 0).toBe(0);
    expect(calls.get("getJob") ?? 0).toBe(0);

    // The result reaches a hub that did not hand the task out: the contract comes from the store.
    const elsewhere = await hub.submit({ type: "echo", params: {} });
    const next = await poll(hub, "cpu-1", { token: null });
    calls.clear();
    await result(other, "cpu-1", { job_id: next!.job_id, task_id: next!.task_id, data: { n: "still not" } }, { sign: false, token: null });
    expect(await elsewhere.result()).toMatchObject({ status: "failure", error: { code: "CONTRACT_VIOLATION_ERROR" } });
    expect(calls.get("getWorker")).toBe(1);
  });

  it("reads a worker's record once for many polls with a store in another process, and sees a drain at once", async () => {
    const { store, calls } = countingStore(["getWorker", "getJob", "peek", "queuesOf", "claim"], true);
    const hub = new Hub({ auth: {}, store });
    const other = new Hub({ auth: {}, store });
    hubs.push(hub, other);
    await register(hub, "cpu-1", { resources: CPU }, { sign: false, token: null });
    calls.clear();
    for (let n = 0; n < 5; n++) {
      await hub.submit({ type: "echo", params: { n } });
      const task = await poll(hub, "cpu-1", { token: null });
      expect(task?.params).toEqual({ n });
    }
    expect(calls.get("getWorker")).toBe(1);
    // Drained through another hub: its signal makes this hub read the record again.
    await other.drainWorker("cpu-1");
    await hub.submit({ type: "echo", params: { n: 5 } });
    expect(await poll(hub, "cpu-1", { token: null, pollTimeout: 0.05 })).toBeNull();
    expect(calls.get("getWorker")).toBe(2);
  });

  it("lets timers run during a long in-process drain", async () => {
    const hub = new Hub({ auth: {} });
    hubs.push(hub);
    await register(hub, "cpu-1", {}, { sign: false, token: null });
    const total = 3000;
    for (let i = 0; i < total; i++) await hub.submit({ type: "echo", params: { i } });
    let doneAtTimer = -1;
    let done = 0;
    setTimeout(() => (doneAtTimer = done), 0);
    for (;;) {
      const task = await poll(hub, "cpu-1", { token: null, pollTimeout: 0.01 });
      if (task === null) break;
      await result(hub, "cpu-1", { job_id: task.job_id, task_id: task.task_id, data: {} }, { sign: false, token: null });
      done++;
    }
    expect(done).toBe(total);
    expect(doneAtTimer).toBeGreaterThanOrEqual(0);
    expect(doneAtTimer).toBeLessThan(total);
  });
});
