/**
 * The worker continues the trace a task arrives with: the handler sees it (`ctx.trace`, and the
 * active OpenTelemetry span when an SDK is registered), and the result and progress events carry
 * it back to the orchestrator.
 */
import * as api from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { waitUntil } from "../../src/testing/index.js";
import { useOpenTelemetry, type OtelApi } from "../../src/tracing/index.js";
import { Worker, type TaskContext, type TaskTrace } from "../../src/worker/index.js";
import { FakeOrchestrator } from "./fake-orchestrator.js";
import { RecordingTracing } from "./otel-fake.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${PARENT}-01`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Seen {
  trace: TaskTrace | undefined;
  activeSpanId: string | undefined;
}

async function run(task: Record<string, unknown>): Promise<{ hub: FakeOrchestrator; seen: Seen }> {
  const hub = await new FakeOrchestrator().start();
  cleanups.push(() => hub.stop());
  const seen: Seen = { trace: undefined, activeSpanId: undefined };
  const skill = {
    info: { name: "traced", version: "1.0.0" },
    handler: async (_params: never, ctx: TaskContext) => {
      seen.trace = ctx.trace;
      ctx.progress(0.5, "half");
      await new Promise((r) => setTimeout(r, 10));
      seen.activeSpanId = api.trace.getSpanContext(api.context.active())?.spanId;
      return { ok: true };
    },
  };
  const worker = new Worker({ url: hub.url, workerId: "tracer-1", token: "t", transportOptions: { sign: false }, commands: false, skills: [skill], heartbeatIntervalMs: 60_000, progressIntervalMs: 0 });
  cleanups.push(() => worker.stop({ graceMs: 0 }));
  hub.push({ job_id: "job-1", task_id: "task-1", type: "traced", params: {}, ...task });
  await worker.start();
  await waitUntil(() => hub.results.length === 1, { timeoutMs: 10_000 });
  return { hub, seen };
}

describe("worker trace continuation", () => {
  it("hands the trace to the handler and echoes it in the result and events (no OpenTelemetry SDK)", async () => {
    useOpenTelemetry(null);
    cleanups.push(() => useOpenTelemetry(null));
    const { hub, seen } = await run({ tracing_context: { traceparent: TRACEPARENT, tracestate: "vendor=abc" } });
    const trace = seen.trace!;
    expect(trace).toMatchObject({ traceId: TRACE_ID, parentSpanId: PARENT, sampled: true, tracestate: "vendor=abc" });
    expect(trace.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(trace.spanId).not.toBe(PARENT);
    expect(trace.traceparent).toBe(`00-${TRACE_ID}-${trace.spanId}-01`);

    const result = hub.results[0]!;
    expect(result.status).toBe("success");
    expect(result.metadata).toEqual({ tracing_context: { traceparent: trace.traceparent, tracestate: "vendor=abc" } });
    expect(hub.events.length).toBeGreaterThan(0);
    for (const e of hub.events) expect(e.trace_context).toEqual({ traceparent: trace.traceparent, tracestate: "vendor=abc" });
  });

  it("leaves results and events as they were when the task carries no trace", async () => {
    useOpenTelemetry(null);
    cleanups.push(() => useOpenTelemetry(null));
    const { hub, seen } = await run({ tracing_context: { traceparent: "garbage" } });
    expect(seen.trace).toBeUndefined();
    expect(hub.results[0]!.metadata).toBeUndefined();
    for (const e of hub.events) expect(e.trace_context).toBeUndefined();
  });

  it("with an OpenTelemetry SDK: the handler runs inside the rxon.execute span, whose id goes back", async () => {
    const tracing = new RecordingTracing();
    tracing.install();
    useOpenTelemetry(api as unknown as OtelApi);
    cleanups.push(() => {
      tracing.uninstall();
      useOpenTelemetry(null);
    });
    const { hub, seen } = await run({ tracing_context: { traceparent: TRACEPARENT } });
    await waitUntil(() => tracing.spans.some((s) => s.name === "rxon.result"), { timeoutMs: 5_000 });
    const exec = tracing.spans.find((s) => s.name === "rxon.execute")!;
    expect(exec).toMatchObject({ traceId: TRACE_ID, parentSpanId: PARENT, kind: api.SpanKind.CONSUMER });
    expect(exec.attributes).toMatchObject({ "rxon.task.type": "traced", "rxon.task.id": "task-1", "rxon.job.id": "job-1", "rxon.task.status": "success" });
    expect(seen.trace?.spanId).toBe(exec.spanId);
    expect(seen.activeSpanId).toBe(exec.spanId);
    expect(tracing.spans.find((s) => s.name === "rxon.result")).toMatchObject({ parentSpanId: exec.spanId, traceId: TRACE_ID });
    expect((hub.results[0]!.metadata as { tracing_context: { traceparent: string } }).tracing_context.traceparent).toBe(`00-${TRACE_ID}-${exec.spanId}-01`);
  });
});
