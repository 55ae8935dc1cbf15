/**
 * RedisStore round trips on a private redis-server: claim + settle of queued jobs (two Lua scripts
 * each) in a closed loop, with 1 and with 8 clients (one RedisStore and connection each, as 8 hubs
 * would), next to the floor of a bare PING in the same shape. Skipped without redis-server.
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
      rows.push({ name: `claim + settle, ${clients} client${clients > 1 ? "s" : ""}`, ...r, floor: floorName, note: "2 scripts per op" });
      await Promise.all(stores.map((s) => s.close()));
    }
  } finally {
    await server.stop();
  }
  return rows;
}
