/**
 * The `ended` signal carries the ended job's record when it is small, so a hub waiting for a job
 * that ended on another hub answers without reading it back; a large record is signalled bare and
 * read. The carried record comes from a channel message, so a garbled one is ignored (the signal
 * kept, the record read instead), never thrown on and never decoded into a prototype.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import Type from "typebox";
import { afterEach, describe, expect, test } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { Hub, MemoryStore, type HubSignal, type HubStore, type JobRecord } from "../../src/hub/index.js";
import type { HubCore } from "../../src/hub/core.js";
import { Outcomes } from "../../src/hub/outcomes.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import { Worker } from "../../src/worker/index.js";
import { redisSuite, requireRedis } from "../helpers/redis.js";
import { api } from "./client-http.js";
import { redisHubs, type RedisHub } from "./fixtures/redis-hubs.js";
import { newJob, workerRecord } from "./store-conformance.js";
import { poll, register, result, until } from "./helpers.js";

const available = requireRedis("ended signals carrying the record");
const CLIENT = "client-token-ended-signal";
const TOKENS: Record<string, string> = { "w-1": "secret-w-1" };

/** Answers a string of `size` characters. */
const sized = defineSkill({
  name: "sized",
  version: "1.0.0",
  input: Type.Object({ size: Type.Number() }),
  output: Type.Object({ text: Type.String() }),
  handler: (p) => ({ text: "x".repeat(p.size) }),
});

/** Counts the store's `getJob` calls (the read-back of a job this test says must not happen). */
function countGetJob(store: HubStore): { readonly count: number } {
  const counter = { count: 0 };
  const getJob = store.getJob.bind(store);
  store.getJob = (jobId: string) => {
    counter.count++;
    return getJob(jobId);
  };
  return counter;
}

