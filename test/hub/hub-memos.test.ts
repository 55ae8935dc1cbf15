/** What a hub keeps in its own memory to spare store reads: bounded, and never handed to the wrong party. */
import { describe, expect, it } from "vitest";
import { HandedOut } from "../../src/hub/handed-out.js";
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
