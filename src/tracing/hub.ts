/**
 * The hub's side of a trace: what a client hands in at submit, what goes to the worker in the
 * TaskPayload's `tracing_context`, and spans for submit, queue wait, dispatch and result built
 * from the hub's events (so they need no hook inside the dispatch code).
 */
import { parseTraceparent, traceFromCarrier, traceHeaders, type TraceContext, type TraceHeaders } from "./context.js";
import { loadOpenTelemetry, tracingActive } from "./otel.js";
import { startSpan } from "./span.js";
import { RecentMap } from "../recent.js";

/**
 * The trace context a submission carries, checked: `{ traceparent, tracestate? }` when the
 * `traceparent` is valid, otherwise `undefined` (W3C: a malformed header starts a new trace, it
 * never fails the request). Store the result with the job.
 */
export function traceOfSubmit(options: { traceparent?: unknown; tracestate?: unknown }): TraceHeaders | undefined {
  const ctx = parseTraceparent(options.traceparent, options.tracestate);
  return ctx === undefined ? undefined : traceHeaders(ctx);
}

/**
 * The `tracing_context` of a TaskPayload for a job that stored a trace at submit: the same trace,
 * with `spanId` (e.g. the hub's dispatch span) as the parent when given. `undefined` without a trace.
 */
export function traceContextForTask(tracing: TraceHeaders | undefined, spanId?: string): Record<string, string> | undefined {
  const ctx = traceFromCarrier(tracing);
  if (ctx === undefined) return undefined;
  return { ...traceHeaders(spanId === undefined ? ctx : { ...ctx, spanId }) };
}

/** What {@link attachHubTracing} needs of a hub (a `Hub` has it). */
export interface TracedHub {
  on(event: "task:submitted", listener: (e: { jobId: string; taskId: string; type: string }) => void): unknown;
  on(event: "task:dispatched", listener: (e: { jobId: string; taskId: string; workerId: string; attempt: number }) => void): unknown;
  on(event: "task:requeued", listener: (e: { jobId: string; reason: string }) => void): unknown;
  on(event: "task:completed", listener: (e: { jobId: string; status: string; error?: { code: string; message: string }; attempts: number }) => void): unknown;
  off?(event: string, listener: (...args: never[]) => void): unknown;
  readonly store: { getJob(jobId: string): unknown };
}

interface Tracked {
  /** The job's trace, type and submit time, read once from the store. */
  record: Promise<{ trace: TraceContext | undefined; type: string; submittedAt: number | undefined }>;
  /** When it last went back to the queue (a requeue), if it did. */
  requeuedAt?: number;
  /** Events of one job are handled one after another (the job lookup is asynchronous). */
  chain: Promise<void>;
}

/** Jobs followed at once, at most; beyond it the oldest are forgotten (their later spans are skipped). */
const MAX_TRACKED = 100_000;

/**
 * Records hub spans through OpenTelemetry for jobs submitted with a trace context (the job
 * record's `trace` member): `rxon.submit`, `rxon.queue_wait` (submit or requeue to dispatch),
 * `rxon.dispatch` and `rxon.result`, each a child of the client's span. Events may arrive in any
 * order (a held poll can take a task before its submission is announced). Loads
 * `@opentelemetry/api` when it is installed; without it nothing is recorded. Returns a function
 * that stops recording.
 */
export function attachHubTracing(hub: TracedHub, options: { now?: () => number } = {}): () => void {
  const now = options.now ?? Date.now;
  void loadOpenTelemetry();
  const jobs = new RecentMap<string, Tracked>(MAX_TRACKED);
  const track = (jobId: string): Tracked => {
    let t = jobs.get(jobId);
    if (t !== undefined) return t;
    const record = (async () => hub.store.getJob(jobId))()
      .then((job) => {
        const j = job as { trace?: unknown; type?: unknown; submittedAt?: unknown } | undefined;
        return { trace: traceFromCarrier(j?.trace), type: typeof j?.type === "string" ? j.type : "", submittedAt: typeof j?.submittedAt === "number" ? j.submittedAt : undefined };
      })
      .catch(() => ({ trace: undefined, type: "", submittedAt: undefined }));
    t = { record, chain: Promise.resolve() };
    jobs.set(jobId, t);
    return t;
  };
  const later = (jobId: string, fn: (t: Tracked, trace: TraceContext, type: string, submittedAt: number | undefined) => void): void => {
    // Without OpenTelemetry (or without an SDK) there is nothing to record: no job lookups either.
    if (!tracingActive()) return;
    const t = track(jobId);
    t.chain = t.chain.then(async () => {
      const { trace, type, submittedAt } = await t.record;
      if (trace !== undefined) fn(t, trace, type, submittedAt);
    });
  };
  const submitted = (e: { jobId: string; type: string }): void => {
    const at = now();
    later(e.jobId, (_t, parent, _type, submittedAt) => {
      const start = submittedAt ?? at;
      startSpan("rxon.submit", parent, { kind: "server", startTime: start, attributes: { "rxon.job.id": e.jobId, "rxon.task.type": e.type } }).end(undefined, start);
    });
  };
  const dispatched = (e: { jobId: string; taskId: string; workerId: string; attempt: number }): void => {
    const at = now();
    later(e.jobId, (t, parent, type, submittedAt) => {
      const attributes = { "rxon.job.id": e.jobId, "rxon.task.id": e.taskId, "rxon.task.type": type, "rxon.worker.id": e.workerId, "rxon.attempt": e.attempt };
      startSpan("rxon.queue_wait", parent, { startTime: t.requeuedAt ?? submittedAt ?? at, attributes }).end(undefined, at);
      startSpan("rxon.dispatch", parent, { kind: "producer", startTime: at, attributes }).end(undefined, at);
    });
  };
  const requeued = (e: { jobId: string }): void => {
    const at = now();
    later(e.jobId, (t) => {
      t.requeuedAt = at;
    });
  };
  const completed = (e: { jobId: string; status: string; error?: { code: string; message: string }; attempts: number }): void => {
    const at = now();
    later(e.jobId, (_t, parent, type) => {
      const span = startSpan("rxon.result", parent, { kind: "server", startTime: at, attributes: { "rxon.job.id": e.jobId, "rxon.task.type": type, "rxon.task.status": e.status, "rxon.attempts": e.attempts } });
      span.end(e.error, at);
    });
    const t = jobs.get(e.jobId);
    if (t !== undefined) void t.chain.then(() => jobs.delete(e.jobId));
  };
  hub.on("task:submitted", submitted);
  hub.on("task:dispatched", dispatched);
  hub.on("task:requeued", requeued);
  hub.on("task:completed", completed);
  return () => {
    hub.off?.("task:submitted", submitted as never);
    hub.off?.("task:dispatched", dispatched as never);
    hub.off?.("task:requeued", requeued as never);
    hub.off?.("task:completed", completed as never);
    jobs.clear();
  };
}
