/**
 * Store-level chaos on a private redis-server: several processes, each a hub with one worker,
 * claim and settle 1,000 jobs while one of them is killed with SIGKILL every second and replaced.
 * Leases of a killed process lapse with its worker's lifetime and the survivors re-queue them.
 * Every job ends finished, none is lost, and no result is accepted twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { RedisStore } from "../../src/hub/redis/index.js";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { newJob } from "./store-conformance.js";

const available = requireRedis("RedisStore chaos test");
const ROOT = resolve(import.meta.dirname, "../..");
const JOBS = 1000;
const PROCS = 4;

describe.skipIf(!available)("RedisStore under SIGKILL of its clients", () => {
  let server: RedisServer;
  const children = new Set<ChildProcess>();
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    await server?.stop();
  });

  test("every job ends once, none lost, no result accepted twice", async () => {
    const prefix = `chaos-${randomUUID()}`;
    const store = new RedisStore({ url: server.url, prefix });
    const ids = new Set<string>();
    for (let i = 0; i < JOBS; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, () => store.submit(newJob({ maxRetries: 50 }), {})));
      for (const v of batch) if (v.kind === "created") ids.add(v.job.jobId);
    }
    expect(ids.size).toBe(JOBS);

    const accepted = new Map<string, number>();
    const ready = new Set<ChildProcess>();
    let spawned = 0;
    let killed = 0;
    const start = (): ChildProcess => {
      const child = spawn(process.execPath, ["--import", "tsx", "test/hub/fixtures/store-worker.ts", server.url, prefix, `w${spawned++}`], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
      children.add(child);
      child.once("exit", () => {
        children.delete(child);
        ready.delete(child);
      });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (line === "ready") ready.add(child);
        if (!line.startsWith("accepted ")) return;
        const id = line.slice("accepted ".length);
        accepted.set(id, (accepted.get(id) ?? 0) + 1);
      });
      return child;
    };
    for (let i = 0; i < PROCS; i++) start();

    // Kill a working process at random every second while work remains, and start a new one in
    // its place (bounded: at most 8 kills, so the machine is not spent starting processes).
    for (let round = 0; round < 30 && killed < 8; round++) {
      await new Promise((r) => setTimeout(r, 1000));
      const remaining = (await store.queueLength()) + (await store.listJobs({ state: "running" }, 1)).jobs.length;
      if (remaining === 0) break;
      const alive = [...ready];
      const victim = alive[Math.floor(Math.random() * alive.length)];
      if (victim === undefined) continue;
      victim.kill("SIGKILL");
      killed++;
      start();
    }
    // Let the survivors finish what was re-queued last (bounded wait).
    for (let i = 0; i < 400; i++) {
      const finished = (await store.listJobs({ state: "finished" }, JOBS + 1)).jobs.length;
      if (finished === JOBS) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const c of children) c.kill("SIGKILL");

    const jobs = (await store.listJobs({}, JOBS + 1)).jobs;
    const requeued = jobs.filter((j) => j.attempts > 1).length;
    console.log(`chaos: ${killed} of ${spawned} processes killed, ${requeued} jobs re-queued after their worker died, ${accepted.size} results reported accepted`);
    expect(killed).toBeGreaterThan(0);
    // The kills caught workers holding leases (else this test would check nothing about them).
    expect(requeued).toBeGreaterThan(0);
    expect(jobs.length).toBe(JOBS);
    expect(jobs.every((j) => j.state === "finished")).toBe(true);
    expect(new Set(jobs.map((j) => j.jobId))).toEqual(ids);
    // A result printed as accepted was accepted exactly once, and it is the one the job kept.
    expect([...accepted.values()].every((n) => n === 1)).toBe(true);
    for (const j of jobs) {
      expect(j.data).toEqual({ by: j.resultWorkerId });
      expect(j.attempts).toBeGreaterThanOrEqual(1);
    }
    expect(await store.queueLength()).toBe(0);
    await store.close();
  }, 120_000);
});
