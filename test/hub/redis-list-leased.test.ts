/**
 * `listJobs({ workerId, state: "running" })` (a skill call that does not name its task) reads the
 * worker's leases, not every job the store retains; and pages as MemoryStore does.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { Redis } from "ioredis";
import { MemoryStore } from "../../src/hub/memory-store.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import type { HubStore } from "../../src/hub/store.js";
import { redisSuite, requireRedis } from "../helpers/redis.js";
import { newJob } from "./store-conformance.js";

const available = requireRedis("listJobs of a worker's running jobs");

describe.skipIf(!available)("listJobs of a worker's running jobs", () => {
  const suite = redisSuite();

  async function fill(store: HubStore, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 500) {
      const vs = await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, k) => store.submit(newJob({ jobId: `job-${String(i + k).padStart(6, "0")}`, type: (i + k) % 2 ? "a" : "b" }), {})));
      for (const v of vs) if (v.kind === "created") ids.push(v.job.jobId);
    }
    return ids;
  }

  test("answers the same as MemoryStore, paged", async () => {
    const redis = new RedisStore({ url: suite.redis.url, prefix: `leased-${randomUUID()}` });
    suite.cleanup.push(async () => void (await redis.close()));
    const memory = new MemoryStore();
    const pages: string[][][] = [];
    for (const store of [memory, redis] as HubStore[]) {
      const ids = await fill(store, 40);
      for (const id of ids.filter((_, i) => i % 3 === 0)) await store.claim("w-1", [id]);
      for (const id of ids.filter((_, i) => i % 3 === 1)) await store.claim("w-2", [id]);
      const first = ids.find((_, i) => i % 3 === 0)!;
      const j = await store.getJob(first);
      await store.settle("w-1", first, j!.taskId, { status: "success", transition: "t" });
      const got: string[][] = [];
      for (const filter of [{ workerId: "w-1", state: "running" as const }, { workerId: "w-1", state: "running" as const, type: "a" }]) {
        let cursor: string | undefined;
        for (let p = 0; p < 20; p++) {
          const page = await store.listJobs(filter, 4, cursor);
          got.push(page.jobs.map((x) => x.jobId));
          cursor = page.cursor;
          if (cursor === undefined) break;
        }
      }
      pages.push(got);
    }
    expect(pages[1]).toEqual(pages[0]);
  });

  test("costs the worker's leases, not the jobs retained", async () => {
    const store = new RedisStore({ url: suite.redis.url, prefix: `leased-cost-${randomUUID()}` });
    const admin = new Redis(suite.redis.url);
    suite.cleanup.push(async () => {
      await store.close();
      admin.disconnect();
    });
    const ids = await fill(store, 5000);
    const mine = await store.claim("w-1", [ids[0]!]);
    await admin.config("RESETSTAT");
    const { jobs } = await store.listJobs({ workerId: "w-1", state: "running" }, 1000);
    expect(jobs.map((j) => j.jobId)).toEqual([mine!.jobId]);
    const stats = await admin.info("commandstats");
    const hget = Number(/cmdstat_hget:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    expect(hget).toBeLessThan(100);
  });
});
