/**
 * The shared waiting primitives: the rate-limit backoff's schedule and a sleep that survives
 * delays longer than one Node.js timer can hold.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Backoff, MAX_TIMER_MS, RateLimitBackoff, sleep } from "../../src/transport/backoff.js";

describe("RateLimitBackoff", () => {
  const noJitter = (): number => 0;

  it("doubles past the 30 s default hint and past Retry-After, up to 10 minutes by default", () => {
    const b = new RateLimitBackoff({ random: noJitter });
    expect([30_000, 30_000, 30_000, 30_000, 30_000, 30_000].map((hint) => b.next(hint))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000]);
    expect(b.consecutive).toBe(6);
    expect(b.next(undefined)).toBe(600_000);
  });

  it("counts a Retry-After under 1 s (or none) as 1 s, and a success starts again from the hint", () => {
    const b = new RateLimitBackoff({ random: noJitter });
    expect(b.next(1)).toBe(1_000);
    expect(b.next(0)).toBe(2_000);
    expect(b.next(60_000)).toBe(60_000);
    b.reset();
    expect(b.next(5_000)).toBe(5_000);
    expect(b.next(undefined)).toBe(10_000);
  });

  it("jitters upwards only, by at most a quarter, and never over the cap", () => {
    const b = new RateLimitBackoff({ minDelayMs: 100, maxDelayMs: 1_000, random: () => 1 });
    expect(b.next(0)).toBe(125);
    expect(b.next(0)).toBe(250);
    expect(b.next(0)).toBe(500);
    expect(b.next(0)).toBe(1_000);
    for (let i = 0; i < 100; i++) expect(b.next(0)).toBe(1_000);
    const hint = new RateLimitBackoff({ maxDelayMs: 60_000 });
    expect(hint.next(3_600_000)).toBe(60_000);
  });
});

describe("Backoff", () => {
  it("equal jitter: between half and all of a doubling nominal delay, capped", () => {
    const low = new Backoff(100, 400, () => 0);
    const high = new Backoff(100, 400, () => 1);
    expect([low.next(), low.next(), low.next(), low.next()]).toEqual([50, 100, 200, 200]);
    expect([high.next(), high.next(), high.next(), high.next()]).toEqual([100, 200, 400, 400]);
  });
});

describe("sleep", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits delays longer than one timer can hold (24.8 days) in full", async () => {
    vi.useFakeTimers();
    let done: boolean | undefined;
    void sleep(30 * 86_400_000).then((full) => (done = full));
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(done).toBeUndefined();
    await vi.advanceTimersByTimeAsync(30 * 86_400_000 - MAX_TIMER_MS - 1);
    expect(done).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ends early with false when aborted, during a chained wait too, leaving no timer", async () => {
    vi.useFakeTimers();
    const stop = new AbortController();
    const waiting = sleep(40 * 86_400_000, stop.signal);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 5);
    stop.abort();
    expect(await waiting).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    expect(await sleep(10, stop.signal)).toBe(false);
  });
});