describe.skipIf(!available)("ended signals on Redis", () => {
  const suite = redisSuite();
  const { cleanup } = suite;

  const hubs = (n: number): Promise<RedisHub[]> => redisHubs(suite.redis.url, n, { tokens: TOKENS, clientToken: CLIENT, cleanup });

  async function worker(url: string): Promise<void> {
    const w = new Worker({ url, workerId: "w-1", token: TOKENS["w-1"]!, secret: TOKENS["w-1"]!, skills: [sized] as never, heartbeatIntervalMs: 500, pollTimeoutSeconds: 5 });
    cleanup.push(() => w.stop({ graceMs: 500 }));
    await w.start();
  }

  test("a client wait and a submit() handle on hub A end without reading the job when its worker is on hub B", async () => {
    const [a, b] = await hubs(2);
    await worker(b!.server.url);
    const reads = countGetJob(a!.store);
    const done = await api(a!.server.url, "POST", "/_client/tasks?wait=20", { body: { type: "sized", params: { size: 10 } } }, CLIENT);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { text: "x".repeat(10) }, worker_id: "w-1" } });
    const handle = await a!.hub.submit({ type: "sized", params: { size: 20 } });
    expect(await handle.result()).toMatchObject({ status: "success", data: { text: "x".repeat(20) }, workerId: "w-1", attempts: 1 });
    expect(reads.count).toBe(0);
  });

  test("a record larger than 4 KiB is signalled bare: hub A reads it back, and answers the same", async () => {
    const [a, b] = await hubs(2);
    await worker(b!.server.url);
    const reads = countGetJob(a!.store);
    const done = await api(a!.server.url, "POST", "/_client/tasks?wait=20", { body: { type: "sized", params: { size: 5000 } } }, CLIENT);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { text: "x".repeat(5000) } } });
    expect(reads.count).toBeGreaterThanOrEqual(1);
    const before = reads.count;
    const handle = await a!.hub.submit({ type: "sized", params: { size: 5000 } });
    expect(await handle.result()).toMatchObject({ status: "success", data: { text: "x".repeat(5000) } });
    expect(reads.count).toBeGreaterThan(before);
  });

  test("the carried record equals the stored one; a large one is not carried", async () => {
    const prefix = `es-${randomUUID()}`;
    const store = new RedisStore({ url: suite.redis.url, prefix });
    cleanup.push(() => store.close());
    const heard: HubSignal[] = [];
    store.subscribe((s) => heard.push(s));
    await store.subscribed();
    const submit = async (jobId: string, data: Record<string, unknown>): Promise<void> => {
      await store.submit(newJob({ jobId, params: { a: 1 } }), {});
      await store.register(workerRecord("w", await store.now()), []);
      const claimed = await store.claim("w", [jobId]);
      expect(claimed?.jobId).toBe(jobId);
      const v = await store.settle("w", jobId, claimed!.taskId, { status: "success", data, transition: "t1" });
      expect(v.kind).toBe("accepted");
    };
    await submit("small", { text: "ünïcode \u2028 \"quoted\" / slash" });
    await submit("large", { text: "y".repeat(4097) });
    await until(() => heard.filter((s) => s.type === "ended").length === 2);
    const small = heard.find((s) => s.type === "ended" && s.jobId === "small") as Extract<HubSignal, { type: "ended" }>;
    const large = heard.find((s) => s.type === "ended" && s.jobId === "large") as Extract<HubSignal, { type: "ended" }>;
    expect(small.job).toEqual(await store.getJob("small"));
    expect(small.job?.state).toBe("finished");
    expect(small.job).toBe(small.job); // decoded once, then kept
    expect(large.job).toBeUndefined();
    // Nothing of the record shows when the signal is serialised again (a hub relaying it).
    expect(JSON.parse(JSON.stringify(small))).toEqual({ type: "ended", jobId: "small" });
  });

  test("a garbled record in an ended signal keeps the signal, carries no record and throws nothing", async () => {
    const prefix = `es-${randomUUID()}`;
    const store = new RedisStore({ url: suite.redis.url, prefix });
    const raw = new Redis(suite.redis.url);
    cleanup.push(async () => {
      await store.close();
      raw.disconnect();
    });
    const heard: HubSignal[] = [];
    store.subscribe((s) => heard.push(s));
    await store.subscribed();
    const scalars = (over: Record<string, unknown> = {}): string =>
      JSON.stringify({ id: "j", type: "t", queue: "q", prio: "0", maxr: "0", task: "j_0", gen: "0", att: "1", state: "finished", seq: "1", sub: "1", fin: "2", ...over });
    const garbled: unknown[] = [
      ["s"], // odd length
      ["s", 1], // not a string
      ["s", scalars(), "data"], // odd length
      Array.from({ length: 100_000 }, () => "s"), // huge
      {}, // what cjson makes of an empty table
      { s: scalars() }, // an object, not a list
      "s", // a string
      null,
      [],
      ["s", "not json"],
      ["s", "null"],
      ["s", scalars(), "data", "{broken"],
      ["s", scalars({ id: "other" })], // another job's record
      ["s", scalars({ state: "running" })], // not ended
      ["s", scalars({ state: "__proto__" })],
      ["__proto__", "{\"polluted\":true}", "s", scalars()], // known fields only: decodes, nothing polluted
    ];
    for (const rec of garbled) await raw.publish(`{${prefix}}:signals`, JSON.stringify({ type: "ended", jobId: "j", rec }));
    await raw.publish(`{${prefix}}:signals`, JSON.stringify({ type: "ended", jobId: "done" }));
    await until(() => heard.some((s) => s.type === "ended" && s.jobId === "done"));
    const ended = heard.filter((s): s is Extract<HubSignal, { type: "ended" }> => s.type === "ended" && s.jobId === "j");
    expect(ended).toHaveLength(garbled.length);
    const records = ended.map((s) => s.job);
    expect(records.slice(0, -1)).toEqual(Array.from({ length: garbled.length - 1 }, () => undefined));
    // The last one is a valid record beside a field the store does not know, which is left out.
    const last = records[records.length - 1] as JobRecord;
    expect(last).toMatchObject({ jobId: "j", state: "finished", finishedAt: 2 });
    expect(Object.keys(last)).not.toContain("polluted");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(last)).toBe(Object.prototype);
  });
});

