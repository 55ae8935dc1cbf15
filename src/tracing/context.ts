/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing and formatting the
 * `traceparent` and `tracestate` values, and the ids of child spans. Pure functions without any
 * dependency, so the hub and the worker carry traces whether or not OpenTelemetry is installed.
 */
import { randomBytes } from "node:crypto";

/** A parsed `traceparent`, plus the `tracestate` that travels with it. */
export interface TraceContext {
  /** 32 lowercase hex digits, never all zero. */
  readonly traceId: string;
  /** Id of the span this context points at (the parent of the next span): 16 lowercase hex digits, never all zero. */
  readonly spanId: string;
  /** Trace flags; bit 0 (`0x01`) is "sampled". */
  readonly flags: number;
  /** Vendor state (`tracestate`), passed on unchanged when it is well-formed. */
  readonly tracestate?: string;
}

/** The wire form of a trace context: what goes into `tracing_context` / `trace_context` and HTTP headers. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/** Longest `tracestate` passed on (the specification's limit for propagation). */
export const MAX_TRACESTATE_LENGTH = 512;
/** Most list members of a `tracestate`. */
const MAX_TRACESTATE_MEMBERS = 32;

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_16 = /^[0-9a-f]{16}$/;
const HEX_2 = /^[0-9a-f]{2}$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
// Keys: lowercase simple or multi-tenant (`tenant@system`); values: printable ASCII but `,` and `=`, no trailing space.
const TRACESTATE_MEMBER = /^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Parses a `traceparent` value; `undefined` when it is missing or malformed (the specification
 * says to start a new trace then, never to fail the request). Version `ff` and all-zero ids are
 * invalid; versions above `00` are read by their first four fields, as the specification asks.
 */
export function parseTraceparent(value: unknown, tracestate?: unknown): TraceContext | undefined {
  // Checked before anything else: a header is attacker-controlled, and a valid one is short.
  if (typeof value !== "string" || value.length < 55 || value.length > 256) return undefined;
  const text = value.trim();
  const parts = text.split("-");
  if (parts.length < 4) return undefined;
  const [version, traceId, spanId, flags] = parts as [string, string, string, string];
  if (!HEX_2.test(version) || version === "ff") return undefined;
  if (version === "00" && (parts.length !== 4 || text.length !== 55)) return undefined;
  if (!HEX_32.test(traceId) || traceId === ZERO_TRACE) return undefined;
  if (!HEX_16.test(spanId) || spanId === ZERO_SPAN) return undefined;
  if (!HEX_2.test(flags)) return undefined;
  const state = cleanTracestate(tracestate);
  return { traceId, spanId, flags: parseInt(flags, 16), ...(state !== undefined ? { tracestate: state } : {}) };
}

/**
 * A `tracestate` value fit to pass on, or `undefined`: at most 512 characters and 32 well-formed
 * list members (anything else is dropped whole rather than repaired).
 */
export function cleanTracestate(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_TRACESTATE_LENGTH) return undefined;
  const members = value.split(",").map((m) => m.trim()).filter((m) => m !== "");
  if (members.length === 0 || members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  for (const m of members) if (!TRACESTATE_MEMBER.test(m)) return undefined;
  return members.join(",");
}

/** The `traceparent` text of a context (always version `00`). */
export function formatTraceparent(ctx: Pick<TraceContext, "traceId" | "spanId" | "flags">): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.flags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The wire form of a context: `{ traceparent, tracestate? }`. */
export function traceHeaders(ctx: TraceContext): TraceHeaders {
  const out: TraceHeaders = { traceparent: formatTraceparent(ctx) };
  if (ctx.tracestate !== undefined) out.tracestate = ctx.tracestate;
  return out;
}

/** Reads a context from a `tracing_context` / `trace_context` object (`{ traceparent, tracestate? }`). */
export function traceFromCarrier(carrier: unknown): TraceContext | undefined {
  if (carrier === null || typeof carrier !== "object" || Array.isArray(carrier)) return undefined;
  const c = carrier as Record<string, unknown>;
  return parseTraceparent(Object.hasOwn(c, "traceparent") ? c.traceparent : undefined, Object.hasOwn(c, "tracestate") ? c.tracestate : undefined);
}

/** A new random span id (8 bytes, never all zero). */
export function newSpanId(): string {
  for (;;) {
    const id = randomBytes(8).toString("hex");
    if (id !== ZERO_SPAN) return id;
  }
}

/** A new random trace id (16 bytes, never all zero). */
export function newTraceId(): string {
  for (;;) {
    const id = randomBytes(16).toString("hex");
    if (id !== ZERO_TRACE) return id;
  }
}

/** The context of a new span under `parent`: same trace, flags and state, a new span id. */
export function childContext(parent: TraceContext, spanId: string = newSpanId()): TraceContext {
  return { ...parent, spanId };
}

/** A context that starts a new, sampled trace (for work that arrived without one). */
export function rootContext(): TraceContext {
  return { traceId: newTraceId(), spanId: newSpanId(), flags: 1 };
}
