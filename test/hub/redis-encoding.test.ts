/**
 * RedisStore's wire economy against a private redis-server: a job's scalars kept as one JSON
 * object (client strings must round-trip and never pass for the job's state), queue heads read
 * with their queues, and the commands of one pass of the event loop sent in one socket write.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { RedisStore } from "../../src/hub/redis/index.js";
import type { JobRecord } from "../../src/hub/store.js";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { newJob, workerRecord } from "./store-conformance.js";

const available = requireRedis("RedisStore encoding tests");

/** Read events Redis has processed on all connections (INFO stats). */
async function readsProcessed(admin: Redis): Promise<number> {
  const info = await admin.info("stats");
  const m = /total_reads_processed:(\d+)/.exec(info);
  if (m === null) throw new Error("redis-server reports no total_reads_processed");
  return Number(m[1]);
}

describe.skipIf(!available)("RedisStore encoding", () => {
  let server: RedisServer;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  test("client strings round-trip and cannot pass for the job's state", async () => {
    const store = new RedisStore({ url: server.url, prefix: `enc-${randomUUID()}` });
    // Text that, unescaped, would read as a waiting state; and characters JSON escapes.
    const forged = `x","state":"waiting_for_worker","y":"`;
    const odd = `é\u2028😀 "quoted" back\\slash /slash \u0000 nul\ttab`;
    const v = await store.submit(newJob({ owner: forged, idempotencyKey: odd, type: odd, queue: forged, metadata: { odd } }), {});
    expect(v.kind).toBe("created");
    const job = (v as { job: JobRecord }).job;
    expect(job.owner).toBe(forged);
    expect(job.idempotencyKey).toBe(odd);
    expect(job.type).toBe(odd);
    expect(job.queue).toBe(forged);
    expect(await store.getJob(job.jobId)).toEqual(job);
    expect((await store.queuesOf(odd)).map((q) => q.name)).toEqual([forged]);
    const claimed = await store.claim("w1", [job.jobId]);
    expect(claimed?.state).toBe("running");
    expect(claimed?.owner).toBe(forged);
    // Running now: no second claim, whatever its strings say.
    expect(await store.claim("w2", [job.jobId])).toBeNull();
    const again = await store.submit(newJob({ owner: forged, idempotencyKey: odd, type: odd, queue: forged }), {});
    expect(again).toMatchObject({ kind: "existing", job: { jobId: job.jobId, state: "running" } });
    const settled = await store.settle("w1", job.jobId, claimed!.taskId, { status: "success", data: { odd }, transition: "success_transition", fingerprint: odd });
    expect(settled).toMatchObject({ kind: "accepted", job: { state: "finished", data: { odd }, settled: { fingerprint: odd, workerId: "w1" } } });
    expect((await store.listJobs({ owner: forged }, 10)).jobs.map((j) => j.jobId)).toEqual([job.jobId]);
    await store.close();
  });

  test("queuesOf answers each queue's head when asked, as peek would", async () => {
    const store = new RedisStore({ url: server.url, prefix: `head-${randomUUID()}` });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const v = await store.submit(newJob({ priority: i % 2 }), {});
      ids.push((v as { job: JobRecord }).job.jobId);
    }
    await store.submit(newJob({ queue: "echo|gpu", requirements: { devices: [{ type: "gpu" }] } as never }), {});
    const plain = await store.queuesOf("echo");
    for (const q of plain) expect(q.head).toBeUndefined();
    const withHead = [...(await store.queuesOf("echo", 3))].sort((a, b) => a.name.localeCompare(b.name));
    expect(withHead.map((q) => [q.name, q.length])).toEqual([
      ["echo", 5],
      ["echo|gpu", 1],
    ]);
    expect(withHead[0]!.head).toEqual(await store.peek("echo", 3));
    expect(withHead[1]!.head).toEqual(await store.peek("echo|gpu", 3));
    expect(withHead[0]!.head!.map((e) => e.jobId)).toEqual([ids[1], ids[3], ids[0]]);
    await store.close();
  });

  test("commands issued in one turn reach Redis in one write; their answers stay in order", async () => {
    const prefix = `batch-${randomUUID()}`;
    const store = new RedisStore({ url: server.url, prefix });
    const now = await store.now();
    await store.register(workerRecord("w1", now), []);
    for (let i = 0; i < 20; i++) expect((await store.submit(newJob({}), {})).kind).toBe("created");
    const jobs = (await store.listJobs({}, 100)).jobs;
    const before = await readsProcessed(admin);
    // 20 reads of jobs, 20 of the worker, one of the queues, one script: 42 commands in one turn.
    const answers = await Promise.all([
      ...jobs.map((j) => store.getJob(j.jobId)),
      ...jobs.map(() => store.getWorker("w1")),
      store.queuesOf("echo"),
      store.now(),
    ]);
    const after = await readsProcessed(admin);
    // The burst is one read (maybe split by the kernel in two), the INFO after it one more.
    expect(after - before).toBeLessThanOrEqual(3);
    expect(answers.slice(0, 20).map((j) => (j as JobRecord).jobId)).toEqual(jobs.map((j) => j.jobId));
    expect(answers.slice(20, 40).every((w) => (w as { id: string }).id === "w1")).toBe(true);
    expect(answers[40]).toEqual([{ name: "echo", skill: "echo", requirements: {}, length: 20 }]);
    // A later turn is not held back by the earlier one.
    expect((await store.getJob(jobs[0]!.jobId))?.jobId).toBe(jobs[0]!.jobId);
    await store.close();
  });

  test("commands issued by separate callbacks of one pass of the event loop leave in one socket write", async () => {
    const store = new RedisStore({ url: server.url, prefix: `batch-${randomUUID()}` });
    await store.now();
    // Socket writes as the client makes them (the kernel could merge writes on Redis's side).
    const stream = (store.redis as unknown as { stream: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } }).stream;
    let writes = 0;
    for (const name of ["_write", "_writev"] as const) {
      const original = stream[name].bind(stream);
      stream[name] = (...a: unknown[]) => {
        writes++;
        original(...a);
      };
    }
    // Two timers due together run in one timers phase, each a turn of its own.
    const answers = await new Promise<unknown[]>((resolve) => {
      const all: Promise<unknown>[] = [];
      setTimeout(() => all.push(store.now(), store.getJob("job-a")), 0);
      setTimeout(() => {
        all.push(store.now(), store.getJob("job-b"));
        resolve(Promise.all(all));
      }, 0);
    });
    expect(answers).toHaveLength(4);
    expect(writes).toBe(1);
    await store.close();
  });
});
