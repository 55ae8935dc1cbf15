/**
 * `Retry-After` parsing as the reference client does it (PROTOCOL.md 1.4): a decimal number of
 * seconds first, then an HTTP-date; the delay is clamped to be non-negative.
 */

/** A decimal number as Python's `float()` reads it (surrounding whitespace allowed). */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITY = /^[+-]?inf(?:inity)?$/i;
/** A zone designator; an HTTP-date without one is read as UTC, like the worker SDK does. */
/** What every HTTP-date form has: a month name and a time of day (Date.parse alone accepts "1,5"). */
const DATE_SHAPE = /\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b.*\b\d{1,2}:\d{2}/i;
const HAS_ZONE = /(?:\b(?:GMT|UTC|UT)\b|[+-]\d{4}\s*$|Z\s*$)/i;

/**
 * Delay in milliseconds named by a `Retry-After` value, or `undefined` when the value is missing
 * or neither a number nor a date. Never negative; capped at `maxMs` (an `inf` header would
 * otherwise stop a worker for good).
 */
export function parseRetryAfter(value: string | undefined | null, nowMs: number, maxMs: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  let ms: number;
  if (DECIMAL.test(text)) ms = Number(text) * 1000;
  else if (INFINITY.test(text)) ms = text.startsWith("-") ? 0 : Number.POSITIVE_INFINITY;
  else if (DATE_SHAPE.test(text)) {
    // Date.parse accepts the IMF-fixdate, RFC 850 and asctime forms; a date without a zone would
    // be local time in JavaScript, so UTC is made explicit.
    const at = Date.parse(HAS_ZONE.test(text) ? text : `${text} GMT`);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  } else return undefined;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(0, Math.ceil(ms)), maxMs);
}
