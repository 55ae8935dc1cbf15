/**
 * The optional bridge to `@opentelemetry/api`. The package is an optional peer dependency: it is
 * imported lazily, once, by {@link loadOpenTelemetry}; until then, and for good when it is not
 * installed, {@link openTelemetry} answers `null` and every span helper reduces to W3C context
 * arithmetic (a random span id), which costs next to nothing.
 *
 * Only a small structural slice of the API is used and declared here, so that rxon's types do not
 * depend on the package being installed.
 */

/** The span context shape of `@opentelemetry/api`. */
export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: unknown;
}

/** The span shape of `@opentelemetry/api` (the members rxon calls). */
export interface OtelSpan {
  spanContext(): OtelSpanContext;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(endTime?: number | Date): void;
}

/** Options of `tracer.startSpan`. */
export interface OtelSpanOptions {
  kind?: number;
  attributes?: Record<string, string | number | boolean>;
  startTime?: number | Date;
}

/** The tracer shape of `@opentelemetry/api`. */
export interface OtelTracer {
  startSpan(name: string, options?: OtelSpanOptions, context?: unknown): OtelSpan;
}

/** The members of the `@opentelemetry/api` module rxon uses. */
export interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    getTracerProvider?(): unknown;
    setSpanContext(context: unknown, spanContext: OtelSpanContext): unknown;
    setSpan(context: unknown, span: OtelSpan): unknown;
  };
  context: {
    active(): unknown;
    with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: unknown, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F>;
  };
  ROOT_CONTEXT: unknown;
  SpanKind: { INTERNAL: number; SERVER: number; CLIENT: number; PRODUCER: number; CONSUMER: number };
  SpanStatusCode: { UNSET: number; OK: number; ERROR: number };
  createTraceState?(raw?: string): unknown;
}

/** Name of the tracer rxon creates its spans with. */
export const TRACER_NAME = "rxon";

let api: OtelApi | null | undefined;
let loading: Promise<OtelApi | null> | undefined;

/**
 * Imports `@opentelemetry/api` once and resolves with it, or with `null` when it is not installed.
 * Called by the hub and the worker when they start; safe to call any number of times.
 */
export function loadOpenTelemetry(): Promise<OtelApi | null> {
  if (api !== undefined) return Promise.resolve(api);
  // A variable specifier keeps bundlers and the type checker from requiring the optional package.
  const specifier = "@opentelemetry/api";
  loading ??= import(specifier).then(
    (mod: { default?: OtelApi } & Partial<OtelApi>) => {
      const found = mod.trace !== undefined ? (mod as OtelApi) : (mod.default ?? null);
      if (api === undefined) api = found;
      return api;
    },
    () => {
      if (api === undefined) api = null;
      return api;
    },
  );
  return loading;
}

/** The loaded API, or `null` when it is absent, not loaded yet, or turned off with {@link useOpenTelemetry}. */
export function openTelemetry(): OtelApi | null {
  return api ?? null;
}

/**
 * Whether spans would be recorded: the API is loaded and an SDK registered a tracer provider.
 * Without one the API's tracers only make non-recording spans, so rxon skips them (and the job
 * lookups the hub's spans need). A provider that cannot tell counts as recording.
 */
export function tracingActive(): boolean {
  const otel = api;
  if (otel === null || otel === undefined) return false;
  const provider = otel.trace.getTracerProvider?.() as { getDelegateTracer?(name: string): unknown } | undefined;
  if (provider === undefined || typeof provider.getDelegateTracer !== "function") return true;
  return provider.getDelegateTracer(TRACER_NAME) !== undefined;
}

/**
 * Sets the API rxon uses: an `@opentelemetry/api` module (e.g. from a bundle where the dynamic
 * import cannot work), or `null` to turn the bridge off. Takes precedence over {@link loadOpenTelemetry}.
 */
export function useOpenTelemetry(module: OtelApi | null): void {
  api = module;
}