describe("ended signals on a MemoryStore shared by two hubs", () => {
  const closing: Hub[] = [];
  afterEach(async () => {
    for (const h of closing.splice(0)) await h.close();
  });

  test("a handle on hub A resolves from the signal's record when hub B took the result", async () => {
    const store = new MemoryStore();
    const a = new Hub({ auth: {}, store });
    const b = new Hub({ auth: {}, store });
    closing.push(a, b);
    await register(b, "cpu-1", {}, { sign: false, token: null });
    const handle = await a.submit({ type: "echo", params: { n: 1 } });
    const task = (await poll(b, "cpu-1", { token: null }))!;
    const reads = countGetJob(store);
    await result(b, "cpu-1", { job_id: task.job_id, task_id: task.task_id, data: { n: 2 } }, { sign: false, token: null });
    expect(await handle.result()).toMatchObject({ status: "success", data: { n: 2 }, workerId: "cpu-1" });
    expect(reads.count).toBe(0);
  });
});

describe("Outcomes and the record an ended signal carries", () => {
  /** An ended signal whose record is counted when read (a Redis signal decodes on that read). */
  function signal(job: JobRecord): { readonly jobId: string; readonly job: JobRecord; reads: number } {
    return {
      jobId: job.jobId,
      reads: 0,
      get job() {
        this.reads++;
        return job;
      },
    };
  }
  const ended = (jobId: string): JobRecord =>
    ({ jobId, taskId: `${jobId}_0`, generation: 0, type: "t", queue: "t", params: {}, requirements: {}, priority: 0, maxRetries: 0, attempts: 1, state: "finished", seq: 1, submittedAt: 1, finishedAt: 2, status: "success", data: { ok: true } }) as JobRecord;

  function outcomes(): { o: Outcomes; reads: { count: number } } {
    const reads = { count: 0 };
    const store = { getJob: async () => (reads.count++, undefined) };
    const core = { store, counters: { succeeded: 0, failed: 0, cancelled: 0 }, events: { emit: () => true } };
    return { o: new Outcomes(core as unknown as HubCore), reads };
  }

  test("reads the record only for a job someone here waits for, and then reads nothing from the store", async () => {
    const { o, reads } = outcomes();
    const nobody = signal(ended("nobody"));
    await o.ended(nobody);
    expect(nobody.reads).toBe(0);

    const woken: (JobRecord | undefined)[] = [];
    o.watch("watched", (job) => woken.push(job));
    const watched = signal(ended("watched"));
    await o.ended(watched);
    expect(woken).toEqual([ended("watched")]);

    const handle = o.handle({ ...ended("mine"), state: "running" });
    await o.ended(signal(ended("mine")));
    expect(await handle.result()).toMatchObject({ status: "success", data: { ok: true }, jobId: "mine" });
    expect(reads.count).toBe(0);
  });

  test("an end this hub announced itself leaves nothing to read the signal's record for", async () => {
    const { o } = outcomes();
    const woken: (JobRecord | undefined)[] = [];
    o.watch("j", (job) => woken.push(job));
    o.completed(ended("j"));
    const s = signal(ended("j"));
    await o.ended(s);
    expect(s.reads).toBe(0);
    expect(woken).toHaveLength(1);
  });

  test("a carried record that is not this job's end is not used: the store is read", async () => {
    const { o, reads } = outcomes();
    o.watch("j", () => {});
    o.handle({ ...ended("j"), state: "running" });
    await o.ended(signal({ ...ended("j"), state: "running" }));
    expect(reads.count).toBe(1);
  });
});
