/**
 * Turning handler values and errors into wire responses (PROTOCOL.md 2.2, 3.3): canonical JSON
 * bodies, the `{ "error", "code" }` error shape, `Retry-After` kept on 429, and no internal text
 * on 500.
 */
import type { ServerResponse } from "node:http";
import { ErrorCode, Header } from "../../generated/constants.js";
import { AuthError, RateLimitError, RxonError, ValidationError } from "../errors.js";
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

/** Maps an error thrown by body parsing, verification or the handler to its answer. */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof RateLimitError) {
    const seconds = Math.max(1, Math.ceil((Number.isFinite(error.retryAfterMs) ? error.retryAfterMs : 1000) / 1000));
    const code = typeof error.details.code === "string" ? error.details.code : error.code;
    return { status: 429, body: { error: error.message || "Rate limit exceeded", code }, headers: { [Header.RETRY_AFTER]: String(seconds) }, internal: false };
  }
  if (error instanceof ValidationError) {
    const status = error.status === 413 ? 413 : 400;
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
  try {
    return canonicalize(encode(value));
  } catch (cause) {
    throw new RxonError("The handler returned a value that cannot be serialized", { cause });
  }
}

/** Writes a JSON response (status 200 unless given). */
export function sendJson(res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  if (res.headersSent) return;
  const body = Buffer.from(text, "utf8");
  if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
  res.writeHead(status, { "Content-Type": JSON_TYPE, "Content-Length": body.length });
  res.end(body);
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

/** Writes an error answer as JSON. */
export function sendError(res: ServerResponse, answer: ErrorAnswer): void {
  let text: string;
  try {
    text = JSON.stringify(answer.body);
  } catch {
    text = JSON.stringify(INTERNAL_BODY);
  }
  sendJson(res, answer.status, text, answer.headers);
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
