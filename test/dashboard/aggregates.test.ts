/** The dashboard's in-memory aggregates: bounded, and right about what they count. */
import { describe, expect, it } from "vitest";
import { DepthSeries, percentile, ThroughputSeries } from "../../src/hub/dashboard/series.js";
import { TaskTracker } from "../../src/hub/dashboard/tracker.js";
import { DashboardAccess } from "../../src/hub/dashboard/access.js";
import { bounded } from "../../src/hub/dashboard/bounded.js";
import type { IncomingMessage } from "node:http";

describe("ThroughputSeries", () => {
  it("counts ends per second by outcome and gives nearest-rank percentiles over the window", () => {
    const s = new ThroughputSeries(600);
    const t0 = 1_700_000_000_000;
    for (let i = 1; i <= 100; i++) s.record(t0 + 500, "success", i);
    s.record(t0 + 1500, "failure", 1000);
    s.record(t0 + 1600, "other", 5);
    const v = s.view(t0 + 1999, 60, 10);
    expect(v.points).toHaveLength(60);
    expect(v.totals).toEqual({ success: 100, failure: 1, cancelled: 0, other: 1 });
    expect(v.points.at(-2)).toMatchObject({ success: 100 });
    expect(v.points.at(-1)).toMatchObject({ failure: 1, other: 1 });
    // 102 samples (1..100, 5 and 1000): the 51st is 50, the 101st is 100.
    expect(v.p50).toBe(50);
    expect(v.p99).toBe(100);
    // Ten minutes later the same slots hold new seconds: old counts are not read as new.
    expect(s.view(t0 + 600_000 + 1999, 60).totals).toEqual({ success: 0, failure: 0, cancelled: 0, other: 0 });
  });

  it("keeps a bounded sample of latencies per second", () => {
    const s = new ThroughputSeries(10);
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 10_000; i++) s.record(t0, "success", i);
    const v = s.view(t0, 10, 10);
    expect(v.totals.success).toBe(10_000);
    // Percentiles come from the sample: roughly right, never outside the recorded range.
    expect(v.p50!).toBeGreaterThanOrEqual(0);
    expect(v.p99!).toBeLessThan(10_000);
  });

  it("percentile of nothing is null", () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([3, 1, 2], 0.5)).toBe(2);
  });
});

describe("DepthSeries", () => {
  it("keeps the last samples and only the deepest queues of each", () => {
    const d = new DepthSeries(3, 2);
    for (let i = 0; i < 5; i++) d.add(i, { a: i, b: 10, c: 1, __proto__: 7 } as Record<string, number>);
    const samples = d.samples();
    expect(samples.map((x) => x.t)).toEqual([2, 3, 4]);
    expect(Object.keys(samples[2]!.depths).sort()).toEqual(["a", "b"]);
  });
});

describe("TaskTracker", () => {
  it("forgets finished jobs first when over its limit, and keeps timelines short", () => {
    let now = 0;
    const t = new TaskTracker({ maxJobs: 3, maxTimeline: 5, now: () => ++now });
    t.submitted({ jobId: "j1", taskId: "t1", type: "a" });
    t.submitted({ jobId: "j2", taskId: "t2", type: "a" });
    t.dispatched({ jobId: "j1", taskId: "t1", workerId: "w", attempt: 1 });
    for (let i = 0; i < 20; i++) t.progressed({ jobId: "j1", taskId: "t1", workerId: "w", progress: i / 20, message: `step ${i}` });
    const tl = t.jobs.get("j1")!.timeline;
    expect(tl).toHaveLength(5);
    expect(tl[0]!.kind).toBe("submitted");
    expect(tl.at(-1)!.message).toBe("step 19");
    t.completed({ jobId: "j1", taskId: "t1", status: "success", attempts: 1, durationMs: 5, workerId: "w" });
    expect(t.running.size).toBe(0);
    t.submitted({ jobId: "j3", taskId: "t3", type: "a" });
    t.submitted({ jobId: "j4", taskId: "t4", type: "b" });
    expect([...t.jobs.keys()]).toEqual(["j2", "j3", "j4"]);
    t.submitted({ jobId: "j5", taskId: "t5", type: "b" });
    // No finished job left: the oldest open one goes, and its queue entry with it.
    expect([...t.jobs.keys()]).toEqual(["j3", "j4", "j5"]);
    expect(t.depths()).toEqual({ a: 1, b: 2 });
  });

  it("moves a re-queued task back to its queue, behind the others", () => {
    const t = new TaskTracker();
    t.submitted({ jobId: "j1", taskId: "t1", type: "a" });
    t.submitted({ jobId: "j2", taskId: "t2", type: "a" });
    t.dispatched({ jobId: "j1", taskId: "t1", workerId: "w", attempt: 1 });
    expect(t.running.get("w")?.has("j1")).toBe(true);
    t.requeued({ jobId: "j1", taskId: "t1b", workerId: "w", reason: "worker_lost" });
    expect(t.running.size).toBe(0);
    expect([...t.waiting.get("a")!.keys()]).toEqual(["j2", "j1"]);
    expect(t.jobs.get("j1")!.taskId).toBe("t1b");
  });
});

describe("DashboardAccess", () => {
  const req = (token?: string) => ({ headers: token === undefined ? {} : { "x-client-token": token } }) as unknown as IncomingMessage;

  it("accepts any configured token and refuses others (401 missing, 403 wrong)", () => {
    const a = new DashboardAccess({ adminTokens: ["one", "two"] });
    expect(() => a.check(req("two"))).not.toThrow();
    expect(() => a.check(req())).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => a.check(req("tw"))).toThrow(expect.objectContaining({ status: 403 }));
    expect(() => new DashboardAccess({ adminTokens: [""] })).toThrow(/non-empty/);
  });

  it("keeps a bounded number of tickets, each valid once", () => {
    const a = new DashboardAccess({ adminTokens: ["x"], maxTickets: 2 });
    const t1 = a.issueTicket().ticket;
    const t2 = a.issueTicket().ticket;
    const t3 = a.issueTicket().ticket;
    expect(a.redeem(t1)).toBe(false);
    expect(a.redeem(t2)).toBe(true);
    expect(a.redeem(t2)).toBe(false);
    expect(a.redeem(t3)).toBe(true);
    expect(a.redeem("x".repeat(1000))).toBe(false);
  });
});

describe("bounded", () => {
  it("cuts strings, keys and depth, and keeps __proto__ as plain data", () => {
    const v = bounded(JSON.parse('{"__proto__":{"polluted":1},"s":"' + "a".repeat(500) + '","deep":{"a":{"b":{"c":{}}}}}'), 3, 32, 10) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((v.s as string).length).toBe(10);
    expect((v.deep as Record<string, Record<string, unknown>>).a!.b).toBe("…");
  });
});
