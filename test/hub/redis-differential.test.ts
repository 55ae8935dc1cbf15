/**
 * RedisStore against the reference semantics: random sequences of transitions (submit with limits
 * and idempotency keys, claim, claim of the best head, release, settle of every kind, progress, cancel, register,
 * heartbeat, drain, remove) applied to a MemoryStore and a RedisStore side by side must get the
 * same verdicts and leave the same queues and jobs. Times and sequence numbers differ between the
 * two stores and are compared by presence and order only.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import fc from "fast-check";
import { randomUUID } from "node:crypto";
import { MemoryStore } from "../../src/hub/memory-store.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import type { HubStore, JobRecord, Settlement, WorkerRecord } from "../../src/hub/store.js";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { newJob, workerRecord } from "./store-conformance.js";

const available = requireRedis("RedisStore differential test");

type Op =
  | { op: "submit"; job: number; type: "a" | "b"; priority: number; owner?: "o1" | "o2"; idem?: "k1" | "k2"; limit?: number; handTo?: number }
  | { op: "reject"; job: number; idem?: "k1" }
  | { op: "claim"; worker: number; jobs: number[] }
  | { op: "claimBest"; worker: number; skills: ("a" | "b")[]; runnable: ("a" | "b")[]; skipped: ("a" | "b")[] }
  | { op: "release"; job: number; stale: boolean }
  | { op: "settle"; worker: number; job: number; stale: boolean; kind: "success" | "failure" | "retry" | "cancelled"; fp?: "f1" | "f2"; once?: "m1" | "m2" }
  | { op: "progress"; worker: number; job: number }
  | { op: "cancel"; job: number; owner?: "o1" | "o2" }
  | { op: "register"; worker: number }
  | { op: "heartbeat"; worker: number; listed?: number[]; byJob: boolean }
  | { op: "drain"; worker: number; on: boolean }
  | { op: "remove"; worker: number };

const JOBS = 6;
const WORKERS = 3;
const job = fc.integer({ min: 0, max: JOBS - 1 });
const worker = fc.integer({ min: 0, max: WORKERS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("submit" as const), job, type: fc.constantFrom("a" as const, "b" as const), priority: fc.integer({ min: -1, max: 2 }), owner: fc.option(fc.constantFrom("o1" as const, "o2" as const), { nil: undefined }), idem: fc.option(fc.constantFrom("k1" as const, "k2" as const), { nil: undefined }), limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), handTo: fc.option(worker, { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("reject" as const), job, idem: fc.option(fc.constant("k1" as const), { nil: undefined }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("claim" as const), worker, jobs: fc.array(job, { minLength: 1, maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("claimBest" as const), worker, skills: fc.subarray(["a" as const, "b" as const]), runnable: fc.subarray(["a" as const, "b" as const]), skipped: fc.subarray(["a" as const, "b" as const]) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("release" as const), job, stale: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("settle" as const), worker, job, stale: fc.boolean(), kind: fc.constantFrom("success" as const, "failure" as const, "retry" as const, "cancelled" as const), fp: fc.option(fc.constantFrom("f1" as const, "f2" as const), { nil: undefined }), once: fc.option(fc.constantFrom("m1" as const, "m2" as const), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("progress" as const), worker, job }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cancel" as const), job, owner: fc.option(fc.constantFrom("o1" as const, "o2" as const), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("register" as const), worker }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("heartbeat" as const), worker, listed: fc.option(fc.array(job, { maxLength: 3 }), { nil: undefined }), byJob: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("drain" as const), worker, on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("remove" as const), worker }) },
);

/** The parts of a job both stores must agree on. */
function norm(j: JobRecord | undefined | null): unknown {
  if (j === undefined || j === null) return j;
  return {
    jobId: j.jobId,
    taskId: j.taskId,
    generation: j.generation,
    attempts: j.attempts,
    state: j.state,
    workerId: j.workerId,
    status: j.status,
    endReason: j.endReason,
    data: j.data,
    error: j.error,
    settled: j.settled,
    resultWorkerId: j.resultWorkerId,
    progress: j.progress,
    cancelRequested: j.cancelRequestedAt !== undefined,
    leaseMissing: j.leaseMissingSince !== undefined,
    dispatched: j.dispatchedAt !== undefined,
    finished: j.finishedAt !== undefined,
    params: j.params,
    owner: j.owner,
    priority: j.priority,
  };
}

function normWorker(w: WorkerRecord | undefined): unknown {
  if (w === undefined) return undefined;
  return { id: w.id, status: w.status, drained: w.drained, skills: w.skills };
}

