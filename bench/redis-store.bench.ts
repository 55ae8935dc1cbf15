/**
 * RedisStore round trips on a private redis-server: claim + settle of queued jobs (two Lua scripts
 * each) in a closed loop, with 1 and with 8 clients (one RedisStore and connection each, as 8 hubs
 * would), next to the floor of a bare PING in the same shape; then, with many tasks queued, what a
 * queued task costs in Redis memory and that a sweep with nothing due and a claim do not grow with
 * the queue; and 16 concurrent job reads on one store with and without batched writes (process CPU
 * and Redis read events per read). Skipped without redis-server.
 */
import { randomUUID } from "node:crypto";
import { RedisStore } from "../src/hub/redis/index.js";
import { hasRedisServer, startRedis } from "../test/helpers/redis.js";
import type { BenchRow } from "./harness.js";

const ROUND_MS = 1500;

/** Runs `op(client)` back to back on every client for `ROUND_MS`; answers the rate. */
async function closedLoop(clients: number, op: (client: number) => Promise<unknown>): Promise<{ opsPerSec: number; usPerOp: number }> {
  let done = 0;
  const until = performance.now() + ROUND_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < until) {
        await op(c);
        done++;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  return { opsPerSec: done / secs, usPerOp: (secs * 1e6) / done };
}

/** Redis-side time per script call since the last `CONFIG RESETSTAT` (µs), from INFO commandstats. */
async function scriptUs(store: RedisStore): Promise<string> {
  const info = await store.redis.info("commandstats");
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  return m === null ? "?" : (Number(m[2]) / Number(m[1])).toFixed(1);
}

async function median(rounds: number, fn: () => Promise<{ opsPerSec: number; usPerOp: number }>): Promise<{ opsPerSec: number; usPerOp: number }> {
  const all: { opsPerSec: number; usPerOp: number }[] = [];
  for (let i = 0; i < rounds; i++) all.push(await fn());
  all.sort((a, b) => a.opsPerSec - b.opsPerSec);
  return all[all.length >> 1]!;
}

/** Benchmark rows. */
export async function run(): Promise<BenchRow[]> {
  if (!hasRedisServer()) {
    console.log("redis-store: skipped (redis-server not on PATH; apt-get install redis-server)");
    return [];
  }
  const server = await startRedis();
  const rows: BenchRow[] = [];
  try {
    for (const clients of [1, 8]) {
      const prefix = `bench-${randomUUID()}`;
      const stores = Array.from({ length: clients }, () => new RedisStore({ url: server.url, prefix }));
      await Promise.all(stores.map((s) => s.ping()));
      const floorName = `redis PING, ${clients} client${clients > 1 ? "s" : ""}`;
      const floor = await median(3, () => closedLoop(clients, (c) => stores[c]!.redis.ping()));
      rows.push({ name: floorName, ...floor });

      // Enough queued jobs for every round; each op claims the next one and settles it.
      const ids: string[] = [];
      const perRound = Math.ceil(floor.opsPerSec * (ROUND_MS / 1000)) + 1000;
      for (let i = 0; i < perRound * 3; i += 1000) {
        const batch = await Promise.all(
          Array.from({ length: 1000 }, () =>
            stores[0]!.submit({ jobId: randomUUID(), type: "echo", queue: "echo", params: { n: 1, text: "x".repeat(64) }, requirements: {}, priority: 0, maxRetries: 2 }, {}),
          ),
        );
        for (const v of batch) if (v.kind === "created") ids.push(v.job.jobId);
      }
      let next = 0;
      await stores[0]!.redis.config("RESETSTAT");
      const r = await median(3, () =>
        closedLoop(clients, async (c) => {
          const id = ids[next++];
          if (id === undefined) throw new Error("bench ran out of queued jobs");
          const job = await stores[c]!.claim(`w${c}`, [id]);
          if (job === null) throw new Error("claim failed");
          const v = await stores[c]!.settle(`w${c}`, id, job.taskId, { status: "success", data: { ok: true }, transition: "finished" });
          if (v.kind !== "accepted") throw new Error(`settle ${v.kind}`);
        }),
      );
      rows.push({ name: `claim + settle, ${clients} client${clients > 1 ? "s" : ""}`, ...r, floor: floorName, note: `2 scripts per op; ${await scriptUs(stores[0]!)} µs of Redis time per script` });
      await Promise.all(stores.map((s) => s.close()));
    }
    rows.push(...(await batching(server.url)));
    rows.push(...(await atScale(server.url)));
  } finally {
    await server.stop();
  }
  return rows;
}

