/**
 * W3C trace context for rxon: parsing and formatting `traceparent`/`tracestate`, spans that use
 * `@opentelemetry/api` when it is installed (an optional peer dependency) and cost nothing when it
 * is not, and the hub's helpers for carrying a client's trace to the worker.
 */
export {
  parseTraceparent,
  formatTraceparent,
  cleanTracestate,
  traceHeaders,
  traceFromCarrier,
  childContext,
  rootContext,
  newSpanId,
  newTraceId,
  MAX_TRACESTATE_LENGTH,
  type TraceContext,
  type TraceHeaders,
} from "./context.js";
export { loadOpenTelemetry, openTelemetry, useOpenTelemetry, tracingActive, TRACER_NAME, type OtelApi, type OtelSpan, type OtelTracer, type OtelSpanContext, type OtelSpanOptions } from "./otel.js";
export { startSpan, taskTrace, type TraceSpan, type TaskTrace, type StartSpanOptions, type SpanKindName, type SpanAttributes } from "./span.js";
export { traceOfSubmit, traceContextForTask, attachHubTracing, type TracedHub } from "./hub.js";
