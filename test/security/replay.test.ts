import { describe, expect, it } from "vitest";
import { ReplayGuard, replayIdentity } from "../../src/security/replay.js";

describe("ReplayGuard", () => {
  it("applies the window in whole seconds, both directions, exactly the window accepted", () => {
    const guard = new ReplayGuard({ clock: () => 1_000_000_500 });
    expect(guard.checkWindow(1_000_000 - 60)).toBe("accepted");
    expect(guard.checkWindow(1_000_000 - 61)).toBe("expired");
    expect(guard.checkWindow(1_000_000 + 60)).toBe("accepted");
    expect(guard.checkWindow(1_000_000 + 61)).toBe("future");
    expect(guard.record("x", 1_000_000 + 61)).toBe("future");
    expect(guard.size).toBe(0);
  });

  it("has a configurable window", () => {
    const guard = new ReplayGuard({ clock: () => 1_000_000_000, windowMs: 5000 });
    expect(guard.checkWindow(1_000_000 - 5)).toBe("accepted");
    expect(guard.checkWindow(1_000_000 - 6)).toBe("expired");
  });

  it("refuses an exact (identity, timestamp) pair once, not the same identity at another second", () => {
    const guard = new ReplayGuard({ clock: () => 1_000_000_000 });
    expect(guard.record("a", 1_000_000)).toBe("accepted");
    expect(guard.check("a", 1_000_000)).toBe("replay");
    expect(guard.record("a", 1_000_000)).toBe("replay");
    expect(guard.record("a", 1_000_001)).toBe("accepted");
    const long = "y".repeat(5000);
    expect(guard.record(long, 1_000_000)).toBe("accepted");
    expect(guard.record(long, 1_000_000)).toBe("replay");
    expect(guard.record(long + "z", 1_000_000)).toBe("accepted");
  });

  it("forgets entries once their timestamp has left the window", () => {
    let now = 1_000_000_000;
    const guard = new ReplayGuard({ clock: () => now, windowMs: 10_000 });
    guard.record("a", 1_000_000);
    expect(guard.size).toBe(1);
    now += 30_000;
    guard.record("b", 1_000_030);
    expect(guard.size).toBe(1);
    expect(guard.record("a", 1_000_000)).toBe("expired");
  });

  it("enforces a hard cap", () => {
    const guard = new ReplayGuard({ clock: () => 1_000_000_000, maxEntries: 2 });
    expect(guard.record("a", 1_000_000)).toBe("accepted");
    expect(guard.record("b", 1_000_000)).toBe("accepted");
    expect(guard.record("c", 1_000_000)).toBe("full");
    expect(guard.record("a", 1_000_000)).toBe("replay");
  });

  it("stays bounded over 1,000,000 distinct messages with an advancing clock", () => {
    let now = 1_700_000_000_000;
    const guard = new ReplayGuard({ clock: () => now });
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let max = 0;
    let refused = 0;
    // 1 ms per message: 1000 messages per second, so the 60 s window holds about 60,000 at a time.
    for (let i = 0; i < 1_000_000; i++) {
      now += 1;
      if (guard.record(`m${i}`, Math.floor(now / 1000)) !== "accepted") refused++;
      if (guard.size > max) max = guard.size;
    }
    const heapDeltaMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
    // Window (61 s) plus one bucket (8 s) of 1000 messages per second.
    expect(refused).toBe(0);
    expect(max).toBeLessThanOrEqual(70_000);
    expect(guard.size).toBeGreaterThan(59_000);
    // Retaining all 1,000,000 entries would take several hundred MiB.
    expect(heapDeltaMb).toBeLessThan(200);
    console.info(`replay guard: max ${max} entries retained, heap delta ${heapDeltaMb.toFixed(1)} MiB after 1,000,000 messages`);
  });
});

describe("replayIdentity", () => {
  it("prefers event_id, then job_id + task_id, then the signature, then the payload hash", () => {
    expect(replayIdentity({ event_id: "e", task_id: "t" })).toBe("e\u0000e");
    expect(replayIdentity({ job_id: "j", task_id: "t" })).toBe("t\u0000j\u0000t");
    expect(replayIdentity({ worker_id: "w", security: { signature: "ab" } })).toBe("s\u0000ab");
    expect(replayIdentity({ worker_id: "w" })).toMatch(/^h\u0000[0-9a-f]{64}$/);
    expect(replayIdentity({ worker_id: "w" })).not.toBe(replayIdentity({ worker_id: "v" }));
  });
});