/** Applies one op to one store and answers a comparable outcome. */
async function apply(store: HubStore, ids: string[], op: Op): Promise<unknown> {
  const jobId = (n: number): string => ids[n]!;
  const current = async (n: number, stale: boolean): Promise<string> => {
    const j = await store.getJob(jobId(n));
    if (j === undefined) return `${jobId(n)}_0`;
    return stale ? `${jobId(n)}_${Math.max(0, j.generation - 1)}` : j.taskId;
  };
  switch (op.op) {
    case "submit": {
      const v = await store.submit(
        newJob({ jobId: jobId(op.job), type: op.type, priority: op.priority, params: { n: op.job, list: [] }, maxRetries: 1, ...(op.owner ? { owner: op.owner } : {}), ...(op.idem ? { idempotencyKey: op.idem } : {}) }),
        op.limit === undefined ? {} : { perSkill: op.limit, perOwner: op.limit },
        op.handTo === undefined ? undefined : `w${op.handTo}`,
      );
      return v.kind === "refused" ? v : { kind: v.kind, job: norm(v.job) };
    }
    case "reject": {
      const v = await store.reject(newJob({ jobId: jobId(op.job), ...(op.idem ? { idempotencyKey: op.idem } : {}) }), { code: "INVALID_INPUT_ERROR", message: "no" });
      return v.kind === "refused" ? v : { kind: v.kind, job: norm(v.job) };
    }
    case "claim":
      return norm(await store.claim(`w${op.worker}`, op.jobs.map(jobId)));
    case "claimBest": {
      const v = await store.claimBest(`w${op.worker}`, op.skills, op.runnable, op.skipped);
      if (v.kind === "claimed") return { kind: v.kind, job: norm(v.job) };
      if (v.kind === "none") return v;
      return { kind: v.kind, queues: v.queues.map((q) => `${q.name} ${q.skill} ${q.length}`).sort() };
    }
    case "release":
      return norm(await store.release(jobId(op.job), await current(op.job, op.stale)));
    case "settle": {
      const s: Settlement =
        op.kind === "success"
          ? { status: "success", data: { by: op.worker, empty: {} }, transition: "finished" }
          : op.kind === "failure"
            ? { status: "failure", error: { code: "PERMANENT_ERROR", message: "x" }, transition: "failed" }
            : op.kind === "retry"
              ? { status: "failure", error: { code: "TRANSIENT_ERROR", message: "again" }, retry: true, transition: "retry" }
              : { status: "cancelled", transition: "cancelled" };
      // A replay-memory key unique to this sequence (the stores' memories outlive it).
      const remember = op.once === undefined ? {} : { remember: { key: `${ids[0]}:${op.once}`, ttlMs: 60_000 } };
      const v = await store.settle(`w${op.worker}`, jobId(op.job), await current(op.job, op.stale), { ...s, ...(op.fp === undefined ? {} : { fingerprint: op.fp }), ...remember });
      if (v.kind === "replay") return v;
      return v.kind === "ignored" ? { kind: v.kind, reason: v.reason, job: norm(v.job) } : { kind: v.kind, transition: v.transition, job: norm(v.job) };
    }
    case "progress":
      return store.progress(`w${op.worker}`, jobId(op.job), undefined, 0.5);
    case "cancel": {
      const v = await store.cancel(jobId(op.job), op.owner);
      return { kind: v.kind, job: norm(v.job) };
    }
    case "register": {
      const now = await store.now();
      const r = await store.register(workerRecord(`w${op.worker}`, now), []);
      return normWorker(r.previous);
    }
    case "heartbeat": {
      const listed = op.listed === undefined ? undefined : await Promise.all(op.listed.map(async (n) => (op.byJob ? jobId(n) : current(n, false))));
      const v = await store.heartbeat(`w${op.worker}`, { status: "busy", ttlMs: 600_000, leaseGraceMs: 600_000, ...(listed !== undefined ? { currentTasks: listed } : {}) });
      return v === undefined ? undefined : { worker: normWorker(v.worker), cancel: [...v.cancel].sort(), released: v.released.map(norm) };
    }
    case "drain":
      return store.drain(`w${op.worker}`, op.on);
    case "remove": {
      const v = await store.removeWorker(`w${op.worker}`);
      return v === undefined ? undefined : { workerId: v.workerId, released: v.released.map(norm).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) };
    }
  }
}

/** Everything observable through reads, for the final comparison. */
async function snapshot(store: HubStore, ids: string[]): Promise<unknown> {
  const queues: Record<string, unknown> = {};
  for (const skill of ["a", "b", "echo"]) {
    for (const q of [...(await store.queuesOf(skill))].sort((x, y) => x.name.localeCompare(y.name))) {
      queues[q.name] = { length: q.length, order: (await store.peek(q.name, 100)).map((e) => [e.jobId, e.priority]) };
    }
  }
  return {
    queues,
    depths: await store.queueDepths(),
    length: await store.queueLength(),
    runningCount: await store.runningCount(),
    jobs: await Promise.all(ids.map(async (id) => norm(await store.getJob(id)))),
    listed: (await store.listJobs({}, 100)).jobs.map((j) => j.jobId),
    running: (await store.listJobs({ state: "running" }, 100)).jobs.map((j) => j.jobId),
    workers: (await store.listWorkers()).map(normWorker),
  };
}

describe.skipIf(!available)("RedisStore behaves as MemoryStore", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("on random sequences of transitions", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
        const ids = Array.from({ length: JOBS }, (_, i) => `j${i}-${randomUUID().slice(0, 8)}`);
        const memory = new MemoryStore();
        const redis = new RedisStore({ url: server.url, prefix: `diff-${randomUUID()}` });
        try {
          for (const [i, op] of ops.entries()) {
            const m = await apply(memory, ids, op);
            const r = await apply(redis, ids, op);
            expect({ step: i, op, outcome: r }).toEqual({ step: i, op, outcome: m });
          }
          expect(await snapshot(redis, ids)).toEqual(await snapshot(memory, ids));
        } finally {
          await redis.close();
        }
      }),
      { numRuns: Number(process.env.RXON_FC_RUNS ?? 60), seed: Number(process.env.RXON_FC_SEED ?? 20261206) },
    );
  }, 120_000);
});
