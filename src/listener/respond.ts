/**
 * Turning handler values and errors into wire responses (PROTOCOL.md 2.2, 3.3): canonical JSON
 * bodies, the `{ "error", "code" }` error shape, `Retry-After` on 429 and on 503 (a service the
 * handler needs is unavailable), and no internal text on 500.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, Header } from "../../generated/constants.js";
import { AuthError, RateLimitError, RxonError, UnavailableError, ValidationError } from "../errors.js";
import { canonicalize } from "../wire/canonical.js";
import { encode } from "../wire/codec.js";

const JSON_TYPE = "application/json; charset=utf-8";
const TEXT_TYPE = "text/plain; charset=utf-8";

/** A response decided from an error: status, body fields and extra headers. */
export interface ErrorAnswer {
  status: number;
  body: { error: string; code: string; errors?: readonly { path: string; message: string }[] };
  headers: Record<string, string>;
  /** True when the error is ours to log as a failure (500). */
  internal: boolean;
}

/** The generic 500 body: never the exception's text. */
export const INTERNAL_BODY = Object.freeze({ error: "Internal server error", code: ErrorCode.INTERNAL_ERROR });

/** `Retry-After` in whole seconds, at least 1 (1 when the wait is not a finite number). */
function retryAfter(ms: number): Record<string, string> {
  return { [Header.RETRY_AFTER]: String(Math.max(1, Math.ceil((Number.isFinite(ms) ? ms : 1000) / 1000))) };
}

/** Maps an error thrown by body parsing, verification or the handler to its answer. */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof RateLimitError) {
    const code = typeof error.details.code === "string" ? error.details.code : error.code;
    return { status: 429, body: { error: error.message || "Rate limit exceeded", code }, headers: retryAfter(error.retryAfterMs), internal: false };
  }
  if (error instanceof UnavailableError) {
    return { status: 503, body: { error: error.message, code: error.code }, headers: retryAfter(error.retryAfterMs), internal: false };
  }
  if (error instanceof ValidationError) {
    const status = error.status === 413 || error.status === 422 ? error.status : 400;
    return { status, body: { error: error.message, code: error.code, errors: error.errors }, headers: {}, internal: false };
  }
  if (error instanceof AuthError) {
    const status = error.status === 401 ? 401 : 403;
    return { status, body: { error: error.message, code: error.code }, headers: {}, internal: false };
  }
  if (error instanceof RxonError && error.status !== undefined && error.status >= 400 && error.status < 600 && error.status !== 500) {
    return { status: error.status, body: { error: error.message, code: error.code }, headers: {}, internal: false };
  }
  return { status: 500, body: { ...INTERNAL_BODY }, headers: {}, internal: true };
}

/**
 * Serializes a handler value canonically (nulls dropped, keys in code point order, exact
 * integers). A value that cannot be written is the application's fault, never the client's: it
 * fails as an internal error (500), not as the ValidationError the canonical writer throws.
 */
export function jsonText(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    const text = ahead.get(value);
    if (text !== undefined) return text;
  }
  try {
    return answerText(value);
  } catch (cause) {
    throw new RxonError("The handler returned a value that cannot be serialized", { cause });
  }
}

/**
 * The canonical text of an answer. Plain JSON values (what handlers return) in one pass: the
 * canonical writer drops null members itself. Anything it refuses (class instances among them)
 * is written as its wire form, the plain copy `encode` makes, or refused with that form's reason.
 */
function answerText(value: unknown): string {
  try {
    return canonicalize(value);
  } catch {
    return canonicalize(encode(value));
  }
}

/** Writes a JSON response (status 200 unless given). */
export function sendJson(res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  if (res.headersSent) return;
  if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
  res.writeHead(status, { "Content-Type": JSON_TYPE, "Content-Length": Buffer.byteLength(text, "utf8") });
  // A string body goes out with the head in one write (a Buffer would make it a writev of two).
  res.end(text, "utf8");
}

/** Writes an empty response (204). */
export function sendEmpty(res: ServerResponse, status: number): void {
  if (res.headersSent) return;
  res.writeHead(status);
  res.end();
}

/** Writes a plain-text response, e.g. `404: Not Found` as the reference's framework does. */
export function sendText(res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  if (res.headersSent) return;
  const body = Buffer.from(text, "utf8");
  if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
  res.writeHead(status, { "Content-Type": TEXT_TYPE, "Content-Length": body.length });
  res.end(body);
}

/** Smallest error body budget: room for a useful message and a few problems. */
export const MIN_ERROR_BYTES = 1024;
/** Largest error body budget, however large the request. */
export const MAX_ERROR_BYTES = 64 * 1024;

/**
 * How many bytes an error answer to `req` may take: its declared body size, at least
 * {@link MIN_ERROR_BYTES} and at most {@link MAX_ERROR_BYTES}, so that a refusal is never much
 * larger than the request that caused it (no amplification).
 */
export function errorBudget(req: IncomingMessage | undefined): number {
  const declared = Number(req?.headers["content-length"]);
  const size = Number.isFinite(declared) && declared > 0 ? declared : 0;
  return Math.min(MAX_ERROR_BYTES, Math.max(MIN_ERROR_BYTES, size));
}

/**
 * The JSON text of an error body within `maxBytes` (UTF-8): problems are dropped from the end
 * until it fits, then the message is shortened; `truncated: true` says something was left out.
 */
export function errorText(body: ErrorAnswer["body"], maxBytes: number): string {
  let text = safeStringify(body);
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  const errors = body.errors ?? [];
  // Each problem is already short (see the codec); find how many fit, from the front.
  let kept = errors.length;
  const shape = (n: number, message: string): string =>
    safeStringify({ error: message, code: body.code, ...(body.errors !== undefined ? { errors: errors.slice(0, n) } : {}), truncated: true });
  while (kept > 0 && Buffer.byteLength((text = shape(kept, body.error)), "utf8") > maxBytes) kept = Math.floor(kept / 2);
  text = shape(kept, body.error);
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  const room = Math.max(0, maxBytes - Buffer.byteLength(shape(kept, ""), "utf8") - 8);
  return shape(kept, `${body.error.slice(0, Math.floor(room / 6))}…`);
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(INTERNAL_BODY);
  }
}

/**
 * Writes an error answer as JSON, within `maxBytes` (default: {@link errorBudget} of the request
 * being answered).
 */
export function sendError(res: ServerResponse, answer: ErrorAnswer, maxBytes: number = errorBudget(res.req)): void {
  sendJson(res, answer.status, errorText(answer.body, maxBytes), answer.headers);
}

/** Status line text for raw upgrade refusals. */
const REASONS: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** A complete raw HTTP/1.1 response for refusing an upgrade on the bare socket. */
export function rawResponse(status: number, text: string, headers: Record<string, string>): string {
  const body = Buffer.from(text, "utf8");
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\nConnection: close\r\nContent-Type: ${TEXT_TYPE}\r\nContent-Length: ${body.length}\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]!.replace(/[\r\n]/g, " ")}\r\n`;
  return head + "\r\n" + body.toString("utf8");
}

/** Texts of handler values serialized before they were returned (see {@link serializeAhead}). */
const ahead = new WeakMap<object, string>();

/**
 * Serializes a value a handler is about to return, as {@link jsonText} would, and keeps the text
 * for it, so the answer is not serialized twice. For a handler that must know whether its value
 * can be written before it commits to it (a hub fails a task it could never send instead of
 * handing it out). Throws the canonical writer's ValidationError when it cannot be written. The
 * value must not change afterwards.
 */
export function serializeAhead(value: object): string {
  const text = answerText(value);
  ahead.set(value, text);
  return text;
}
