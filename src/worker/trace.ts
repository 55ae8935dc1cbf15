/**
 * Continuing a task's trace in the worker: the task's `tracing_context` is the parent of an
 * execution span; the handler sees it as `ctx.trace` (and, with `@opentelemetry/api` loaded, as
 * the active span); results and events carry the execution span's context back.
 */
import type { TaskPayload } from "../../generated/types.js";
import { traceFromCarrier, traceHeaders, type TraceHeaders } from "../tracing/context.js";
import { openTelemetry, tracingActive } from "../tracing/otel.js";
import { startSpan, taskTrace, type TaskTrace, type TraceSpan } from "../tracing/span.js";

/** The trace of one task run. */
export interface TaskTracing {
  /** What the handler sees; undefined when the task came without a trace (and OpenTelemetry started none). */
  readonly trace: TaskTrace | undefined;
  /** `{ traceparent, tracestate? }` of the execution span, for results (`metadata.tracing_context`) and events (`trace_context`). */
  readonly carrier: TraceHeaders | undefined;
  /** The execution span. */
  readonly span: TraceSpan;
}

/** A span outside any trace that records nothing: what startSpan makes without a parent and without OpenTelemetry. */
const NO_SPAN: TraceSpan = Object.freeze({
  context: undefined,
  run: <T>(fn: () => T): T => fn(),
  child: (): TraceSpan => NO_SPAN,
  setAttribute: (): void => {},
  end: (): void => {},
});

/** The tracing of every task that came without a trace while OpenTelemetry records nothing: shared, nothing to make per task. */
export const UNTRACED: TaskTracing = Object.freeze({ trace: undefined, carrier: undefined, span: NO_SPAN });

/** Starts the execution span of `task` (named `rxon.execute`, kind consumer). */
export function traceTask(task: Readonly<TaskPayload>, workerId: string): TaskTracing {
  const parent = traceFromCarrier(task.tracing_context);
  if (parent === undefined && (openTelemetry() === null || !tracingActive())) return UNTRACED;
  const span = startSpan("rxon.execute", parent, {
    kind: "consumer",
    attributes: { "rxon.task.type": String(task.type), "rxon.task.id": task.task_id, "rxon.job.id": task.job_id, "rxon.worker.id": workerId },
  });
  const ctx = span.context;
  return {
    trace: ctx === undefined ? undefined : taskTrace(ctx, parent?.spanId),
    carrier: ctx === undefined ? undefined : traceHeaders(ctx),
    span,
  };
}
