/**
 * Reading request bodies under limits: the declared length is checked before anything is read,
 * streamed bytes are counted as they arrive, and a deadline bounds slow senders. On a refusal
 * the stream is paused (Node then stops reading the socket) instead of being drained, so a
 * 100 MB upload costs a few kilobytes.
 */
import type { IncomingMessage } from "node:http";
import { ErrorCode } from "../../generated/constants.js";
import { ProtocolError, ValidationError } from "../errors.js";

/** Why a body was refused before parsing; the listener closes the connection after answering. */
export class BodyRefusal extends ProtocolError {
  constructor(message: string, status: number, code: string = ErrorCode.INVALID_INPUT_ERROR) {
    super(message, { status, code });
  }
}

/** Size error in the orchestrator's words (PROTOCOL.md 2.1). */
export function tooLarge(maxBytes: number): BodyRefusal {
  return new BodyRefusal(`Maximum request body size ${maxBytes} exceeded.`, 413, ErrorCode.LIMIT_EXCEEDED_ERROR);
}

/**
 * The declared body length: 0 for none, a number for Content-Length, -1 for a chunked body of
 * unknown length. Throws a 413 refusal when the declared length is over `maxBytes`.
 */
export function declaredLength(req: IncomingMessage, maxBytes: number): number {
  const header = req.headers["content-length"];
  if (header !== undefined) {
    // Node has already refused malformed or conflicting Content-Length values.
    const length = Number(header);
    if (length > maxBytes) throw tooLarge(maxBytes);
    return length;
  }
  return req.headers["transfer-encoding"] === undefined ? 0 : -1;
}

/**
 * Whether the request's Content-Type announces JSON: `application/json` or `application/*+json`,
 * parameters (charset) ignored. A missing header counts as JSON only when `allowMissing`.
 */
export function isJsonContentType(req: IncomingMessage, allowMissing: boolean): boolean {
  const header = req.headers["content-type"];
  if (header === undefined || header.trim() === "") return allowMissing;
  const type = header.split(";", 1)[0]!.trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/**
 * Stops reading a request whose body will not be used, without draining it: a `data` listener
 * marks the stream as consumed (so Node does not discard the rest by reading it after the
 * response), and pausing it makes Node stop reading the socket once its small buffer is full.
 */
export function abandonBody(req: IncomingMessage): void {
  if (req.complete || !hasBody(req)) return;
  req.removeAllListeners("data");
  req.on("data", noop);
  req.pause();
}

/** Whether the request announces a body (a non-zero Content-Length, or a transfer coding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}

function noop(): void {}

const EMPTY = Buffer.alloc(0);

/**
 * Reads the whole body into one buffer, refusing it (413) as soon as it grows past `maxBytes`,
 * and (408) when it has not arrived within `timeoutMs`. Rejects with a NetworkError-like
 * ProtocolError when the client goes away. A body that has arrived already (most small ones, by
 * the time a handler asks) is taken from the stream's buffer at once: no timer, no listeners.
 */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> | Buffer {
  if (req.complete && req.readableFlowing === null && !req.readableDidRead) {
    // The parser is done and nothing consumed the stream: everything is in its buffer.
    if (req.readableLength > maxBytes) {
      abandonBody(req);
      throw tooLarge(maxBytes);
    }
    const body = req.read() as Buffer | null;
    if (body === null) return EMPTY;
    // read() takes all that is buffered; anything after it (none is expected) is read as usual.
    if (req.readableLength === 0) return body;
    return readRest(req, maxBytes, timeoutMs, [body], body.length);
  }
  return readRest(req, maxBytes, timeoutMs, [], 0);
}

function readRest(req: IncomingMessage, maxBytes: number, timeoutMs: number, chunks: Buffer[], size: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
      if (error !== null) {
        abandonBody(req);
        reject(error);
      } else resolve(body!);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        finish(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onError = (): void => finish(new BodyRefusal("Request body could not be read", 400));
    const onAborted = (): void => finish(new BodyRefusal("Client closed the connection", 400));
    const timer = setTimeout(() => finish(new BodyRefusal("Request body not received in time", 408, ErrorCode.TIMEOUT_ERROR)), timeoutMs);
    timer.unref();
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/** A 415 refusal for a body that does not announce JSON. */
export function unsupportedMediaType(): BodyRefusal {
  return new BodyRefusal("Unsupported Content-Type: expected application/json", 415);
}

/** Re-exported for the listener: a body that is required but empty. */
export function emptyBody(): ValidationError {
  return new ValidationError("Invalid JSON: request body is empty", [{ path: "", message: "body is empty" }], {
    details: { reason: "syntax" },
  });
}
