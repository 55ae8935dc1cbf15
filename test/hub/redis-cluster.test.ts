/**
 * RedisStore on a Redis Cluster (three masters started here, joined with redis-cli): the store
 * conformance suite through an ioredis `Cluster` client. Every store's keys share one hash tag,
 * so each store lives in one slot; the random prefixes of the tests spread over all three nodes.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { RedisStore } from "../../src/hub/redis/index.js";
import { hasRedisCli, requireRedis, startRedisCluster, type RedisCluster } from "../helpers/redis.js";
import { newJob, storeConformance } from "./store-conformance.js";

const available = requireRedis("RedisStore cluster tests") && hasRedisCli();

describe.skipIf(!available)("RedisStore on a Redis Cluster", () => {
  let cluster: RedisCluster;
  const slotsUsed = new Set<number>();
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const client = (): Cluster => {
    const c = new Cluster(cluster.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })));
    c.on("error", () => {});
    return c;
  };

  storeConformance("RedisStore (cluster)", async () => {
    const redis = client();
    const prefix = `c-${randomUUID()}`;
    const store = new RedisStore({ redis, prefix });
    slotsUsed.add(Number(await redis.cluster("KEYSLOT", `{${prefix}}:x`)));
    return {
      store,
      advance: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
      async close() {
        await store.close();
        await redis.quit();
      },
    };
  });

  test("the stores above lived in many slots, and one store's keys all share its slot", async () => {
    expect(slotsUsed.size).toBeGreaterThan(10);
    const redis = client();
    const prefix = `slot-${randomUUID()}`;
    const store = new RedisStore({ redis, prefix });
    const now = await store.now();
    await store.register({ id: "w", status: "idle", workerType: "cpu", skills: [{ name: "echo" }], registeredAt: now, lastSeenAt: now, expiresAt: now + 60_000 }, []);
    const v = await store.submit(newJob({ deadline: now + 60_000, owner: "o", idempotencyKey: "k" }), {});
    expect(v.kind).toBe("created");
    expect(await store.claim("w", [(v as { job: { jobId: string } }).job.jobId])).not.toBeNull();
    const slot = Number(await redis.cluster("KEYSLOT", `{${prefix}}:`));
    // Ask every node directly: only the slot's owner holds keys of it, and those are all of the store's keys.
    const direct = cluster.nodes.map((n) => new Redis(n.url));
    const perNode = await Promise.all(direct.map(async (n) => (await n.cluster("GETKEYSINSLOT", slot, 1000)) as string[]));
    expect(perNode.filter((keys) => keys.length > 0).length).toBe(1);
    const keys = perNode.flat();
    expect(keys.length).toBeGreaterThan(5);
    for (const k of keys) expect(k.startsWith(`{${prefix}}:`)).toBe(true);
    let everywhere = 0;
    for (const n of direct) everywhere += (await n.keys(`{${prefix}}*`)).length;
    expect(everywhere).toBe(keys.length);
    for (const n of direct) n.disconnect();
    await store.close();
    await redis.quit();
  });
});
