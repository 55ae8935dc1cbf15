/**
 * Metrics and hub spans take the hub's events in any order: a held poll can take a task before its
 * submission is announced. Driven by an event source shaped like the hub (its events and a store
 * lookup), since the real hub's order depends on timing.
 */
import { EventEmitter } from "node:events";
import * as api from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { attachHubMetrics, type MetricsHub } from "../../src/metrics/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { attachHubTracing, useOpenTelemetry, type OtelApi, type TracedHub } from "../../src/tracing/index.js";
import type { HubStats } from "../../src/hub/index.js";
import { RecordingTracing } from "./otel-fake.js";
import { parseExposition, value } from "./metrics-text.js";

const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

afterEach(() => {
  useOpenTelemetry(null);
});

function fakeHub(jobs: Record<string, Record<string, unknown>>): EventEmitter & MetricsHub & TracedHub {
  const emitter = new EventEmitter() as EventEmitter & MetricsHub & TracedHub;
  const zero = { workers: 0, queued: 0, running: 0, waitingPolls: 0 } as unknown as HubStats;
  Object.assign(emitter, { stats: async () => zero, store: { getJob: async (id: string) => jobs[id] } });
  return emitter;
}

describe("events out of order", () => {
  it("a dispatch announced before its submission is counted once, with the store's times", async () => {
    const hub = fakeHub({ "job-1": { jobId: "job-1", type: "echo", submittedAt: 1_000, dispatchedAt: 3_500 } });
    const metrics = attachHubMetrics(hub, { now: () => 10_000 });
    hub.emit("task:dispatched", { jobId: "job-1", taskId: "t1", workerId: "w", attempt: 1 });
    hub.emit("task:submitted", { jobId: "job-1", taskId: "t1", type: "echo" });
    await waitUntil(async () => value(parseExposition(await metrics.metrics()), "rxon_hub_dispatch_latency_seconds_count") === 1);
    hub.emit("task:completed", { jobId: "job-1", taskId: "t1", status: "success", attempts: 1, durationMs: 1 });
    const samples = parseExposition(await metrics.metrics());
    expect(value(samples, "rxon_hub_dispatch_latency_seconds_sum")).toBe(2.5);
    expect(value(samples, "rxon_hub_tasks_submitted_total", { skill: "echo" })).toBe(1);
    expect(value(samples, "rxon_hub_tasks_finished_total", { skill: "echo", status: "success" })).toBe(1);
    expect(value(samples, "rxon_hub_task_duration_seconds_count", { skill: "echo" })).toBe(1);
    // Not left queued behind.
    expect(samples.filter((s) => s.name === "rxon_hub_queue_depth" && s.value > 0)).toEqual([]);
  });

  it("hub spans of a dispatch announced first still start at the submission", async () => {
    const tracing = new RecordingTracing();
    tracing.install();
    useOpenTelemetry(api as unknown as OtelApi);
    try {
      const hub = fakeHub({ "job-2": { jobId: "job-2", type: "echo", submittedAt: 1_000, trace: { traceparent: TP } } });
      const stop = attachHubTracing(hub, { now: () => 5_000 });
      hub.emit("task:dispatched", { jobId: "job-2", taskId: "t2", workerId: "w", attempt: 1 });
      hub.emit("task:submitted", { jobId: "job-2", taskId: "t2", type: "echo" });
      hub.emit("task:completed", { jobId: "job-2", taskId: "t2", status: "success", attempts: 1, durationMs: 4_000 });
      await waitUntil(() => tracing.spans.length === 4);
      stop();
      const wait = tracing.spans.find((s) => s.name === "rxon.queue_wait")!;
      expect(wait).toMatchObject({ start: 1_000, end: 5_000, parentSpanId: "b7ad6b7169203331" });
      expect(tracing.spans.find((s) => s.name === "rxon.submit")).toMatchObject({ start: 1_000 });
      expect(tracing.spans.map((s) => s.name).sort()).toEqual(["rxon.dispatch", "rxon.queue_wait", "rxon.result", "rxon.submit"]);
    } finally {
      tracing.uninstall();
    }
  });

  it("costs no job lookups without OpenTelemetry, or with the API but no SDK", async () => {
    for (const module of [null, api as unknown as OtelApi]) {
      useOpenTelemetry(module);
      let lookups = 0;
      const hub = fakeHub({});
      (hub as unknown as { store: { getJob: () => undefined } }).store.getJob = () => void lookups++;
      const stop = attachHubTracing(hub);
      hub.emit("task:submitted", { jobId: "j", taskId: "t", type: "echo" });
      hub.emit("task:dispatched", { jobId: "j", taskId: "t", workerId: "w", attempt: 1 });
      await new Promise((r) => setTimeout(r, 10));
      stop();
      expect(lookups).toBe(0);
    }
  });

  it("reads every worker of a large fleet page by page", async () => {
    const fleet = Array.from({ length: 2_500 }, (_, i) => ({ id: `w-${String(i).padStart(5, "0")}`, status: i % 5 === 0 ? "busy" : "idle" }));
    const hub = fakeHub({});
    let calls = 0;
    (hub.store as { listWorkers?: unknown }).listWorkers = async (limit = Infinity, cursor?: string) => {
      calls++;
      const from = cursor === undefined ? 0 : fleet.findIndex((w) => w.id > cursor);
      return from < 0 ? [] : fleet.slice(from, from + limit);
    };
    const metrics = attachHubMetrics(hub);
    const samples = parseExposition(await metrics.metrics());
    expect(value(samples, "rxon_hub_workers", { status: "busy" })).toBe(500);
    expect(value(samples, "rxon_hub_workers", { status: "idle" })).toBe(2_000);
    expect(calls).toBe(3);
  });
});
