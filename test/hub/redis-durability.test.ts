/**
 * RedisStore state across Redis restarts, on a private redis-server with the append-only file
 * (`appendfsync everysec`): a clean restart keeps everything (queued and running jobs, leases,
 * idempotency); a SIGKILL of redis-server loses at most the writes of the last fsync window
 * (Redis writes the file before it answers, so a killed process usually loses nothing; fsync every
 * second bounds what a machine crash loses), measured and printed here. A Redis that may evict keys
 * when full (any `maxmemory-policy` but `noeviction`) would lose tasks without any restart: the hub
 * warns of it when it starts.
 */
import { afterAll, describe, expect, test } from "vitest";
import { randomUUID } from "node:crypto";
import { Hub } from "../../src/hub/index.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import { memoryLogger } from "../helpers/logger.js";
import { until } from "./helpers.js";
import type { JobRecord } from "../../src/hub/store.js";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { newJob } from "./store-conformance.js";

const available = requireRedis("RedisStore durability tests");
const servers: RedisServer[] = [];

afterAll(async () => {
  for (const s of servers) await s.stop();
});

describe.skipIf(!available)("RedisStore durability (appendonly, fsync every second)", () => {
  test("a hub on a Redis that may evict keys warns of it when it starts, and one on a noeviction Redis does not", async () => {
    const evicting = await startRedis({ extraArgs: ["--maxmemory-policy", "allkeys-lru"] });
    const safe = await startRedis();
    servers.push(evicting, safe);
    const start = async (url: string): Promise<{ store: RedisStore; warnings: () => string[]; close: () => Promise<void> }> => {
      const logger = memoryLogger();
      const store = new RedisStore({ url, prefix: `warn-${randomUUID()}` });
      const hub = new Hub({ store, logger });
      await hub.sweep();
      return { store, warnings: () => logger.entries.filter((e) => e.level === "warn").map((e) => e.message), close: async () => (await hub.close(), await store.close()) };
    };
    const a = await start(evicting.url);
    await until(() => a.warnings().length > 0);
    expect(a.warnings()).toEqual([expect.stringMatching(/^hub: Redis maxmemory-policy is allkeys-lru: .* tasks are lost .* Set maxmemory-policy noeviction/)]);
    await a.close();
    const b = await start(safe.url);
    expect(await b.store.settingsWarnings()).toEqual([]);
    expect(b.warnings()).toEqual([]);
    await b.close();
  });

  test("a clean restart keeps queued and running jobs, leases and idempotency keys", async () => {
    const server = await startRedis({ appendonly: true, appendfsync: "everysec" });
    servers.push(server);
    const prefix = `dur-${randomUUID()}`;
    let store = new RedisStore({ url: server.url, prefix });
    const now = await store.now();
    await store.register({ id: "w1", status: "busy", workerType: "cpu", skills: [{ name: "echo" }], registeredAt: now, lastSeenAt: now, expiresAt: now + 600_000 }, []);
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 50; i++) {
      const v = await store.submit(newJob({ owner: "o", idempotencyKey: `k${i}` }), {});
      jobs.push((v as { job: JobRecord }).job);
    }
    const running = await store.claim("w1", jobs.slice(0, 5).map((j) => j.jobId));
    expect(running).not.toBeNull();
    const survivor = new RedisStore({ url: server.url, prefix });
    expect(await survivor.queueLength()).toBe(49);
    await store.close();

    await server.restart();
    // A store that stays up across the restart reconnects, and its scripts load again (NOSCRIPT).
    let reconnected = false;
    for (let i = 0; i < 200 && !reconnected; i++) {
      try {
        await survivor.ping();
        reconnected = true;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(reconnected).toBe(true);
    expect((await survivor.submit(newJob(), {})).kind).toBe("created");
    expect(await survivor.queueLength()).toBe(50);
    await survivor.close();
    store = new RedisStore({ url: server.url, prefix });
    expect(await store.queueLength()).toBe(50);
    expect((await store.getJob(running!.jobId))!).toMatchObject({ state: "running", workerId: "w1" });
    expect((await store.submit(newJob({ owner: "o", idempotencyKey: "k7" }), {})).kind).toBe("existing");
    // The worker comes back: its lease is still there and its result is accepted.
    expect((await store.heartbeat("w1", { status: "busy", currentTasks: [running!.taskId], ttlMs: 60_000, leaseGraceMs: 60_000 }))!.released).toEqual([]);
    expect((await store.settle("w1", running!.jobId, running!.taskId, { status: "success", data: {}, transition: "finished" })).kind).toBe("accepted");
    const next = await store.claim("w2", (await store.peek("echo", 3)).map((e) => e.jobId));
    expect(next!.attempts).toBe(1);
    await store.close();
  });

  test("a SIGKILL of redis-server loses no acknowledged submit older than the fsync window", async () => {
    const server = await startRedis({ appendonly: true, appendfsync: "everysec" });
    servers.push(server);
    const prefix = `kill-${randomUUID()}`;
    const store = new RedisStore({ url: server.url, prefix, redisOptions: { maxRetriesPerRequest: 0, enableOfflineQueue: false } });
    const acked: { jobId: string; at: number }[] = [];
    let stop = false;
    const writers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const job = newJob();
        try {
          const v = await store.submit(job, {});
          if (v.kind === "created") acked.push({ jobId: job.jobId, at: performance.now() });
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await new Promise((r) => setTimeout(r, 3000));
    const killedAt = performance.now();
    await server.kill();
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(writers);
    await store.close();

    await server.restart();
    const after = new RedisStore({ url: server.url, prefix });
    const p = after.redis.pipeline();
    for (const a of acked) p.exists(`{${prefix}}:j:${a.jobId}`);
    const res = (await p.exec())!;
    const lost = acked.filter((_, i) => res[i]![1] === 0);
    const windowMs = lost.length === 0 ? 0 : killedAt - Math.min(...lost.map((l) => l.at));
    console.log(`appendfsync everysec, SIGKILL: ${lost.length} of ${acked.length} acknowledged submits lost, all from the last ${Math.round(windowMs)} ms before the kill`);
    expect(acked.length).toBeGreaterThan(100);
    // Redis documents up to 1 s of writes lost with everysec (2 s when fsync is slow).
    expect(windowMs).toBeLessThanOrEqual(2500);
    expect(lost.length).toBeLessThan(acked.length);
    // What survived is consistent: the waiting counter matches the queue.
    expect(await after.queueLength()).toBe((await after.peek("echo", 1_000_000)).length);
    await after.close();
  }, 30_000);
});
