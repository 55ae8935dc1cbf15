/**
 * One HTTP exchange with the orchestrator and the response rules of PROTOCOL.md 1.3: the three
 * common headers on every request, a single token refresh and retry after a 401, typed errors for
 * 403 / 429 / other statuses, content-type and JSON checks, bounded bodies, and a once-only
 * warning on a protocol version mismatch.
 */
import type { EventEmitter } from "node:events";
import type { Dispatcher } from "undici";
import { ErrorCode, Header, ProtocolVersion } from "../../generated/constants.js";
import { AuthError, NetworkError, ProtocolError, RateLimitError, RxonError } from "../errors.js";
import { parseJson, type JsonValue } from "../wire/json.js";
import { SignalLinks } from "./abort.js";
import type { ResolvedTransportOptions } from "./options.js";
import { parseRetryAfter } from "./retry-after.js";

/** One request through {@link HttpClient.call}. */
export interface HttpRequest {
  readonly method: "GET" | "POST" | "PATCH";
  /** Path under the base URL (placeholders already filled in); also names the endpoint in errors. */
  readonly endpoint: string;
  /** Query string including the leading `?`, if any. */
  readonly query?: string;
  /** JSON text of the body, if any. */
  readonly body?: string;
  readonly signal?: AbortSignal | undefined;
  /** Client-side timeout of the exchange. */
  readonly timeoutMs: number;
  /** Do not refresh and retry on 401 (the STS calls themselves). */
  readonly noRefresh?: boolean;
}

/** Status, headers and body bytes of one exchange. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly bytes: Buffer;
}

/** What the client needs from the token service. */
export interface TokenHolder {
  /** Current value of `X-Worker-Token` (may be empty: mTLS only). */
  readonly token: string;
  /** Obtains a new token; true when it did. */
  refresh(signal?: AbortSignal): Promise<boolean>;
}

/** `X-RXON-Version` as undici names response headers (lowercase). */
const VERSION_HEADER = Header.VERSION.toLowerCase();
const JSON_TYPE = /^application\/(?:json|[^\s;/]+\+json)\s*(?:;|$)/i;
const MAX_ERROR_TEXT = 512;
/** Versions this transport speaks (1.0b13 to 1.0b15): an orchestrator announcing one of them is no mismatch. */
const KNOWN_VERSIONS: ReadonlySet<string> = new Set(Object.values(ProtocolVersion));

/** Error thrown by calls made after {@link HttpClient.close}-time abort. */
export function closedError(): NetworkError {
  return new NetworkError("Transport is closed", { retryable: false, details: { reason: "closed" } });
}

/** Sends requests to one orchestrator over one dispatcher. */
export class HttpClient {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly ownVersion: string;
  private versionWarned = false;
  /** Each caller's signal linked with the close signal, once per caller signal. */
  private readonly links: SignalLinks;
  /** The common headers for the current token, without and with a JSON body (undici only reads them). */
  private headerSets: { readonly token: string; readonly bare: Record<string, string>; readonly json: Record<string, string> } | undefined;

  constructor(
    baseUrl: URL,
    private readonly workerId: string,
    private readonly dispatcher: Dispatcher,
    private readonly tokens: TokenHolder,
    private readonly options: ResolvedTransportOptions,
    private readonly closed: AbortSignal,
    private readonly hasClientCert: boolean,
  ) {
    this.origin = baseUrl.origin;
    this.basePath = baseUrl.pathname.replace(/\/+$/, "");
    this.ownVersion = options.protocolVersion;
    this.links = new SignalLinks(closed);
  }

  /**
   * Sends `req` and interprets the answer: the parsed JSON body, or null for 204 / an empty body.
   * Throws AuthError, RateLimitError, ProtocolError, NetworkError, or the abort reason of `req.signal`.
   */
  async call(req: HttpRequest): Promise<JsonValue | null> {
    let res = await this.exchange(req);
    if (res.status === 401 && !req.noRefresh) {
      if (await this.tokens.refresh(req.signal)) res = await this.exchange(req);
      if (res.status === 401) throw new AuthError(`Unauthorized (401) from ${req.endpoint}`, { status: 401, details: this.where(req) });
    }
    return this.interpret(req, res);
  }

