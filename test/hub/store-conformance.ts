/**
 * One conformance suite for every HubStore: each method's contract as its JSDoc in
 * src/hub/store.ts states it. Run against MemoryStore (memory-store.test.ts) and RedisStore
 * (redis-store.test.ts). Time passes through the harness: an injected clock for the memory store,
 * short real waits for Redis; tests never assert on how long anything took.
 */
import { describe, expect, test } from "vitest";
import { randomUUID } from "node:crypto";
import type { HubSignal, HubStore, JobRecord, NewJob, Settlement, StorePolicy, WorkerRecord } from "../../src/hub/store.js";

/** One fresh, empty store and its clock. */
export interface StoreHarness {
  readonly store: HubStore;
  /** Lets at least `ms` pass on the store's clock. */
  advance(ms: number): Promise<void>;
  /** Releases the store. */
  close(): Promise<void>;
}

const POLICY: StorePolicy = { retentionMs: 600_000, maxRetained: 100_000, cancelGraceMs: 600_000 };
const OK: Settlement = { status: "success", data: { ok: true }, transition: "finished" };
const TRANSIENT: Settlement = { status: "failure", error: { code: "TRANSIENT_ERROR", message: "try again" }, retry: true, transition: "retry" };

/** A job as the hub would hand it to submit. */
export function newJob(o: Partial<NewJob> = {}): NewJob {
  return {
    jobId: o.jobId ?? `job-${randomUUID()}`,
    type: o.type ?? "echo",
    queue: o.queue ?? o.type ?? "echo",
    params: o.params ?? { n: 1 },
    requirements: o.requirements ?? {},
    priority: o.priority ?? 0,
    maxRetries: o.maxRetries ?? 2,
    ...(o.deadline !== undefined ? { deadline: o.deadline } : {}),
    ...(o.owner !== undefined ? { owner: o.owner } : {}),
    ...(o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey } : {}),
    ...(o.metadata !== undefined ? { metadata: o.metadata } : {}),
    ...(o.trace !== undefined ? { trace: o.trace } : {}),
    ...(o.parent !== undefined ? { parent: o.parent } : {}),
  };
}

