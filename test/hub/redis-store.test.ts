/**
 * RedisStore against a private redis-server: the store conformance suite, then races between
 * several hubs (one RedisStore and one connection each) sharing one Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { RedisStore, STORE_LAYOUT, StoreLayoutError } from "../../src/hub/redis/index.js";
import { storeNotNow } from "../../src/hub/redis/redis-store.js";
import type { JobRecord } from "../../src/hub/store.js";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { newJob, storeConformance, workerRecord } from "./store-conformance.js";

const available = requireRedis("RedisStore tests");

describe.skipIf(!available)("RedisStore", () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  storeConformance("RedisStore", async () => {
    // A fresh prefix per test: an empty store on the shared server.
    const store = new RedisStore({ url: server.url, prefix: `t-${randomUUID()}` });
    return {
      store,
      advance: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
      close: () => store.close(),
    };
  });

  describe("keys, clock and lifecycle", () => {
    test("every key lives under the prefix's hash tag", async () => {
      const prefix = `tag-${randomUUID()}`;
      const store = new RedisStore({ url: server.url, prefix });
      const now = await store.now();
      await store.register(workerRecord("w1", now), [{ skill: "echo", key: "k", info: { name: "echo" } }]);
      const job = await store.submit(newJob({ owner: "o", idempotencyKey: "i", deadline: now + 60_000 }), {});
      const claimed = await store.claim("w1", [(job as { job: JobRecord }).job.jobId]);
      await store.cancel(claimed!.jobId);
      await store.putToken("t", { kind: "access", workerId: "w1", expiresAt: now + 60_000 });
      await store.remember("r", 60_000);
      const keys = await store.redis.keys(`*${prefix}*`);
      expect(keys.length).toBeGreaterThan(5);
      for (const k of keys) expect(k.startsWith(`{${prefix}}:`)).toBe(true);
      await store.close();
    });

    test("ping() records the store layout on a fresh prefix and refuses a prefix of another layout", async () => {
      const client = new Redis(server.url);
      try {
        const prefix = `layout-${randomUUID()}`;
        const first = await RedisStore.connect(server.url, { prefix });
        expect(await client.get(`{${prefix}}:layout`)).toBe(STORE_LAYOUT);
        await first.close();
        // A second hub of the same version shares the prefix.
        const second = await RedisStore.connect(server.url, { prefix });
        await second.close();
        // Keys written by a version of another layout: refused at once, naming both layouts, never misread.
        const old = `layout-old-${randomUUID()}`;
        await client.set(`{${old}}:layout`, "1");
        const refused = await RedisStore.connect(server.url, { prefix: old }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(refused).toBeInstanceOf(StoreLayoutError);
        expect((refused as Error).message).toMatch(new RegExp(`layout 1;.*layout ${STORE_LAYOUT}\\.`));
        expect(storeNotNow(refused)).toBe(false);
        expect(await client.get(`{${old}}:layout`)).toBe("1");
        // A store made without connect() meets the same refusal at its first ping (readiness),
        // and says so among the warnings a hub logs at start.
        const direct = new RedisStore({ url: server.url, prefix: old });
        await expect(direct.ping()).rejects.toBeInstanceOf(StoreLayoutError);
        expect(await direct.settingsWarnings()).toEqual([expect.stringMatching(/^Redis keys under the prefix layout-old-.* are of store layout 1;/)]);
        await direct.close();
      } finally {
        client.disconnect();
      }
    });

    test("now() is Redis time and ping() answers; a client passed in stays open after close()", async () => {
      const client = new Redis(server.url);
      const store = new RedisStore({ redis: client, prefix: `own-${randomUUID()}` });
      const [s] = await client.time();
      expect(Math.abs((await store.now()) - Number(s) * 1000)).toBeLessThan(60_000);
      await store.ping();
      store.subscribe(() => {});
      await store.close();
      expect(await client.ping()).toBe("PONG");
      client.disconnect();
    });

    test("ping() fails soon when Redis cannot be reached", async () => {
      const store = new RedisStore({ url: "redis://127.0.0.1:1", pingTimeoutMs: 200, redisOptions: { lazyConnect: true, retryStrategy: () => 50 } });
      await expect(store.ping()).rejects.toThrow();
      await store.close();
    });

    test("refuses numbers a script could not store before running it", async () => {
      const store = new RedisStore({ url: server.url, prefix: `nan-${randomUUID()}` });
      const now = await store.now();
      await expect(store.register(workerRecord("w", now, Number.NaN), [])).rejects.toThrow(/finite/);
      await store.register(workerRecord("w", now), []);
      await expect(store.heartbeat("w", { status: "idle", ttlMs: Number.POSITIVE_INFINITY, leaseGraceMs: 10 })).rejects.toThrow(/finite/);
      await expect(store.touch("w", Number.NaN)).rejects.toThrow(/finite/);
      await expect(store.submit(newJob({ priority: Number.NaN }), {})).rejects.toThrow(/finite/);
      // Nothing half-written: the worker is as registered.
      expect((await store.getWorker("w"))!.expiresAt).toBe(now + 600_000);
      expect(await store.queueLength()).toBe(0);
      await store.close();
    });

    test("refuses a prefix with braces, and a client with its own keyPrefix", () => {
      expect(() => new RedisStore({ url: server.url, prefix: "a}b", redisOptions: { lazyConnect: true } })).toThrow(/prefix/);
      expect(() => new RedisStore({ url: server.url, redisOptions: { lazyConnect: true, keyPrefix: "x:" } })).toThrow(/keyPrefix/);
      const client = new Redis(server.url, { lazyConnect: true, keyPrefix: "y:" });
      expect(() => new RedisStore({ redis: client })).toThrow(/keyPrefix/);
      client.disconnect();
    });

    test("ignores malformed messages on the signal channel", async () => {
      const prefix = `sig-${randomUUID()}`;
      const store = new RedisStore({ url: server.url, prefix });
      const heard: unknown[] = [];
      store.subscribe((s) => heard.push(s));
      await store.subscribed();
      const channel = `{${prefix}}:signals`;
      for (const m of ["not json", "null", '{"type":"queued"}', '{"type":"boom","x":1}', '{"type":"worker","workerId":5}']) await store.redis.publish(channel, m);
      await store.publish({ type: "ended", jobId: "j" });
      for (let i = 0; i < 200 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual([{ type: "ended", jobId: "j" }]);
      await store.close();
    });
  });

  describe("races between hubs", () => {
    test("8 hubs claiming and settling the same jobs: each job claimed once, no result accepted twice", async () => {
      const prefix = `race-${randomUUID()}`;
      const hubs = Array.from({ length: 8 }, () => new RedisStore({ url: server.url, prefix }));
      const JOBS = 400;
      const submitted = await Promise.all(Array.from({ length: JOBS }, (_, i) => hubs[i % 8]!.submit(newJob({ priority: i % 3 }), {})));
      expect(submitted.every((v) => v.kind === "created")).toBe(true);
      const claims = new Map<string, number>();
      const accepted = new Map<string, number>();
      let ignoredOrDuplicate = 0;
      // Every hub runs two "workers"; each peeks the same head of the queue, so they collide.
      const loops = hubs.flatMap((store, h) =>
        [0, 1].map(async (k) => {
          const workerId = `w${h}-${k}`;
          for (let round = 0; round < 10_000; round++) {
            const head = await store.peek("echo", 8);
            if (head.length === 0) return;
            const job = await store.claim(workerId, head.map((e) => e.jobId));
            if (job === null) continue;
            claims.set(job.jobId, (claims.get(job.jobId) ?? 0) + 1);
            // The worker sends its result twice, and another worker claims to have the same task.
            const verdicts = await Promise.all([
              store.settle(workerId, job.jobId, job.taskId, { status: "success", data: { by: workerId }, transition: "finished" }),
              hubs[(h + 1) % 8]!.settle(workerId, job.jobId, job.taskId, { status: "success", data: { by: workerId }, transition: "finished" }),
              hubs[(h + 2) % 8]!.settle(`other-${h}`, job.jobId, job.taskId, { status: "success", data: { by: "other" }, transition: "finished" }),
            ]);
            for (const v of verdicts) {
              if (v.kind === "accepted") accepted.set(job.jobId, (accepted.get(job.jobId) ?? 0) + 1);
              else ignoredOrDuplicate++;
            }
          }
        }),
      );
      await Promise.all(loops);
      expect(claims.size).toBe(JOBS);
      expect([...claims.values()].every((n) => n === 1)).toBe(true);
      expect(accepted.size).toBe(JOBS);
      expect([...accepted.values()].every((n) => n === 1)).toBe(true);
      expect(ignoredOrDuplicate).toBe(2 * JOBS);
      const all = await hubs[0]!.listJobs({ state: "finished" }, JOBS + 1);
      expect(all.jobs.length).toBe(JOBS);
      for (const j of all.jobs) expect(j.attempts).toBe(1);
      expect(await hubs[0]!.queueLength()).toBe(0);
      await Promise.all(hubs.map((s) => s.close()));
    });

    test("8 hubs submitting with one idempotency key create one job; limits hold under concurrency", async () => {
      const prefix = `idem-${randomUUID()}`;
      const hubs = Array.from({ length: 8 }, () => new RedisStore({ url: server.url, prefix }));
      const verdicts = await Promise.all(hubs.map((s) => s.submit(newJob({ owner: "o", idempotencyKey: "same" }), {})));
      expect(verdicts.filter((v) => v.kind === "created").length).toBe(1);
      const ids = new Set(verdicts.map((v) => (v as { job: JobRecord }).job.jobId));
      expect(ids.size).toBe(1);
      const limited = await Promise.all(Array.from({ length: 64 }, (_, i) => hubs[i % 8]!.submit(newJob({ type: "lim" }), { perSkill: 10 })));
      expect(limited.filter((v) => v.kind === "created").length).toBe(10);
      expect(await hubs[3]!.queueDepths()).toEqual({ echo: 1, lim: 10 });
      await Promise.all(hubs.map((s) => s.close()));
    });

    test("a signal published on one hub is heard by the others", async () => {
      const prefix = `fan-${randomUUID()}`;
      const hubs = Array.from({ length: 3 }, () => new RedisStore({ url: server.url, prefix }));
      const heard: string[][] = hubs.map(() => []);
      hubs.forEach((s, i) => s.subscribe((sig) => sig.type === "queued" && heard[i]!.push(sig.queue)));
      await Promise.all(hubs.map((s) => s.subscribed()));
      await hubs[0]!.submit(newJob({ queue: "fan-q" }), {});
      for (let i = 0; i < 200 && heard.some((h) => h.length === 0); i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual([["fan-q"], ["fan-q"], ["fan-q"]]);
      await Promise.all(hubs.map((s) => s.close()));
    });
  });
});
