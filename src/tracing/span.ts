/**
 * Spans that work with or without OpenTelemetry. With `@opentelemetry/api` loaded, a span is a
 * real OpenTelemetry span (created through the `rxon` tracer, parented on the incoming W3C
 * context, active while its work runs); without it a span is only a new W3C context (the same
 * trace, a fresh span id) so that ids still flow to the next hop.
 */
import { childContext, formatTraceparent, type TraceContext } from "./context.js";
import { openTelemetry, tracingActive, TRACER_NAME, type OtelApi, type OtelSpan, type OtelSpanContext } from "./otel.js";

/** Kinds of span, as in OpenTelemetry. */
export type SpanKindName = "internal" | "server" | "client" | "producer" | "consumer";

/** Attribute values rxon sets. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** Options of {@link startSpan}. */
export interface StartSpanOptions {
  /** Default `internal`. */
  kind?: SpanKindName;
  attributes?: SpanAttributes;
  /** Start time in epoch milliseconds (spans recorded after the fact, e.g. a queue wait). Default now. */
  startTime?: number;
}

/** A started span. */
export interface TraceSpan {
  /** The W3C context of this span (what the next hop uses as its parent), or undefined outside any trace. */
  readonly context: TraceContext | undefined;
  /** Runs `fn` with this span as the active OpenTelemetry span (a plain call without OpenTelemetry). */
  run<T>(fn: () => T): T;
  /** Starts a span under this one. */
  child(name: string, options?: StartSpanOptions): TraceSpan;
  /** Sets an attribute (no-op without OpenTelemetry). */
  setAttribute(key: string, value: string | number | boolean): void;
  /** Ends the span; an `error` marks it failed. Only the first call counts. */
  end(error?: { code?: string; message?: string }, endTime?: number): void;
}

const ZERO_TRACE = "0".repeat(32);

/** A span when OpenTelemetry is absent: W3C arithmetic only. */
function plainSpan(context: TraceContext | undefined): TraceSpan {
  return {
    context,
    run: (fn) => fn(),
    child: () => plainSpan(context === undefined ? undefined : childContext(context)),
    setAttribute: () => {},
    end: () => {},
  };
}

function kindOf(otel: OtelApi, kind: SpanKindName | undefined): number {
  switch (kind) {
    case "server":
      return otel.SpanKind.SERVER;
    case "client":
      return otel.SpanKind.CLIENT;
    case "producer":
      return otel.SpanKind.PRODUCER;
    case "consumer":
      return otel.SpanKind.CONSUMER;
    default:
      return otel.SpanKind.INTERNAL;
  }
}

function remoteSpanContext(otel: OtelApi, parent: TraceContext): OtelSpanContext {
  const sc: OtelSpanContext = { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true };
  if (parent.tracestate !== undefined && otel.createTraceState !== undefined) sc.traceState = otel.createTraceState(parent.tracestate);
  return sc;
}

function tracestateOf(sc: OtelSpanContext, fallback: string | undefined): string | undefined {
  const state = sc.traceState as { serialize?: () => string } | undefined;
  const text = typeof state?.serialize === "function" ? state.serialize() : undefined;
  return text !== undefined && text !== "" ? text : fallback;
}

function otelSpan(otel: OtelApi, name: string, parentContext: unknown, parent: TraceContext | undefined, options: StartSpanOptions): TraceSpan {
  const span: OtelSpan = otel.trace
    .getTracer(TRACER_NAME)
    .startSpan(name, { kind: kindOf(otel, options.kind), ...(options.attributes ? { attributes: options.attributes } : {}), ...(options.startTime !== undefined ? { startTime: options.startTime } : {}) }, parentContext);
  const sc = span.spanContext();
  let context: TraceContext | undefined;
  if (sc.traceId !== ZERO_TRACE && (parent === undefined || sc.spanId !== parent.spanId)) {
    const state = tracestateOf(sc, parent?.tracestate);
    context = { traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags, ...(state !== undefined ? { tracestate: state } : {}) };
  } else if (parent !== undefined) {
    // A non-recording tracer (no SDK registered) hands back the parent's ids: give the next hop a span id of its own.
    context = childContext(parent);
  }
  const active = otel.trace.setSpan(parentContext, span);
  let ended = false;
  return {
    context,
    run: (fn) => otel.context.with(active, fn),
    child: (childName, childOptions = {}) => otelSpan(otel, childName, active, context, childOptions),
    setAttribute: (key, value) => void span.setAttribute(key, value),
    end: (error, endTime) => {
      if (ended) return;
      ended = true;
      if (error !== undefined) {
        if (error.code !== undefined) span.setAttribute("rxon.error.code", error.code);
        span.setStatus({ code: otel.SpanStatusCode.ERROR, ...(error.message !== undefined ? { message: error.message } : {}) });
      }
      span.end(endTime);
    },
  };
}

/**
 * Starts a span named `name` under `parent` (a context received from another process), or a new
 * trace when `parent` is undefined and OpenTelemetry is active. Without OpenTelemetry and without
 * a parent the span has no context at all: rxon starts no traces of its own.
 */
export function startSpan(name: string, parent: TraceContext | undefined, options: StartSpanOptions = {}): TraceSpan {
  const otel = openTelemetry();
  // No API, or no SDK behind it: nothing would be recorded, so only the W3C context moves on.
  if (otel === null || !tracingActive()) return plainSpan(parent === undefined ? undefined : childContext(parent));
  const parentContext = parent === undefined ? otel.ROOT_CONTEXT : otel.trace.setSpanContext(otel.ROOT_CONTEXT, remoteSpanContext(otel, parent));
  return otelSpan(otel, name, parentContext, parent, options);
}

/** What a handler sees of its trace (`ctx.trace`). */
export interface TaskTrace {
  /** 32 hex digits. */
  readonly traceId: string;
  /** The span of this execution: 16 hex digits. */
  readonly spanId: string;
  /** The span the task came from (the orchestrator's or the client's). */
  readonly parentSpanId: string | undefined;
  /** Whether the trace is sampled (flag `01`). */
  readonly sampled: boolean;
  /** `traceparent` to send on calls the handler makes, so they join the trace. */
  readonly traceparent: string;
  /** `tracestate` to send with it, if any. */
  readonly tracestate?: string;
}

/** The handler's view of a span's context. */
export function taskTrace(context: TraceContext, parentSpanId: string | undefined): TaskTrace {
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId,
    sampled: (context.flags & 1) === 1,
    traceparent: formatTraceparent(context),
    ...(context.tracestate !== undefined ? { tracestate: context.tracestate } : {}),
  };
}