/** 16 loops reading jobs on one store (as a hub's concurrent requests do), batchWrites on and off. */
async function batching(url: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const prefix = `batch-${randomUUID()}`;
  const seed = new RedisStore({ url, prefix });
  const ids = await fill(seed, 64);
  await seed.close();
  for (const batchWrites of [false, true]) {
    const store = new RedisStore({ url, prefix, batchWrites });
    await store.ping();
    let next = 0;
    const reads = async (): Promise<number> => Number(/total_reads_processed:(\d+)/.exec(await store.redis.info("stats"))?.[1] ?? 0);
    const r0 = await reads();
    const cpu0 = process.cpuUsage();
    let ops = 0;
    const r = await median(3, () =>
      closedLoop(16, async () => {
        await store.getJob(ids[next++ % ids.length]!);
        ops++;
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    const perRead = ((await reads()) - r0) / ops;
    rows.push({
      name: `getJob, 16 concurrent, one store, batchWrites ${batchWrites ? "on" : "off"}`,
      ...r,
      note: `${((cpu.user + cpu.system) / ops).toFixed(1)} µs of this process's CPU per read; ${perRead.toFixed(2)} Redis read events per read`,
    });
    await store.close();
  }
  return rows;
}

/** Submits `n` small jobs of skill `echo`, 500 in flight at a time. */
async function fill(store: RedisStore, n: number, deadline?: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, () =>
        store.submit({ jobId: randomUUID(), type: "echo", queue: "echo", params: { n: 1 }, requirements: {}, priority: 0, maxRetries: 2, ...(deadline !== undefined ? { deadline } : {}) }, {}),
      ),
    );
    for (const v of batch) if (v.kind === "created") ids.push(v.job.jobId);
  }
  return ids;
}

async function usedMemory(store: RedisStore): Promise<number> {
  const info = await store.redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/** Memory per queued task, and sweep/claim cost with 1k and 50k tasks queued. */
async function atScale(url: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const queued of [1_000, 50_000]) {
    const store = new RedisStore({ url, prefix: `scale-${randomUUID()}` });
    store.configure({ retentionMs: 600_000, maxRetained: 1_000_000, cancelGraceMs: 30_000 });
    const before = await usedMemory(store);
    const far = (await store.now()) + 3_600_000;
    const ids = await fill(store, queued, far);
    const perTask = ((await usedMemory(store)) - before) / queued;
    await store.redis.config("RESETSTAT");
    const sweep = await median(3, () => closedLoop(1, () => store.sweep(1000)));
    rows.push({ name: `sweep, nothing due, ${queued.toLocaleString("en-US")} queued`, ...sweep, note: `${await scriptUs(store)} µs of Redis time per sweep; ${Math.round(perTask)} bytes of Redis memory per queued task (params {n:1}, a deadline)` });
    await store.redis.config("RESETSTAT");
    let next = 0;
    // Claim and put back, so the queue keeps its size through the measurement.
    const claim = await median(3, () =>
      closedLoop(1, async () => {
        const id = ids[next++ % ids.length]!;
        const job = await store.claim("w", [id]);
        if (job === null) throw new Error("claim failed");
        await store.release(id, job.taskId);
      }),
    );
    rows.push({ name: `claim + release, ${queued.toLocaleString("en-US")} queued`, ...claim, note: `2 scripts per op; ${await scriptUs(store)} µs of Redis time per script` });
    await store.redis.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", 0, `{${store.prefix}}:*`);
    await store.close();
  }
  return rows;
}