  /** One exchange: status, headers and the whole (bounded) body. Errors are mapped to rxon errors. */
  async exchange(req: HttpRequest): Promise<RawResponse> {
    if (this.closed.aborted) throw closedError();
    if (req.signal?.aborted) throw req.signal.reason;
    const headers = this.headers(req.body !== undefined);
    try {
      const res = await this.dispatcher.request({
        origin: this.origin,
        path: this.basePath + req.endpoint + (req.query ?? ""),
        method: req.method,
        headers,
        body: req.body,
        // An emitter view of the signal: undici attaches and detaches a listener per request.
        signal: this.links.of(req.signal) as unknown as EventEmitter,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const bytes = await readBody(res.body, res.headers, this.options.maxResponseBytes, req, this.options.bodyTimeoutMs);
      return { status: res.statusCode, headers: res.headers, bytes };
    } catch (error) {
      if (error instanceof RxonError) throw error;
      if (this.closed.aborted) throw closedError();
      if (req.signal?.aborted) throw req.signal.reason;
      throw this.networkError(req, error);
    }
  }

  /** The three common headers (and the JSON content type when there is a body), rebuilt only when the token changes. */
  private headers(withBody: boolean): Record<string, string> {
    const token = this.tokens.token;
    let sets = this.headerSets;
    if (sets === undefined || sets.token !== token) {
      const bare: Record<string, string> = { "x-worker-id": this.workerId, "x-rxon-version": this.options.protocolVersion };
      if (token !== "") bare["x-worker-token"] = token;
      sets = this.headerSets = { token, bare, json: { ...bare, "content-type": "application/json" } };
    }
    return withBody ? sets.json : sets.bare;
  }

  private interpret(req: HttpRequest, res: RawResponse): JsonValue | null {
    this.checkVersion(res.headers);
    const { status } = res;
    if (status === 204) return null;
    if (status >= 300 || status < 200) throw this.statusError(req, res);
    if (res.bytes.length === 0) return null;
    const type = headerValue(res.headers["content-type"]) ?? "";
    if (!JSON_TYPE.test(type)) {
      throw new ProtocolError(`Response is not a valid JSON: content type "${type}" from ${req.endpoint}`, {
        status,
        details: { ...this.where(req), status, contentType: type },
      });
    }
    try {
      return parseJson(res.bytes, { maxBytes: this.options.maxResponseBytes });
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new ProtocolError(`Response is not a valid JSON from ${req.endpoint}: ${why}`, {
        status,
        cause,
        details: { ...this.where(req), status },
      });
    }
  }

  private statusError(req: HttpRequest, res: RawResponse): RxonError {
    const { status } = res;
    const text = res.bytes.toString("utf8");
    const body = errorBody(res);
    const details: Record<string, unknown> = { ...this.where(req), status };
    if (body.code !== undefined) details.code = body.code;
    if (status === 429) {
      const header = headerValue(res.headers["retry-after"]);
      const parsed = parseRetryAfter(header, this.options.clock(), this.options.rateLimitMaxMs);
      const retryAfterMs = parsed ?? this.options.rateLimitDefaultMs;
      details.retryAfterSource = parsed === undefined ? "default" : "header";
      let message: string;
      if (body.kind === "object") message = body.error ?? "Rate limit exceeded";
      else if (body.kind === "json") message = clip(text);
      else message = text.trim() === "" ? "Rate limit exceeded" : `Rate limit exceeded (429): ${clip(text)}`;
      return new RateLimitError(message, retryAfterMs, { code: body.code ?? ErrorCode.LIMIT_EXCEEDED_ERROR, details });
    }
    const detail = body.error ?? clip(text);
    if (status === 403) {
      // The Python orchestrator answers bad tokens and bad signatures with 403: never worth a refresh.
      return new AuthError(detail === "" ? `Forbidden (403) from ${req.endpoint}` : `HTTP 403: ${detail}`, {
        status: 403,
        code: body.code ?? ErrorCode.SECURITY_ERROR,
        details,
      });
    }
    return new ProtocolError(`HTTP ${status}: ${detail}`, {
      status,
      retryable: status >= 500 || status === 408,
      ...(body.code !== undefined ? { code: body.code } : {}),
      details,
    });
  }

  private checkVersion(headers: RawResponse["headers"]): void {
    if (this.versionWarned) return;
    const theirs = headerValue(headers[VERSION_HEADER]);
    // The Python orchestrator speaks 1.0b14 and the reference 1.0b13: both are spoken here too.
    if (theirs === undefined || theirs === this.ownVersion || KNOWN_VERSIONS.has(theirs)) return;
    this.versionWarned = true;
    this.options.logger.warn(
      { ours: this.options.protocolVersion, theirs, origin: this.origin },
      "RXON protocol version mismatch with the orchestrator (warning shown once)",
    );
  }

  private networkError(req: HttpRequest, cause: unknown): NetworkError {
    const err = cause as { code?: unknown; message?: unknown } | null;
    const code = typeof err?.code === "string" ? err.code : undefined;
    let why = typeof err?.message === "string" && err.message !== "" ? err.message : String(cause);
    if (this.origin.startsWith("https:") && !this.hasClientCert && (code === "UND_ERR_SOCKET" || code === "ECONNRESET" || /alert|certificate/i.test(why))) {
      why += " (the orchestrator may require a TLS client certificate: set tls.cert and tls.key)";
    }
    return new NetworkError(`Network error during ${req.method} ${req.endpoint}: ${why}`, {
      cause,
      details: { ...this.where(req), ...(code !== undefined ? { errorCode: code } : {}) },
    });
  }

  private where(req: HttpRequest): Record<string, unknown> {
    return { method: req.method, endpoint: req.endpoint };
  }
}

/**
 * Reads the whole body, at most `max` bytes and within `timeoutMs` of the headers. undici's own
 * body timeout only bounds the gap between two chunks, so an orchestrator (or a middlebox) that
 * trickles a byte now and then could otherwise hold a poll forever.
 */
async function readBody(body: Dispatcher.ResponseData["body"], headers: RawResponse["headers"], max: number, req: HttpRequest, timeoutMs: number): Promise<Buffer> {
  const declared = Number(headerValue(headers["content-length"]) ?? NaN);
  if (declared > max) {
    body.destroy();
    throw tooLarge(req, max);
  }
  if (!(declared >= 0)) return readUnknownLength(body, max, req, timeoutMs);
  // A declared length bounds the body (HTTP framing): undici collects it, and a timer that
  // carries its state as an argument is the only thing made here per response.
  const watch: BodyWatch = { body, timedOut: false };
  const timer = setTimeout(destroyOnTimeout, timeoutMs, watch);
  let bytes: Uint8Array;
  try {
    bytes = await body.bytes();
  } catch (error) {
    if (watch.timedOut) throw bodyTimeout(req, timeoutMs, error);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

interface BodyWatch {
  readonly body: Dispatcher.ResponseData["body"];
  timedOut: boolean;
}

function destroyOnTimeout(watch: BodyWatch): void {
  watch.timedOut = true;
  watch.body.destroy();
}

/** Reads a body of undeclared length (chunked, or up to the connection's end), stopping past `max` bytes. */
function readUnknownLength(body: Dispatcher.ResponseData["body"], max: number, req: HttpRequest, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let timedOut = false;
    const finish = (error: unknown, value?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error !== undefined) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      body.destroy();
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        finish(tooLarge(req, max));
        body.destroy();
        return;
      }
      chunks.push(chunk);
    };
    body.on("data", onData);
    // `on`, not `once`: `finish` settles once anyway, and the body is dropped after it.
    body.on("end", () => finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.on("error", (error: Error) => finish(timedOut ? bodyTimeout(req, timeoutMs, error) : error));
    // Closed without an end or an error (destroyed without a reason): what arrived is not a whole body.
    // After an end or an error (the usual case) there is nothing left to decide, nor an error to build.
    body.on("close", () => {
      if (!done) finish(timedOut ? bodyTimeout(req, timeoutMs, undefined) : prematureClose());
    });
  });
}

/** What reading a stream that closed before its end reports (the error `for await` would throw). */
function prematureClose(): Error {
  return Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
}

function bodyTimeout(req: HttpRequest, timeoutMs: number, cause: unknown): NetworkError {
  return new NetworkError(`Response body from ${req.endpoint} not received within ${timeoutMs} ms`, {
    cause,
    details: { method: req.method, endpoint: req.endpoint, reason: "body_timeout", timeoutMs },
  });
}

function tooLarge(req: HttpRequest, max: number): ProtocolError {
  return new ProtocolError(`Response from ${req.endpoint} exceeds ${max} bytes`, {
    status: 413,
    details: { method: req.method, endpoint: req.endpoint, reason: "size", maxBytes: max },
  });
}

interface ErrorBody {
  /** `object`: a JSON object; `json`: other JSON; `text`: not JSON. */
  kind: "object" | "json" | "text";
  error?: string;
  code?: string;
}

/** Reads `error` and `code` of a JSON error body; non-JSON bodies are just text. */
function errorBody(res: RawResponse): ErrorBody {
  const type = headerValue(res.headers["content-type"]) ?? "";
  if (!JSON_TYPE.test(type) || res.bytes.length === 0) return { kind: "text" };
  let value: JsonValue;
  try {
    value = parseJson(res.bytes, { maxBytes: 64 * 1024 });
  } catch {
    return { kind: "text" };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { kind: "json" };
  const out: ErrorBody = { kind: "object" };
  if (typeof value.error === "string" && value.error !== "") out.error = clip(value.error);
  if (typeof value.code === "string" && value.code !== "") out.code = clip(value.code);
  return out;
}

function clip(text: string): string {
  const t = text.trim();
  return t.length > MAX_ERROR_TEXT ? `${t.slice(0, MAX_ERROR_TEXT)}…` : t;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
