/**
 * Shrinking what workers and clients put in records before it goes to a browser: strings are
 * cut, objects and lists keep their first entries, nesting stops. A worker's registration is
 * its own to fill, so nothing of it reaches a page unbounded.
 */
import { ValidationError } from "../../errors.js";

/** Cuts a string to `max` characters (with an ellipsis when cut). */
export function clip(value: string, max = 200): string {
  return value.length <= max ? value : value.slice(0, max - 1) + "…";
}

/**
 * A JSON-safe copy of `value` with at most `maxKeys` keys or items per level, strings of at
 * most `maxString` characters, and `depth` levels (deeper values become `"…"`).
 */
export function bounded(value: unknown, depth = 3, maxKeys = 32, maxString = 200): unknown {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string") return clip(value, maxString);
  if (typeof value !== "object") return null;
  if (depth <= 0) return "…";
  if (Array.isArray(value)) return value.slice(0, maxKeys).map((v) => bounded(v, depth - 1, maxKeys, maxString));
  // A null-prototype result: keys such as `__proto__` stay plain data.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let n = 0;
  for (const k of Object.keys(value)) {
    if (n++ >= maxKeys) break;
    out[clip(k, 64)] = bounded((value as Record<string, unknown>)[k], depth - 1, maxKeys, maxString);
  }
  return out;
}

/** A JSON preview of a value, cut to `max` characters. */
export function preview(value: unknown, max = 2000): string | undefined {
  if (value === undefined) return undefined;
  try {
    return clip(JSON.stringify(value) ?? "", max);
  } catch {
    return "(not serializable)";
  }
}

/**
 * An integer query parameter within [min, max] (values outside are moved to the nearer end),
 * `fallback` when absent or empty; a value that is not a decimal number throws a
 * {@link ValidationError} naming the parameter (the dashboard answers it 400).
 */
export function intParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === "") return fallback;
  if (raw.length > 24 || !/^[+-]?\d+(?:\.\d*)?$/.test(raw)) throw new ValidationError(`Query parameter ${name} must be a number`);
  return Math.min(max, Math.max(min, Math.floor(Number(raw))));
}

/** A string query parameter cut to `max` characters, undefined when absent or empty. */
export function textParam(params: URLSearchParams, name: string, max = 128): string | undefined {
  const raw = params.get(name);
  return raw === null || raw === "" ? undefined : raw.slice(0, max);
}
