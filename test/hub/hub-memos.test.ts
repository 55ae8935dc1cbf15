/** What a hub keeps in its own memory to spare store reads: bounded, and never handed to the wrong party. */
import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.js";
import { HubCore } from "../../src/hub/core.js";
import { Dispatcher } from "../../src/hub/dispatcher.js";
import { Hub, MemoryStore } from "../../src/hub/index.js";
import { Outcomes } from "../../src/hub/outcomes.js";
import { queueNameOf } from "../../src/hub/dispatch.js";
import { HandedOut } from "../../src/hub/handed-out.js";
import { Worker } from "../../src/worker/index.js";
import { double } from "../helpers/skills.js";
import { SECRETS } from "./helpers.js";
import type { WorkerRecord } from "../../src/hub/store.js";
import { WorkerCache } from "../../src/hub/worker-cache.js";

const skill = { name: "echo", version: "1.0.0" };

function worker(id: string, status = "idle"): WorkerRecord {
  return { id, status, skills: [skill], registeredAt: 0, lastSeenAt: 0, expiresAt: 1 } as unknown as WorkerRecord;
}

describe("HandedOut", () => {
  it("gives a task's skill once, and only to the worker it was handed to", () => {
    const handed = new HandedOut();
    handed.note("t-1", "w-1", skill);
    expect(handed.take("t-1", "w-2")).toBeUndefined();
    // The wrong worker's attempt forgets it too: the result is then checked from the store.
    expect(handed.take("t-1", "w-1")).toBeUndefined();
    handed.note("t-2", "w-1", skill);
    expect(handed.take("t-2", "w-1")).toEqual({ workerId: "w-1", skill });
    expect(handed.take("t-2", "w-1")).toBeUndefined();
  });

  it("drops the oldest entries past its limit", () => {
    const handed = new HandedOut(3);
    for (let i = 0; i < 5; i++) handed.note(`t-${i}`, "w", skill);
    expect(handed.take("t-0", "w")).toBeUndefined();
    expect(handed.take("t-1", "w")).toBeUndefined();
    for (const t of ["t-2", "t-3", "t-4"]) expect(handed.take(t, "w")?.skill).toEqual(skill);
  });
});

describe("WorkerCache", () => {
  it("answers a record until its time is up, or until it is forgotten", () => {
    let now = 0;
    const cache = new WorkerCache(1000, () => now);
    cache.put(worker("w-1"));
    now = 999;
    expect(cache.get("w-1")?.id).toBe("w-1");
    now = 1000;
    expect(cache.get("w-1")).toBeUndefined();
    cache.put(worker("w-1", "busy"));
    expect(cache.get("w-1")?.status).toBe("busy");
    cache.forget("w-1");
    expect(cache.get("w-1")).toBeUndefined();
    expect(cache.get("never")).toBeUndefined();
  });

  it("replaces a record put again and restarts its time", () => {
    let now = 0;
    const cache = new WorkerCache(1000, () => now);
    cache.put(worker("w-1", "idle"));
    now = 900;
    cache.put(worker("w-1", "draining"));
    now = 1500;
    expect(cache.get("w-1")?.status).toBe("draining");
  });
});


describe("a hub fed ever new task types", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it("does not keep what it learned of every queue it has seen: those of skills no poll waits for are forgotten", () => {
    const core = new HubCore(new MemoryStore(), {}, new EventEmitter() as never, silentLogger);
    const dispatcher = new Dispatcher(core, new Outcomes(core));
    let most = 0;
    for (let i = 0; i < 100_000; i++) {
      const type = `type-${i}`;
      dispatcher.learnJob({ jobId: `job-${i}`, type, queue: queueNameOf(type, {}), requirements: {}, params: {} }, 2);
      most = Math.max(most, dispatcher.learnedQueues);
    }
    // 100,000 before; now at most the bound (10,000) and one.
    expect(most).toBeLessThanOrEqual(10_001);
    expect(dispatcher.learnedQueues).toBeLessThanOrEqual(10_001);
    dispatcher.close();
  });

  it("still dispatches to the skills whose queues it forgot, and to polls parked meanwhile", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS }, heartbeatIntervalMs: 500 });
    cleanup.push(() => hub.close());
    const server = await hub.listen({ port: 0 });
    const flood = async (tag: string): Promise<void> => {
      const ids: string[] = [];
      for (let i = 0; i < 25_000; i++) ids.push((await hub.submit({ type: `${tag}-${i}`, params: {} })).jobId);
      for (const id of ids) await hub.cancel(id);
    };
    // Queued before any worker for it, then forgotten under the flood of other types.
    const early = await hub.submit({ type: "double", params: { n: 1 } });
    await flood("a");
    const worker = new Worker({ url: server.url, workerId: "cpu-1", token: SECRETS["cpu-1"]!, secret: SECRETS["cpu-1"]!, skills: [double], heartbeatIntervalMs: 500 });
    cleanup.push(() => worker.stop({ graceMs: 500 }));
    await worker.start();
    expect(await early.result()).toMatchObject({ status: "success", data: { n: 2 } });
    // The worker's poll is parked now; its skill's queues are kept through another flood.
    await flood("b");
    const late = await hub.submit({ type: "double", params: { n: 5 } });
    expect(await late.result()).toMatchObject({ status: "success", data: { n: 10 } });
  }, 60_000);
});