/** A worker record as the hub would register it. */
export function workerRecord(id: string, now: number, ttlMs = 600_000, o: Partial<WorkerRecord> = {}): WorkerRecord {
  return { id, status: "idle", workerType: "cpu", skills: [{ name: "echo" }], registeredAt: now, lastSeenAt: now, expiresAt: now + ttlMs, ...o };
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Signals heard by a store's subscriber, with a wait that gives up after a bound. */
async function listen(store: HubStore): Promise<{ signals: HubSignal[]; waitFor(pred: (s: HubSignal) => boolean): Promise<HubSignal>; stop(): void }> {
  const signals: HubSignal[] = [];
  const stop = store.subscribe((s) => signals.push(s));
  const probe = `probe-${randomUUID()}`;
  // Publish probes until one comes back: the subscription is live from then on.
  for (let i = 0; i < 200 && !signals.some((s) => s.type === "worker" && s.workerId === probe); i++) {
    await store.publish({ type: "worker", workerId: probe });
    await sleep(i === 0 ? 0 : 10);
  }
  expect(signals.some((s) => s.type === "worker" && s.workerId === probe)).toBe(true);
  signals.length = 0;
  return {
    signals,
    stop,
    async waitFor(pred) {
      for (let i = 0; i < 300; i++) {
        const hit = signals.find(pred);
        if (hit !== undefined) return hit;
        await sleep(10);
      }
      throw new Error(`signal not heard; heard ${JSON.stringify(signals)}`);
    },
  };
}

/** Defines the suite for one store kind. */
export function storeConformance(label: string, make: () => Promise<StoreHarness>): void {
  const withStore = (name: string, body: (h: StoreHarness, store: HubStore) => Promise<void>): void => {
    test(name, async () => {
      const h = await make();
      h.store.configure(POLICY);
      try {
        await body(h, h.store);
      } finally {
        await h.close();
      }
    });
  };

  /** Submits `job` and answers the created record. */
  const submit = async (store: HubStore, o: Partial<NewJob> = {}): Promise<JobRecord> => {
    const v = await store.submit(newJob(o), {});
    if (v.kind !== "created") throw new Error(`not created: ${JSON.stringify(v)}`);
    return v.job;
  };
  const registerWorker = async (store: HubStore, id: string, ttlMs?: number, o?: Partial<WorkerRecord>): Promise<void> => {
    await store.register(workerRecord(id, await store.now(), ttlMs, o), []);
  };
  const claimed = async (store: HubStore, workerId: string, jobId: string): Promise<JobRecord> => {
    const j = await store.claim(workerId, [jobId]);
    if (j === null) throw new Error("claim failed");
    return j;
  };

  describe(`${label}: submit`, () => {
    withStore("records and queues a job with store-assigned ids, order and time", async (_h, store) => {
      const before = await store.now();
      const params = { empty: [], obj: {}, nested: { a: [1, { b: [] }] }, big: 9007199254740991, text: "é\u2028😀", n: null };
      const a = await submit(store, { params, metadata: { tags: [] }, owner: "alice", trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }, parent: { jobId: "p", depth: 1 } });
      const b = await submit(store);
      expect(a).toMatchObject({ taskId: `${a.jobId}_0`, generation: 0, attempts: 0, state: "waiting_for_worker", type: "echo", queue: "echo", priority: 0, maxRetries: 2 });
      expect(a.submittedAt).toBeGreaterThanOrEqual(before);
      expect(b.seq).toBeGreaterThan(a.seq);
      const got = await store.getJob(a.jobId);
      expect(got).toEqual(a);
      expect(got!.params).toEqual(params);
      expect(got!.metadata).toEqual({ tags: [] });
      expect(got!.owner).toBe("alice");
      expect(got!.parent).toEqual({ jobId: "p", depth: 1 });
      expect(await store.getJob("nope")).toBeUndefined();
      expect(await store.queueLength()).toBe(2);
      expect(await store.queueDepths()).toEqual({ echo: 2 });
      const queues = await store.queuesOf("echo");
      expect(queues).toEqual([{ name: "echo", skill: "echo", requirements: {}, length: 2 }]);
      expect(await store.queuesOf("other")).toEqual([]);
    });

    withStore("keeps queues per requirement class and orders by priority, then FIFO", async (_h, store) => {
      const low1 = await submit(store, { priority: 1 });
      const high = await submit(store, { priority: 5 });
      const low2 = await submit(store, { priority: 1 });
      const neg = await submit(store, { priority: -2 });
      const gpu = await submit(store, { queue: "echo|gpu", requirements: { devices: [{ type: "gpu" }] } as never });
      const peek = await store.peek("echo", 10);
      expect(peek.map((e) => e.jobId)).toEqual([high.jobId, low1.jobId, low2.jobId, neg.jobId]);
      expect(peek[0]).toEqual({ jobId: high.jobId, priority: 5, seq: high.seq });
      expect((await store.peek("echo", 2)).length).toBe(2);
      expect(await store.peek("echo|gpu", 10)).toEqual([{ jobId: gpu.jobId, priority: 0, seq: gpu.seq }]);
      const queues = [...(await store.queuesOf("echo"))].sort((x, y) => x.name.localeCompare(y.name));
      expect(queues).toEqual([
        { name: "echo", skill: "echo", requirements: {}, length: 4 },
        { name: "echo|gpu", skill: "echo", requirements: { devices: [{ type: "gpu" }] }, length: 1 },
      ]);
      // A claimed queue's last task takes the queue away.
      await claimed(store, "w1", gpu.jobId);
      expect((await store.queuesOf("echo")).map((q) => q.name)).toEqual(["echo"]);
      expect(await store.peek("echo|gpu", 10)).toEqual([]);
      expect(await store.queueDepths()).toEqual({ echo: 4 });
    });

    withStore("refuses past the total, per-skill and per-owner limits, counting only waiting tasks", async (_h, store) => {
      await submit(store, { type: "a", owner: "o1" });
      await submit(store, { type: "a", owner: "o2" });
      expect(await store.submit(newJob({ type: "b" }), { total: 2 })).toEqual({ kind: "refused", scope: "total", limit: 2 });
      expect(await store.submit(newJob({ type: "a" }), { perSkill: 2 })).toEqual({ kind: "refused", scope: "skill", limit: 2 });
      expect((await store.submit(newJob({ type: "b" }), { perSkill: 2 })).kind).toBe("created");
      expect(await store.submit(newJob({ type: "c", owner: "o1" }), { perOwner: 1 })).toEqual({ kind: "refused", scope: "owner", limit: 1 });
      expect((await store.submit(newJob({ type: "c", owner: "o3" }), { perOwner: 1 })).kind).toBe("created");
      expect((await store.submit(newJob({ type: "c" }), { perOwner: 1 })).kind).toBe("created");
      expect(await store.queueLength()).toBe(5);
      // A refused submission stored nothing; a claimed task no longer counts.
      const first = (await store.peek("a", 1))[0]!;
      await claimed(store, "w", first.jobId);
      expect((await store.submit(newJob({ type: "a" }), { perSkill: 2 })).kind).toBe("created");
      const o1 = await store.listJobs({ owner: "o1" }, 10);
      expect(o1.jobs.length).toBe(1);
    });

    withStore("refuses a submission that would open a requirement class past classesPerSkill; the classes that exist still take tasks", async (_h, store) => {
      const limits = { classesPerSkill: 2 };
      const cls = (n: number): Partial<NewJob> => ({ type: "a", queue: `a|c${n}`, requirements: { extra: { c: n } } as never });
      expect((await store.submit(newJob(cls(1)), limits)).kind).toBe("created");
      expect((await store.submit(newJob(cls(2)), limits)).kind).toBe("created");
      expect(await store.submit(newJob(cls(3)), limits)).toEqual({ kind: "refused", scope: "classes", limit: 2 });
      // Another task of an existing class, and a class of another skill, go in.
      expect((await store.submit(newJob(cls(1)), limits)).kind).toBe("created");
      expect((await store.submit(newJob({ type: "b", queue: "b|c3" }), limits)).kind).toBe("created");
      // A class whose last task left makes room.
      const head = (await store.peek("a|c2", 1))[0]!;
      await claimed(store, "w", head.jobId);
      expect((await store.submit(newJob(cls(3)), limits)).kind).toBe("created");
      expect((await store.queuesOf("a")).map((q) => q.name).sort()).toEqual(["a|c1", "a|c3"]);
    });

    withStore("runningCount counts each running job once, from its claim to its end or its return to the queue", async (_h, store) => {
      await registerWorker(store, "w1");
      const [a, b, c] = [await submit(store), await submit(store), await submit(store)];
      expect(await store.runningCount()).toBe(0);
      const ja = await claimed(store, "w1", a.jobId);
      const jb = await claimed(store, "w1", b.jobId);
      await claimed(store, "w1", c.jobId);
      expect(await store.runningCount()).toBe(3);
      await store.settle("w1", ja.jobId, ja.taskId, { status: "success", transition: "success_transition" });
      // A result sent again changes nothing.
      await store.settle("w1", ja.jobId, ja.taskId, { status: "success", transition: "success_transition" });
      expect(await store.runningCount()).toBe(2);
      await store.release(jb.jobId, jb.taskId);
      expect(await store.runningCount()).toBe(1);
      await store.removeWorker("w1");
      expect(await store.runningCount()).toBe(0);
      expect(await store.queueLength()).toBe(2);
    });

    withStore("answers the existing job for a seen idempotency key of the same owner", async (_h, store) => {
      const first = await store.submit(newJob({ owner: "alice", idempotencyKey: "k1" }), {});
      expect(first.kind).toBe("created");
      const again = await store.submit(newJob({ owner: "alice", idempotencyKey: "k1" }), { total: 0 });
      expect(again.kind).toBe("existing");
      expect((again as { job: JobRecord }).job.jobId).toBe((first as { job: JobRecord }).job.jobId);
      expect(await store.queueLength()).toBe(1);
      const other = await store.submit(newJob({ owner: "bob", idempotencyKey: "k1" }), {});
      expect(other.kind).toBe("created");
      const anon = await store.submit(newJob({ idempotencyKey: "k1" }), {});
      expect(anon.kind).toBe("created");
      expect(await store.queueLength()).toBe(3);
    });

    withStore("a job id already known answers that job and queues nothing more", async (_h, store) => {
      const a = await submit(store, { priority: 1 });
      const again = await store.submit(newJob({ jobId: a.jobId, priority: 5, type: "other" }), {});
      expect(again).toMatchObject({ kind: "existing", job: { jobId: a.jobId, priority: 1, type: "echo" } });
      expect((await store.reject(newJob({ jobId: a.jobId }), { code: "INVALID_INPUT_ERROR", message: "x" })).kind).toBe("existing");
      expect(await store.queueLength()).toBe(1);
      expect((await store.peek("echo", 10)).map((e) => e.jobId)).toEqual([a.jobId]);
      expect(await store.queuesOf("other")).toEqual([]);
      expect((await store.listJobs({}, 10)).jobs.map((j) => j.jobId)).toEqual([a.jobId]);
    });

    withStore("reject records a job ended at once, idempotently", async (_h, store) => {
      const s = await listen(store);
      const error = { code: "INVALID_INPUT_ERROR", message: "bad params" };
      const v = await store.reject(newJob({ owner: "o", idempotencyKey: "r1" }), error);
      expect(v.kind).toBe("created");
      const job = (v as { job: JobRecord }).job;
      expect(job).toMatchObject({ state: "failed", status: "failure", error, endReason: "rejected" });
      expect(job.finishedAt).toBeDefined();
      expect(await store.queueLength()).toBe(0);
      expect((await store.reject(newJob({ owner: "o", idempotencyKey: "r1" }), error)).kind).toBe("existing");
      expect((await store.submit(newJob({ owner: "o", idempotencyKey: "r1" }), {})).kind).toBe("existing");
      await s.waitFor((x) => x.type === "ended" && x.jobId === job.jobId);
      s.stop();
    });
  });

  describe(`${label}: claim and release`, () => {
    withStore("claims the first still-waiting candidate and leases it", async (_h, store) => {
      const a = await submit(store);
      const b = await submit(store);
      const c = await submit(store);
      await store.cancel(a.jobId);
      expect(await store.claim("w1", [])).toBeNull();
      const got = await store.claim("w1", ["missing", a.jobId, b.jobId, c.jobId]);
      expect(got).toMatchObject({ jobId: b.jobId, state: "running", workerId: "w1", attempts: 1, taskId: `${b.jobId}_0` });
      expect(got!.dispatchedAt).toBeGreaterThanOrEqual(got!.submittedAt);
      expect(got!.params).toEqual({ n: 1 });
      expect(await store.claim("w2", [b.jobId])).toBeNull();
      expect((await store.peek("echo", 10)).map((e) => e.jobId)).toEqual([c.jobId]);
      expect(await store.queueLength()).toBe(1);
      expect((await store.listJobs({ workerId: "w1" }, 10)).jobs.map((j) => j.jobId)).toEqual([b.jobId]);
      expect((await store.listJobs({ state: "running" }, 10)).jobs.map((j) => j.jobId)).toEqual([b.jobId]);
    });

    withStore("only one of concurrent claimers wins each job", async (_h, store) => {
      const jobs = await Promise.all(Array.from({ length: 10 }, () => submit(store)));
      const ids = jobs.map((j) => j.jobId);
      const wins = await Promise.all(Array.from({ length: 16 }, (_, i) => store.claim(`w${i}`, ids)));
      const won = wins.filter((w): w is JobRecord => w !== null).map((w) => w.jobId);
      expect(won.length).toBe(10);
      expect(new Set(won).size).toBe(10);
      expect(await store.queueLength()).toBe(0);
    });

    withStore("claimBest takes the best head of the runnable queues: priority first, then age", async (_h, store) => {
      const old = await submit(store, { queue: "echo:a", priority: 0 });
      const urgent = await submit(store, { queue: "echo:b", priority: 5 });
      const urgentLater = await submit(store, { queue: "echo:a", priority: 5 });
      await submit(store, { queue: "echo:c", priority: 9 });
      // echo:c is skipped: its urgent task is not for this worker.
      const first = await store.claimBest("w1", ["echo"], ["echo:a", "echo:b"], ["echo:c"]);
      expect(first).toMatchObject({ kind: "claimed", job: { jobId: urgent.jobId, state: "running", workerId: "w1", attempts: 1, taskId: `${urgent.jobId}_0` } });
      expect(await store.claimBest("w1", ["echo"], ["echo:a", "echo:b"], ["echo:c"])).toMatchObject({ kind: "claimed", job: { jobId: urgentLater.jobId } });
      expect(await store.claimBest("w2", ["echo"], ["echo:a", "echo:b"], ["echo:c"])).toMatchObject({ kind: "claimed", job: { jobId: old.jobId, workerId: "w2" } });
      expect(await store.claimBest("w2", ["echo"], ["echo:a", "echo:b"], ["echo:c"])).toEqual({ kind: "none" });
      expect(await store.claimBest("w2", ["other"], [], [])).toEqual({ kind: "none" });
      expect(await store.queueLength()).toBe(1);
      expect((await store.listJobs({ workerId: "w1" }, 10)).jobs.map((j) => j.jobId).sort()).toEqual([urgent.jobId, urgentLater.jobId].sort());
    });

    withStore("claimBest claims nothing and answers the queues when one holding tasks is not named", async (_h, store) => {
      const a = await submit(store, { queue: "echo:a" });
      const b = await submit(store, { queue: "echo:b", requirements: { extra: { rack: 7 } } });
      const v = await store.claimBest("w1", ["echo"], ["echo:a"], [], 4);
      expect(v.kind).toBe("look");
      const queues = v.kind === "look" ? [...v.queues].sort((x, y) => (x.name < y.name ? -1 : 1)) : [];
      expect(queues.map((q) => ({ name: q.name, skill: q.skill, length: q.length, requirements: q.requirements }))).toEqual([
        { name: "echo:a", skill: "echo", length: 1, requirements: {} },
        { name: "echo:b", skill: "echo", length: 1, requirements: { extra: { rack: 7 } } },
      ]);
      // Heads come along where the store adds them (as queuesOf answers them).
      for (const q of queues) if (q.head !== undefined) expect(q.head.map((e) => e.jobId)).toEqual([q.name === "echo:a" ? a.jobId : b.jobId]);
      expect(await store.queueLength()).toBe(2);
      expect((await store.getJob(a.jobId))!.state).toBe("waiting_for_worker");
      // Named (either way), the queues decide again.
      expect(await store.claimBest("w1", ["echo"], ["echo:a"], ["echo:b"])).toMatchObject({ kind: "claimed", job: { jobId: a.jobId } });
      expect(await store.claimBest("w1", ["echo"], ["echo:a"], ["echo:b"])).toEqual({ kind: "none" });
    });

    withStore("claimBest: concurrent claimers each win a different job", async (_h, store) => {
      const jobs = await Promise.all(Array.from({ length: 10 }, () => submit(store, { queue: "echo:*" })));
      const wins = await Promise.all(Array.from({ length: 16 }, (_, i) => store.claimBest(`w${i}`, ["echo"], ["echo:*"], [])));
      const won = wins.flatMap((w) => (w.kind === "claimed" ? [w.job.jobId] : []));
      expect(new Set(won)).toEqual(new Set(jobs.map((j) => j.jobId)));
      expect(wins.filter((w) => w.kind === "none")).toHaveLength(6);
      expect(await store.queueLength()).toBe(0);
    });

    withStore("submit with handTo claims the job for a registered worker when its queue is empty, queuing and signalling nothing", async (_h, store) => {
      await registerWorker(store, "w1");
      const s = await listen(store);
      const v = await store.submit(newJob({ deadline: (await store.now()) + 600_000 }), {}, "w1");
      expect(v).toMatchObject({ kind: "created", job: { state: "running", workerId: "w1", attempts: 1, generation: 0 } });
      const job = v.kind === "created" ? v.job : undefined!;
      expect(job.taskId).toBe(`${job.jobId}_0`);
      expect(job.dispatchedAt).toBeGreaterThanOrEqual(job.submittedAt);
      expect(await store.getJob(job.jobId)).toMatchObject({ state: "running", workerId: "w1", attempts: 1 });
      expect(await store.queueLength()).toBe(0);
      expect(await store.queueDepths()).toEqual({});
      expect(await store.runningCount()).toBe(1);
      expect(await store.claimBest("w2", ["echo"], ["echo"], [])).toEqual({ kind: "none" });
      // Leased like a claimed job: listed as the worker's running job, settled by it alone.
      expect((await store.listJobs({ workerId: "w1", state: "running" }, 10)).jobs.map((j) => j.jobId)).toEqual([job.jobId]);
      expect(await store.settle("w2", job.jobId, job.taskId, OK)).toMatchObject({ kind: "ignored", reason: "worker_mismatch" });
      expect(await store.settle("w1", job.jobId, job.taskId, OK)).toMatchObject({ kind: "accepted" });
      await s.waitFor((x) => x.type === "ended" && x.jobId === job.jobId);
      expect(s.signals.filter((x) => x.type === "queued")).toEqual([]);
      expect(await store.runningCount()).toBe(0);
      s.stop();
    });

    withStore("submit with handTo queues the job as usual behind a waiting one, or for a worker the store does not know", async (_h, store) => {
      await registerWorker(store, "w1");
      const first = await submit(store);
      const behind = await store.submit(newJob(), {}, "w1");
      expect(behind).toMatchObject({ kind: "created", job: { state: "waiting_for_worker", attempts: 0 } });
      expect((await store.peek("echo", 10)).map((e) => e.jobId)).toEqual([first.jobId, behind.kind === "created" ? behind.job.jobId : ""]);
      // Another queue of the same skill is empty: handed, the other queue's tasks untouched.
      expect(await store.submit(newJob({ queue: "echo:b" }), {}, "w1")).toMatchObject({ kind: "created", job: { state: "running", workerId: "w1" } });
      const stranger = await store.submit(newJob({ queue: "echo:c" }), {}, "nobody");
      expect(stranger).toMatchObject({ kind: "created", job: { state: "waiting_for_worker" } });
      expect(await store.queueLength()).toBe(3);
      expect(await store.runningCount()).toBe(1);
      // Limits and idempotency come first: nothing is handed for a refused or repeated submission.
      expect(await store.submit(newJob({ queue: "echo:d" }), { total: 3 }, "w1")).toEqual({ kind: "refused", scope: "total", limit: 3 });
      const keyed = await store.submit(newJob({ queue: "echo:e", owner: "o", idempotencyKey: "k" }), {});
      const again = await store.submit(newJob({ queue: "echo:e", owner: "o", idempotencyKey: "k" }), {}, "w1");
      expect(again).toMatchObject({ kind: "existing", job: { jobId: keyed.kind === "created" ? keyed.job.jobId : "", state: "waiting_for_worker" } });
      expect(await store.runningCount()).toBe(1);
    });

    withStore("release puts a claimed task back, uncounted, under a new task id", async (_h, store) => {
      const s = await listen(store);
      const job = await submit(store, { priority: 3 });
      const later = await submit(store, { priority: 3 });
      const run = await claimed(store, "w1", job.jobId);
      expect(await store.release(job.jobId, "wrong_0")).toBeUndefined();
      expect(await store.release("nope", run.taskId)).toBeUndefined();
      s.signals.length = 0;
      const back = await store.release(job.jobId, run.taskId);
      expect(back).toMatchObject({ state: "waiting_for_worker", attempts: 0, generation: 1, taskId: `${job.jobId}_1` });
      expect(back!.workerId).toBeUndefined();
      // Back in its original place, ahead of the later job of equal priority.
      expect((await store.peek("echo", 10)).map((e) => e.jobId)).toEqual([job.jobId, later.jobId]);
      expect(await store.release(job.jobId, run.taskId)).toBeUndefined();
      await s.waitFor((x) => x.type === "queued" && x.queue === "echo");
      // The old attempt's result is stale now.
      const again = await claimed(store, "w2", job.jobId);
      expect(again.attempts).toBe(1);
      expect((await store.settle("w1", job.jobId, run.taskId, OK)).kind).toBe("ignored");
      s.stop();
    });
  });

  describe(`${label}: settle`, () => {
    withStore("accepts the current attempt's result once and answers a re-send as a duplicate", async (_h, store) => {
      const s = await listen(store);
      const job = await submit(store);
      const run = await claimed(store, "w1", job.jobId);
      const v = await store.settle("w1", job.jobId, run.taskId, OK);
      expect(v.kind).toBe("accepted");
      const done = (v as { job: JobRecord }).job;
      expect(done).toMatchObject({ state: "finished", status: "success", data: { ok: true }, resultWorkerId: "w1", settled: { taskId: run.taskId, workerId: "w1", transition: "finished" } });
      expect(done.finishedAt).toBeDefined();
      expect(await store.settle("w1", job.jobId, run.taskId, { ...OK, data: { other: 1 } })).toMatchObject({ kind: "duplicate", transition: "finished" });
      expect((await store.getJob(job.jobId))!.data).toEqual({ ok: true });
      expect(await store.settle("w2", job.jobId, run.taskId, OK)).toMatchObject({ kind: "ignored", reason: "job_already_terminated" });
      expect(await store.settle("w1", "nope", "nope_0", OK)).toEqual({ kind: "ignored", reason: "job_not_found" });
      await s.waitFor((x) => x.type === "ended" && x.jobId === job.jobId);
      s.stop();
    });

    withStore("a settle carrying a replay-memory key applies nothing when the key is already remembered", async (_h, store) => {
      const job = await submit(store);
      const run = await claimed(store, "w1", job.jobId);
      const key = `settle-once-${job.jobId}`;
      // Remembered by another call first (a message another hub saw): refused, the job still runs.
      expect(await store.remember(key, 60_000)).toBe(true);
      expect(await store.settle("w1", job.jobId, run.taskId, { ...OK, remember: { key, ttlMs: 60_000 } })).toEqual({ kind: "replay" });
      expect(await store.getJob(job.jobId)).toMatchObject({ state: "running", taskId: run.taskId });
      // A fresh key: applied, and the key is remembered with it.
      const fresh = { ...OK, remember: { key: `${key}-2`, ttlMs: 60_000 } };
      expect(await store.settle("w1", job.jobId, run.taskId, fresh)).toMatchObject({ kind: "accepted", job: { state: "finished" } });
      expect(await store.remember(`${key}-2`, 60_000)).toBe(false);
      // The same message again is a replay, not a duplicate: the caller decides what to answer.
      expect(await store.settle("w1", job.jobId, run.taskId, fresh)).toEqual({ kind: "replay" });
      // The key is checked before the job: an unknown job with a remembered key is a replay too.
      expect(await store.settle("w1", "nope", "nope_0", fresh)).toEqual({ kind: "replay" });
    });

    withStore("a re-send is a duplicate only with the same fingerprint", async (_h, store) => {
      const job = await submit(store, { maxRetries: 3 });
      const r1 = await claimed(store, "w1", job.jobId);
      const retry = { ...TRANSIENT, fingerprint: "fp-retry" };
      expect((await store.settle("w1", job.jobId, r1.taskId, retry)).kind).toBe("accepted");
      expect(await store.settle("w1", job.jobId, r1.taskId, retry)).toMatchObject({ kind: "duplicate", transition: "retry" });
      // Same task and worker, other content: not the result that was applied.
      expect(await store.settle("w1", job.jobId, r1.taskId, { ...OK, fingerprint: "fp-other" })).toMatchObject({ kind: "ignored", reason: "stale_task" });
      expect(await store.settle("w1", job.jobId, r1.taskId, OK)).toMatchObject({ kind: "ignored", reason: "stale_task" });
      const r2 = await claimed(store, "w1", job.jobId);
      const done = await store.settle("w1", job.jobId, r2.taskId, OK);
      expect(done).toMatchObject({ kind: "accepted", job: { state: "finished" } });
      // No fingerprint this time: the retry's must not linger on the settled result.
      expect((done as { job: JobRecord }).job.settled).toEqual({ taskId: r2.taskId, workerId: "w1", transition: "finished" });
      expect(await store.settle("w1", job.jobId, r2.taskId, OK)).toMatchObject({ kind: "duplicate" });
      expect(await store.settle("w1", job.jobId, r2.taskId, { ...OK, fingerprint: "x" })).toMatchObject({ kind: "ignored", reason: "job_already_terminated" });
      expect((await store.getJob(job.jobId))!.settled).toEqual({ taskId: r2.taskId, workerId: "w1", transition: "finished" });
      const f = await submit(store);
      const rf = await claimed(store, "w2", f.jobId);
      const accepted = await store.settle("w2", f.jobId, rf.taskId, { ...OK, fingerprint: "fp-f" });
      expect((accepted as { job: JobRecord }).job.settled).toEqual({ taskId: rf.taskId, workerId: "w2", transition: "finished", fingerprint: "fp-f" });
    });

    withStore("keeps result data as sent (empty containers, big integers, unicode)", async (_h, store) => {
      const job = await submit(store);
      const run = await claimed(store, "w1", job.jobId);
      const data = { list: [], map: {}, deep: [[[]]], big: 2 ** 53 - 1, neg: -0.5, s: "x\u0000y😀" };
      await store.settle("w1", job.jobId, run.taskId, { status: "success", data, transition: "finished" });
      expect((await store.getJob(job.jobId))!.data).toEqual(data);
    });

    withStore("a failure ends the job failed with its error", async (_h, store) => {
      const job = await submit(store);
      const run = await claimed(store, "w1", job.jobId);
      const error = { code: "PERMANENT_ERROR", message: "no" };
      const v = await store.settle("w1", job.jobId, run.taskId, { status: "failure", error, transition: "failed" });
      expect(v).toMatchObject({ kind: "accepted", transition: "failed", job: { state: "failed", error, endReason: "error" } });
      const c = await submit(store);
      const crun = await claimed(store, "w1", c.jobId);
      expect(await store.settle("w1", c.jobId, crun.taskId, { status: "cancelled", transition: "cancelled" })).toMatchObject({ kind: "accepted", job: { state: "cancelled" } });
    });

    withStore("ignores a result from another worker or an earlier attempt", async (_h, store) => {
      const job = await submit(store);
      const run = await claimed(store, "w1", job.jobId);
      expect(await store.settle("w2", job.jobId, run.taskId, OK)).toMatchObject({ kind: "ignored", reason: "worker_mismatch" });
      expect(await store.settle("w1", job.jobId, `${job.jobId}_7`, OK)).toMatchObject({ kind: "ignored", reason: "stale_task" });
      const waiting = await submit(store);
      expect(await store.settle("w1", waiting.jobId, waiting.taskId, OK)).toMatchObject({ kind: "ignored", reason: "worker_mismatch" });
      expect((await store.getJob(job.jobId))!.state).toBe("running");
    });

    withStore("a retry re-queues with a new task id; the old attempt's result is stale; retries run out", async (_h, store) => {
      const s = await listen(store);
      const job = await submit(store, { maxRetries: 1 });
      const r1 = await claimed(store, "w1", job.jobId);
      const v1 = await store.settle("w1", job.jobId, r1.taskId, TRANSIENT);
      expect(v1).toMatchObject({ kind: "accepted", transition: "retry", job: { state: "waiting_for_worker", generation: 1, taskId: `${job.jobId}_1`, attempts: 1 } });
      await s.waitFor((x) => x.type === "queued");
      // Re-sent retry of the first attempt: answered as before, not applied again.
      expect(await store.settle("w1", job.jobId, r1.taskId, TRANSIENT)).toMatchObject({ kind: "duplicate", transition: "retry" });
      expect(await store.queueLength()).toBe(1);
      const r2 = await claimed(store, "w2", job.jobId);
      expect(r2.attempts).toBe(2);
      // A result of the first attempt other than the one applied (here: from another worker) is stale.
      expect(await store.settle("w3", job.jobId, r1.taskId, OK)).toMatchObject({ kind: "ignored", reason: "stale_task" });
      const v2 = await store.settle("w2", job.jobId, r2.taskId, TRANSIENT);
      expect(v2).toMatchObject({ kind: "accepted", job: { state: "failed", endReason: "error", error: TRANSIENT.error, resultWorkerId: "w2", attempts: 2 } });
      expect(await store.queueLength()).toBe(0);
      s.stop();
    });

    withStore("a retry with a cancel pending ends the job cancelled", async (_h, store) => {
      const job = await submit(store);
      const run = await claimed(store, "w1", job.jobId);
      expect((await store.cancel(job.jobId)).kind).toBe("requested");
      const v = await store.settle("w1", job.jobId, run.taskId, TRANSIENT);
      expect(v).toMatchObject({ kind: "accepted", job: { state: "cancelled", status: "cancelled" } });
      expect(await store.queueLength()).toBe(0);
    });

    withStore("a result past the deadline is refused and ends the job", async (h, store) => {
      const now = await store.now();
      const job = await submit(store, { deadline: now + 100 });
      const run = await claimed(store, "w1", job.jobId);
      await h.advance(150);
      const v = await store.settle("w1", job.jobId, run.taskId, OK);
      expect(v).toMatchObject({ kind: "ignored", reason: "deadline_exceeded", ended: true, job: { state: "failed", endReason: "deadline", error: { code: "TIMEOUT_ERROR" } } });
      const again = await store.settle("w1", job.jobId, run.taskId, OK);
      expect(again).toMatchObject({ kind: "ignored", reason: "deadline_exceeded" });
      expect((again as { ended?: boolean }).ended).toBeUndefined();
      const ok = await submit(store, { deadline: (await store.now()) + 600_000 });
      const okRun = await claimed(store, "w1", ok.jobId);
      expect((await store.settle("w1", ok.jobId, okRun.taskId, OK)).kind).toBe("accepted");
    });

    withStore("a result for a job cancelled meanwhile is refused", async (h, store) => {
      store.configure({ ...POLICY, cancelGraceMs: 50 });
      const job = await submit(store);
      const run = await claimed(store, "w1", job.jobId);
      await store.cancel(job.jobId);
      await h.advance(100);
      expect((await store.sweep(10)).cancelled.map((j) => j.jobId)).toEqual([job.jobId]);
      expect(await store.settle("w1", job.jobId, run.taskId, OK)).toMatchObject({ kind: "ignored", reason: "job_cancelled" });
    });

    withStore("progress is recorded only for the worker's current task", async (_h, store) => {
      const job = await submit(store);
      expect(await store.progress("w1", job.jobId, undefined, 0.1)).toBe(false);
      const run = await claimed(store, "w1", job.jobId);
      expect(await store.progress("w2", job.jobId, run.taskId, 0.2)).toBe(false);
      expect(await store.progress("w1", job.jobId, "x_9", 0.2)).toBe(false);
      expect(await store.progress("w1", job.jobId, run.taskId, 0.5)).toBe(true);
      expect(await store.progress("w1", job.jobId, undefined, 0.75)).toBe(true);
      expect((await store.getJob(job.jobId))!.progress).toBe(0.75);
    });
  });

  describe(`${label}: cancel`, () => {
    withStore("a queued job ends at once; a running one is requested and its worker signalled", async (_h, store) => {
      const s = await listen(store);
      const queued = await submit(store, { owner: "alice" });
      expect(await store.cancel(queued.jobId, "bob")).toEqual({ kind: "none" });
      const v = await store.cancel(queued.jobId, "alice");
      expect(v).toMatchObject({ kind: "ended", job: { state: "cancelled", status: "cancelled" } });
      expect(await store.queueLength()).toBe(0);
      expect(await store.queueDepths()).toEqual({});
      expect(await store.cancel(queued.jobId)).toMatchObject({ kind: "none", job: { state: "cancelled" } });
      expect(await store.cancel("nope")).toEqual({ kind: "none" });
      await s.waitFor((x) => x.type === "ended" && x.jobId === queued.jobId);

      const running = await submit(store);
      const run = await claimed(store, "w1", running.jobId);
      const r = await store.cancel(running.jobId);
      expect(r).toMatchObject({ kind: "requested", job: { state: "running", workerId: "w1" } });
      const at = (r as { job: JobRecord }).job.cancelRequestedAt;
      expect(at).toBeDefined();
      const sig = await s.waitFor((x) => x.type === "cancel");
      expect(sig).toEqual({ type: "cancel", workerId: "w1", jobId: running.jobId, taskId: run.taskId });
      // Asking again keeps the first request time.
      expect((await store.cancel(running.jobId)) as { job: JobRecord }).toMatchObject({ kind: "requested", job: { cancelRequestedAt: at } });
      s.stop();
    });
  });

  describe(`${label}: workers and leases`, () => {
    withStore("a claim for a worker the store has forgotten leaves no lease behind: the next expiry gives the task back", async (_h, store) => {
      await registerWorker(store, "w-1", 60_000);
      const a = await submit(store);
      const b = await submit(store);
      // The worker is forgotten (its offline heartbeat on one hub) while another hub, which read
      // it a moment before, claims for it, by name and by best head.
      expect(await store.removeWorker("w-1")).toBeDefined();
      expect((await store.claim("w-1", [a.jobId]))?.state).toBe("running");
      expect((await store.claimBest("w-1", ["echo"], ["echo"], [])).kind).toBe("claimed");
      const gone = await store.expireWorkers(100, 0);
      expect(gone.flatMap((g) => g.released.map((j) => j.jobId)).sort()).toEqual([a.jobId, b.jobId].sort());
      for (const id of [a.jobId, b.jobId]) expect((await store.getJob(id))?.state).toBe("waiting_for_worker");
      // A worker that registers right after its claim keeps its lease.
      const c = await claimed(store, "w-2", a.jobId);
      await registerWorker(store, "w-2", 60_000);
      expect(await store.expireWorkers(100, 0)).toEqual([]);
      expect((await store.getJob(c.jobId))?.state).toBe("running");
    });

    withStore("register keeps registeredAt and drained across re-registration and signals", async (_h, store) => {
      const s = await listen(store);
      const now = await store.now();
      const first = workerRecord("w1", now - 5000);
      expect(await store.register(first, [{ skill: "echo", key: "k1", info: { name: "echo", version: "1" } }])).toEqual({});
      await s.waitFor((x) => x.type === "worker" && x.workerId === "w1");
      expect(await store.drain("w1", true)).toBe(true);
      expect(await store.drain("nope", true)).toBe(false);
      const second = workerRecord("w1", now, 600_000, { status: "busy", capabilities: { extra: { x: [] } } as never });
      const r = await store.register(second, [
        { skill: "echo", key: "k1", info: { name: "echo", version: "changed" } },
        { skill: "echo", key: "k2", info: { name: "echo", version: "2" } },
      ]);
      expect(r.previous).toMatchObject({ id: "w1", registeredAt: now - 5000, drained: true });
      const w = (await store.getWorker("w1"))!;
      expect(w).toMatchObject({ id: "w1", status: "busy", registeredAt: now - 5000, drained: true, skills: [{ name: "echo" }], capabilities: { extra: { x: [] } } });
      expect(w.lastSeenAt).toBeGreaterThanOrEqual(now);
      const contracts = [...(await store.contractsOf("echo"))].map((c) => c.version).sort();
      expect(contracts).toEqual(["1", "2"]);
      expect(await store.contractsOf("none")).toEqual([]);
      expect(await store.drain("w1", false)).toBe(true);
      expect((await store.getWorker("w1"))!.drained).toBeUndefined();
      expect(await store.getWorker("nope")).toBeUndefined();
      s.stop();
    });

    withStore("heartbeat updates the record; unknown workers are answered undefined", async (_h, store) => {
      expect(await store.heartbeat("nope", { status: "idle", ttlMs: 1000, leaseGraceMs: 1000 })).toBeUndefined();
      await registerWorker(store, "w1");
      const before = await store.now();
      const v = await store.heartbeat("w1", { status: "busy", usage: { gpu: [] }, hotSkills: [], availableSkills: ["echo"], skills: [{ name: "echo" }, { name: "sum" }], skillsHash: "h2", ttlMs: 5000, leaseGraceMs: 1000 });
      expect(v!.worker).toMatchObject({ status: "busy", usage: { gpu: [] }, hotSkills: [], availableSkills: ["echo"], skills: [{ name: "echo" }, { name: "sum" }], skillsHash: "h2" });
      expect(v!.worker.expiresAt).toBeGreaterThanOrEqual(before + 5000);
      expect(v!.cancel).toEqual([]);
      expect(v!.released).toEqual([]);
      expect(await store.touch("w1", 60_000)).toBe(true);
      expect((await store.getWorker("w1"))!.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
      expect(await store.touch("nope", 1000)).toBe(false);
    });

    withStore("a lease listed by task id or job id is kept; unlisted past the grace it is re-queued", async (h, store) => {
      await registerWorker(store, "w1");
      const a = await submit(store);
      const b = await submit(store);
      const ra = await claimed(store, "w1", a.jobId);
      await claimed(store, "w1", b.jobId);
      // No current_tasks: nothing is reconciled.
      expect((await store.heartbeat("w1", { status: "busy", ttlMs: 60_000, leaseGraceMs: 0 }))!.released).toEqual([]);
      expect((await store.getJob(a.jobId))!.leaseMissingSince).toBeUndefined();
      await h.advance(50);
      const v1 = await store.heartbeat("w1", { status: "busy", currentTasks: [ra.taskId, b.jobId], ttlMs: 60_000, leaseGraceMs: 20 });
      expect(v1!.released).toEqual([]);
      expect(v1!.cancel).toEqual([]);
      // Unlisted: marked missing first, given up only once missing longer than the grace.
      const v2 = await store.heartbeat("w1", { status: "busy", currentTasks: [ra.taskId], ttlMs: 60_000, leaseGraceMs: 20 });
      expect(v2!.released).toEqual([]);
      const missing = await store.getJob(b.jobId);
      expect(missing!.state).toBe("running");
      expect(missing!.leaseMissingSince).toBeDefined();
      // Listed again: the mark goes.
      await store.heartbeat("w1", { status: "busy", currentTasks: [ra.taskId, b.taskId], ttlMs: 60_000, leaseGraceMs: 20 });
      expect((await store.getJob(b.jobId))!.leaseMissingSince).toBeUndefined();
      await store.heartbeat("w1", { status: "busy", currentTasks: [a.jobId], ttlMs: 60_000, leaseGraceMs: 20 });
      await h.advance(50);
      const v3 = await store.heartbeat("w1", { status: "busy", currentTasks: [a.jobId], ttlMs: 60_000, leaseGraceMs: 20 });
      expect(v3!.released.map((j) => j.jobId)).toEqual([b.jobId]);
      expect(v3!.released[0]).toMatchObject({ state: "waiting_for_worker", generation: 1, attempts: 1 });
      expect((await store.getJob(a.jobId))!.state).toBe("running");
      expect((await store.peek("echo", 10)).map((e) => e.jobId)).toEqual([b.jobId]);
      // A released lease is no longer the worker's: a later listing of the old task is told to stop.
      const v4 = await store.heartbeat("w1", { status: "busy", currentTasks: [a.jobId, `${b.jobId}_0`, "unknown-task"], ttlMs: 60_000, leaseGraceMs: 20 });
      expect(v4!.cancel).toEqual([`${b.jobId}_0`]);
    });

    withStore("a lease given up with no retries left ends the job as lost", async (h, store) => {
      await registerWorker(store, "w1");
      const job = await submit(store, { maxRetries: 0 });
      await claimed(store, "w1", job.jobId);
      await store.heartbeat("w1", { status: "idle", currentTasks: [], ttlMs: 60_000, leaseGraceMs: 20 });
      await h.advance(50);
      const v = await store.heartbeat("w1", { status: "idle", currentTasks: [], ttlMs: 60_000, leaseGraceMs: 20 });
      expect(v!.released[0]).toMatchObject({ jobId: job.jobId, state: "failed", endReason: "lost", error: { code: "TRANSIENT_ERROR" } });
    });

    withStore("re-registering marks leases unconfirmed; a heartbeat that still omits them past the grace gives them up", async (h, store) => {
      await registerWorker(store, "w1");
      const a = await submit(store);
      const b = await submit(store);
      const ra = await claimed(store, "w1", a.jobId);
      await claimed(store, "w1", b.jobId);
      await registerWorker(store, "w1");
      expect((await store.getJob(a.jobId))!.leaseMissingSince).toBeDefined();
      await h.advance(50);
      const v = await store.heartbeat("w1", { status: "busy", currentTasks: [ra.taskId], ttlMs: 60_000, leaseGraceMs: 20 });
      expect(v!.released.map((j) => j.jobId)).toEqual([b.jobId]);
      expect((await store.getJob(a.jobId))!.leaseMissingSince).toBeUndefined();
    });

    withStore("registering again with keepLeases (skills changed in a heartbeat) leaves the leases confirmed", async (h, store) => {
      await registerWorker(store, "w1");
      const a = await submit(store);
      await claimed(store, "w1", a.jobId);
      await store.register(workerRecord("w1", await store.now(), undefined, { status: "busy" }), [], { keepLeases: true });
      expect((await store.getJob(a.jobId))!.leaseMissingSince).toBeUndefined();
      expect((await store.getWorker("w1"))!.status).toBe("busy");
      await h.advance(50);
      // Omitted for the first time now: the grace starts now, nothing is given up yet.
      const v = await store.heartbeat("w1", { status: "busy", currentTasks: [], ttlMs: 60_000, leaseGraceMs: 20 });
      expect(v!.released).toEqual([]);
    });

    withStore("a heartbeat lists pending cancels and tasks that are not the worker's", async (_h, store) => {
      await registerWorker(store, "w1");
      await registerWorker(store, "w2");
      const a = await submit(store);
      const b = await submit(store);
      const done = await submit(store);
      const ra = await claimed(store, "w1", a.jobId);
      const rb = await claimed(store, "w2", b.jobId);
      const rd = await claimed(store, "w1", done.jobId);
      await store.settle("w1", done.jobId, rd.taskId, OK);
      await store.cancel(a.jobId);
      const v = await store.heartbeat("w1", { status: "busy", currentTasks: [ra.taskId, rb.taskId, done.jobId], ttlMs: 60_000, leaseGraceMs: 60_000 });
      expect([...v!.cancel].sort()).toEqual([ra.taskId, rb.taskId, done.jobId].sort());
      // Listed by job id: the cancel names the entry as the worker wrote it.
      const byJob = await store.heartbeat("w1", { status: "busy", currentTasks: [a.jobId], ttlMs: 60_000, leaseGraceMs: 60_000 });
      expect(byJob!.cancel).toEqual([a.jobId]);
      // Not listed at all: the cancel still names the task.
      const none = await store.heartbeat("w1", { status: "busy", ttlMs: 60_000, leaseGraceMs: 60_000 });
      expect(none!.cancel).toEqual([ra.taskId]);
    });

    withStore("expiry and removal forget the worker and release its leases", async (h, store) => {
      const s = await listen(store);
      await registerWorker(store, "short", 100);
      await registerWorker(store, "long", 600_000);
      await registerWorker(store, "gone", 600_000);
      const a = await submit(store);
      const b = await submit(store, { maxRetries: 0 });
      const c = await submit(store);
      await claimed(store, "short", a.jobId);
      await claimed(store, "short", b.jobId);
      await claimed(store, "gone", c.jobId);
      await h.advance(150);
      s.signals.length = 0;
      const gone = await store.expireWorkers(10);
      expect(gone.map((g) => g.workerId)).toEqual(["short"]);
      const byId = new Map(gone[0]!.released.map((j) => [j.jobId, j]));
      expect(byId.get(a.jobId)).toMatchObject({ state: "waiting_for_worker", generation: 1 });
      expect(byId.get(b.jobId)).toMatchObject({ state: "failed", endReason: "lost" });
      expect(await store.getWorker("short")).toBeUndefined();
      expect(await store.heartbeat("short", { status: "idle", ttlMs: 1000, leaseGraceMs: 1000 })).toBeUndefined();
      expect(await store.expireWorkers(10)).toEqual([]);
      await s.waitFor((x) => x.type === "worker" && x.workerId === "short");
      const removed = await store.removeWorker("gone");
      expect(removed!.released.map((j) => j.jobId)).toEqual([c.jobId]);
      expect(await store.removeWorker("gone")).toBeUndefined();
      expect(await store.countWorkers()).toBe(1);
      expect(await store.queueLength()).toBe(2);
      s.stop();
    });

    withStore("expiry honours its limit and a touched worker stays", async (h, store) => {
      for (const id of ["a", "b", "c"]) await registerWorker(store, id, 100);
      await store.touch("c", 600_000);
      await h.advance(150);
      expect((await store.expireWorkers(1)).length).toBe(1);
      expect((await store.expireWorkers(10)).length).toBe(1);
      expect((await store.listWorkers()).map((w) => w.id)).toEqual(["c"]);
    });

    withStore("a worker whose lifetime ended during a pause of the expiry calls gets it once more from the pause's end", async (h, store) => {
      await registerWorker(store, "w", 400);
      await registerWorker(store, "other", 600_000);
      const a = await submit(store);
      await claimed(store, "w", a.jobId);
      const before = (await store.getWorker("w"))!;
      expect(await store.expireWorkers(10, 1000)).toEqual([]);
      // Nobody swept for longer than the pause length (the store or every hub was away), and w's
      // lifetime ended meanwhile: it could not have been heard, so it is kept, with its lease.
      await h.advance(1500);
      expect(await store.expireWorkers(10, 1000)).toEqual([]);
      const after = (await store.getWorker("w"))!;
      expect(after.expiresAt).toBeGreaterThan(before.expiresAt);
      expect(await store.getJob(a.jobId)).toMatchObject({ state: "running", workerId: "w" });
      // Not heard from within that lifetime either: now it goes, and its task with it.
      await h.advance(450);
      const gone = await store.expireWorkers(10, 1000);
      expect(gone.map((g) => g.workerId)).toEqual(["w"]);
      expect(gone[0]!.released.map((j) => j.jobId)).toEqual([a.jobId]);
      expect((await store.listWorkers()).map((w) => w.id)).toEqual(["other"]);
    });

    withStore("without a pause length, a long gap between expiry calls changes nothing", async (h, store) => {
      await registerWorker(store, "w", 100);
      expect(await store.expireWorkers(10)).toEqual([]);
      await h.advance(300);
      expect((await store.expireWorkers(10)).map((g) => g.workerId)).toEqual(["w"]);
    });

    withStore("listWorkers pages in id order", async (_h, store) => {
      for (const id of ["w3", "w1", "w5", "w2", "w4"]) await registerWorker(store, id);
      expect(await store.countWorkers()).toBe(5);
      expect((await store.listWorkers()).map((w) => w.id)).toEqual(["w1", "w2", "w3", "w4", "w5"]);
      expect((await store.listWorkers(2)).map((w) => w.id)).toEqual(["w1", "w2"]);
      expect((await store.listWorkers(2, "w2")).map((w) => w.id)).toEqual(["w3", "w4"]);
      expect((await store.listWorkers(2, "w4")).map((w) => w.id)).toEqual(["w5"]);
      expect(await store.listWorkers(2, "w5")).toEqual([]);
      // The order follows workers that come and go; a cursor need not name a current worker.
      await store.removeWorker("w3");
      await registerWorker(store, "w0");
      expect((await store.listWorkers()).map((w) => w.id)).toEqual(["w0", "w1", "w2", "w4", "w5"]);
      expect((await store.listWorkers(2, "w3")).map((w) => w.id)).toEqual(["w4", "w5"]);
      expect((await store.listWorkers(10, "a")).map((w) => w.id)).toEqual(["w0", "w1", "w2", "w4", "w5"]);
    });
  });

  describe(`${label}: sweep`, () => {
    withStore("ends waiting and running jobs past their deadline, at most `limit` a pass", async (h, store) => {
      const now = await store.now();
      const a = await submit(store, { deadline: now + 50 });
      const b = await submit(store, { deadline: now + 50 });
      const c = await submit(store, { deadline: now + 50 });
      const later = await submit(store, { deadline: now + 600_000 });
      await claimed(store, "w1", b.jobId);
      await h.advance(100);
      const first = await store.sweep(2);
      expect(first.deadline.length).toBe(2);
      const second = await store.sweep(2);
      expect(second.deadline.length).toBe(1);
      const ended = [...first.deadline, ...second.deadline];
      expect(ended.map((j) => j.jobId).sort()).toEqual([a.jobId, b.jobId, c.jobId].sort());
      for (const j of ended) expect(j).toMatchObject({ state: "failed", endReason: "deadline", error: { code: "TIMEOUT_ERROR" } });
      expect((await store.getJob(later.jobId))!.state).toBe("waiting_for_worker");
      expect(await store.queueLength()).toBe(1);
      expect((await store.sweep(10)).deadline).toEqual([]);
      // The running one's lease is gone with it.
      expect((await store.listJobs({ workerId: "w1", state: "running" }, 10)).jobs).toEqual([]);
    });

    withStore("ends running jobs whose worker ignored a cancel past the grace", async (h, store) => {
      store.configure({ ...POLICY, cancelGraceMs: 50 });
      const a = await submit(store);
      const b = await submit(store);
      await claimed(store, "w1", a.jobId);
      await claimed(store, "w1", b.jobId);
      await store.cancel(a.jobId);
      expect((await store.sweep(10)).cancelled).toEqual([]);
      await h.advance(100);
      const r = await store.sweep(10);
      expect(r.cancelled.map((j) => j.jobId)).toEqual([a.jobId]);
      expect(r.cancelled[0]).toMatchObject({ state: "cancelled", status: "cancelled" });
      expect((await store.getJob(b.jobId))!.state).toBe("running");
    });

    withStore("forgets ended jobs past retention or past the most retained, oldest first", async (h, store) => {
      store.configure({ ...POLICY, retentionMs: 100 });
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 3; i++) {
        const j = await submit(store, { owner: "o", idempotencyKey: `k${i}` });
        jobs.push(j);
        await store.cancel(j.jobId);
      }
      const live = await submit(store);
      expect((await store.sweep(10)).forgotten).toBe(0);
      await h.advance(150);
      expect((await store.sweep(2)).forgotten).toBe(2);
      expect((await store.sweep(2)).forgotten).toBe(1);
      for (const j of jobs) expect(await store.getJob(j.jobId)).toBeUndefined();
      expect((await store.getJob(live.jobId))!.state).toBe("waiting_for_worker");
      // A forgotten job's idempotency key is free again.
      expect((await store.submit(newJob({ owner: "o", idempotencyKey: "k0" }), {})).kind).toBe("created");

      store.configure({ ...POLICY, maxRetained: 2 });
      const more: JobRecord[] = [];
      for (let i = 0; i < 4; i++) {
        const j = await submit(store);
        more.push(j);
        await store.cancel(j.jobId);
      }
      expect((await store.sweep(10)).forgotten).toBe(2);
      expect(await store.getJob(more[0]!.jobId)).toBeUndefined();
      expect(await store.getJob(more[1]!.jobId)).toBeUndefined();
      expect((await store.getJob(more[3]!.jobId))!.state).toBe("cancelled");
    });
  });

  describe(`${label}: listing`, () => {
    withStore("listJobs answers newest first, filtered, in pages", async (_h, store) => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await submit(store, { type: i % 2 === 0 ? "even" : "odd", owner: i < 3 ? "a" : "b" })).jobId);
      const all = await store.listJobs({}, 100);
      expect(all.jobs.map((j) => j.jobId)).toEqual([...ids].reverse());
      expect(all.cursor).toBeUndefined();
      const p1 = await store.listJobs({}, 3);
      expect(p1.jobs.map((j) => j.jobId)).toEqual([ids[6], ids[5], ids[4]]);
      const p2 = await store.listJobs({}, 3, p1.cursor);
      expect(p2.jobs.map((j) => j.jobId)).toEqual([ids[3], ids[2], ids[1]]);
      const p3 = await store.listJobs({}, 3, p2.cursor);
      expect(p3.jobs.map((j) => j.jobId)).toEqual([ids[0]]);
      expect(p3.cursor).toBeUndefined();
      expect((await store.listJobs({ type: "even" }, 100)).jobs.map((j) => j.jobId)).toEqual([ids[6], ids[4], ids[2], ids[0]]);
      expect((await store.listJobs({ type: "even", owner: "a" }, 100)).jobs.map((j) => j.jobId)).toEqual([ids[2], ids[0]]);
      const e1 = await store.listJobs({ type: "odd" }, 2);
      expect(e1.jobs.map((j) => j.jobId)).toEqual([ids[5], ids[3]]);
      const e2 = await store.listJobs({ type: "odd" }, 2, e1.cursor);
      expect(e2.jobs.map((j) => j.jobId)).toEqual([ids[1]]);
      expect((await store.listJobs({ state: "finished" }, 10)).jobs).toEqual([]);
    });

    withStore("listJobs pages on after the job its cursor came from was forgotten", async (_h, store) => {
      store.configure({ ...POLICY, maxRetained: 1 });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await submit(store, { type: "t" })).jobId);
      const p1 = await store.listJobs({}, 2);
      expect(p1.jobs.map((j) => j.jobId)).toEqual([ids[5], ids[4]]);
      // The cursor's job ends and is forgotten (past maxRetained) between two pages.
      await store.cancel(ids[4]!);
      await store.cancel(ids[3]!);
      expect((await store.sweep(10)).forgotten).toBe(1);
      expect(await store.getJob(ids[4]!)).toBeUndefined();
      const p2 = await store.listJobs({}, 2, p1.cursor);
      expect(p2.jobs.map((j) => j.jobId)).toEqual([ids[3], ids[2]]);
      const p3 = await store.listJobs({}, 2, p2.cursor);
      expect(p3.jobs.map((j) => j.jobId)).toEqual([ids[1], ids[0]]);
      // A worker's running jobs page the same way.
      const now = await store.now();
      await store.register(workerRecord("w1", now), [{ skill: "t", key: "k", info: { name: "t" } }]);
      const running = [ids[2]!, ids[1]!, ids[0]!];
      for (const id of running) expect((await store.claim("w1", [id]))?.jobId).toBe(id);
      const r1 = await store.listJobs({ workerId: "w1", state: "running" }, 1);
      expect(r1.jobs.map((j) => j.jobId)).toEqual([ids[2]]);
      const r2 = await store.listJobs({ workerId: "w1", state: "running" }, 5, r1.cursor);
      expect(r2.jobs.map((j) => j.jobId)).toEqual([ids[1], ids[0]]);
      expect(await store.listJobs({}, 2, "not-a-cursor")).toEqual({ jobs: [] });
    });
  });

  describe(`${label}: tokens, replay memory, signals`, () => {
    withStore("tokens are live until they expire and single use", async (h, store) => {
      const now = await store.now();
      const token = { kind: "refresh" as const, workerId: "w1", expiresAt: now + 100 };
      await store.putToken("h1", token);
      await store.putToken("h2", { ...token, expiresAt: now + 600_000 });
      await store.putToken("old", { ...token, expiresAt: now - 1 });
      expect(await store.getToken("h1")).toEqual(token);
      expect(await store.getToken("old")).toBeUndefined();
      const takes = await Promise.all([store.consumeToken("h2"), store.consumeToken("h2"), store.consumeToken("h2")]);
      expect(takes.filter((t) => t !== undefined).length).toBe(1);
      expect(await store.getToken("h2")).toBeUndefined();
      await h.advance(150);
      expect(await store.getToken("h1")).toBeUndefined();
      expect(await store.consumeToken("h1")).toBeUndefined();
      expect(await store.consumeToken("never")).toBeUndefined();
    });

    withStore("remember is true for the first caller only, until the key expires", async (h, store) => {
      const firsts = await Promise.all([store.remember("m1", 100), store.remember("m1", 100), store.remember("m1", 100)]);
      expect(firsts.filter(Boolean).length).toBe(1);
      expect(await store.remember("m2", 600_000)).toBe(true);
      await h.advance(150);
      expect(await store.remember("m1", 100)).toBe(true);
      expect(await store.remember("m2", 600_000)).toBe(false);
    });

    withStore("signals: queued on submit and retry, ended, cancel, worker; unsubscribe stops delivery", async (_h, store) => {
      const s = await listen(store);
      const job = await submit(store, { type: "sig", queue: "sig|q" });
      expect(await s.waitFor((x) => x.type === "queued")).toEqual({ type: "queued", queue: "sig|q", skill: "sig" });
      await registerWorker(store, "w9");
      await s.waitFor((x) => x.type === "worker" && x.workerId === "w9");
      const run = await claimed(store, "w9", job.jobId);
      await store.cancel(job.jobId);
      await s.waitFor((x) => x.type === "cancel" && x.jobId === job.jobId && x.taskId === run.taskId && x.workerId === "w9");
      await store.settle("w9", job.jobId, run.taskId, { status: "cancelled", transition: "cancelled" });
      await s.waitFor((x) => x.type === "ended" && x.jobId === job.jobId);
      const heard: HubSignal[] = [];
      const off = store.subscribe((x) => heard.push(x));
      off();
      await store.publish({ type: "ended", jobId: "after" });
      await s.waitFor((x) => x.type === "ended" && x.jobId === "after");
      expect(heard.filter((x) => x.type === "ended" && x.jobId === "after")).toEqual([]);
      s.stop();
    });
  });
}
