/**
 * One HTTP exchange with the orchestrator and the response rules of PROTOCOL.md 1.3: the three
 * common headers on every request, a single token refresh and retry after a 401, typed errors for
 * 403 / 429 / other statuses, content-type and JSON checks, bounded bodies, and a once-only
 * warning on a protocol version mismatch.
 */
import { util, type Dispatcher } from "undici";
import { ErrorCode, Header, ProtocolVersion } from "../../generated/constants.js";
import { AuthError, NetworkError, ProtocolError, RateLimitError, RxonError } from "../errors.js";
import { parseJson, type JsonValue } from "../wire/json.js";
import { SignalLinks, type AbortTarget, type LinkedAbort } from "./abort.js";
import type { ResolvedTransportOptions } from "./options.js";
import { parseRetryAfter } from "./retry-after.js";
import { HubClock } from "./hub-clock.js";

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

/** Status, headers (those the client reads: content type and length, Retry-After, X-RXON-Version) and body bytes of one exchange. */
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
  /** The body deadlines of the exchanges reading a body. */
  private readonly deadlines: BodyDeadlines;
  /** The common headers for the current token, without and with a JSON body (undici only reads them). */
  private headerSets: { readonly token: string; readonly bare: Record<string, string>; readonly json: Record<string, string> } | undefined;
  /** The orchestrator's time, learned from the `Date` header of every answer. */
  readonly hubClock: HubClock;

  constructor(
    baseUrl: URL,
    private readonly workerId: string,
    /** Where requests go; the transport replaces it when its connections went stale (see {@link onStall}). */
    public dispatcher: Dispatcher,
    private readonly tokens: TokenHolder,
    private readonly options: ResolvedTransportOptions,
    private readonly closed: AbortSignal,
    private readonly hasClientCert: boolean,
  ) {
    this.origin = baseUrl.origin;
    this.basePath = baseUrl.pathname.replace(/\/+$/, "");
    this.ownVersion = options.protocolVersion;
    this.links = new SignalLinks(closed);
    this.deadlines = new BodyDeadlines(options.bodyTimeoutMs);
    this.hubClock = new HubClock(options.clock, options.logger);
  }

  /**
   * Called when a request got no answer in time (undici's headers or body timeout, the body
   * deadline, or a caller's `AbortSignal.timeout`): the connection it used is likely dead without
   * a FIN/RST (a NAT or firewall dropped the path), and so are the idle ones opened before it.
   */
  onStall: (() => void) | undefined;

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
    const exchange = new Exchange(req, this.options.maxResponseBytes, this.deadlines, this.links.of(req.signal));
    // dispatch() reports every failure, synchronous ones included, through the handler's onError.
    this.dispatcher.dispatch(
      {
        origin: this.origin,
        path: this.basePath + req.endpoint + (req.query ?? ""),
        method: req.method,
        headers: this.headers(req.body !== undefined),
        body: req.body,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      },
      exchange,
    );
    try {
      const res = await exchange.promise;
      this.hubClock.observe(headerValue(res.headers.date));
      return res;
    } catch (error) {
      if (this.closed.aborted) throw closedError();
      if (stalled(error, req.signal)) this.onStall?.();
      if (error instanceof RxonError) throw error;
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
      const parsed = parseRetryAfter(header, this.hubClock.now(), this.options.rateLimitMaxMs);
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
 * One request as an undici dispatch handler: the response is collected here, at most `max` bytes
 * and within `timeoutMs` of the headers, without a response stream, its events and its async
 * resource (what `dispatcher.request` adds per call). undici's own body timeout only bounds the
 * gap between two chunks, so an orchestrator (or a middlebox) that trickles a byte now and then
 * could otherwise hold a poll forever. The request is aborted by its caller's signal or the
 * transport's close, through {@link SignalLinks}; undici then reports the reason as the error,
 * as `dispatcher.request` does.
 */
class Exchange implements Dispatcher.DispatchHandler, AbortTarget {
  /** Settles with the response, or with the error that ended the exchange. */
  readonly promise: Promise<RawResponse>;
  private resolve!: (response: RawResponse) => void;
  private reject!: (error: unknown) => void;
  private status = 0;
  private headers: RawResponse["headers"] = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private abortRequest: ((error?: Error) => void) | undefined;
  /** An abort that came before undici handed over its abort function. */
  private early: unknown = undefined;
  /** When the body must have arrived (`performance.now()` time), once the headers did. */
  deadline = 0;
  /** Set when the body deadline passed (read by onError). */
  timedOut = false;
  private done = false;

  constructor(
    private readonly req: HttpRequest,
    private readonly max: number,
    private readonly deadlines: BodyDeadlines,
    private readonly source: LinkedAbort,
  ) {
    this.promise = new Promise<RawResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    source.add(this);
  }

  onSignalAbort(reason: unknown): void {
    if (this.done) return;
    if (this.abortRequest !== undefined) this.abortRequest(reason as Error);
    else this.early = reason;
  }

  /** Ends the request (undici then calls onError, which is ignored once settled). */
  abort(): void {
    this.abortRequest?.();
  }

  onConnect(abort: (error?: Error) => void): void {
    if (this.early !== undefined) abort(this.early as Error);
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void, _statusText: string): boolean {
    // 1xx answers are informational: the real one follows.
    if (statusCode < 200) return true;
    this.status = statusCode;
    this.headers = readHeaders(rawHeaders);
    const declared = Number(headerValue(this.headers["content-length"]) ?? NaN);
    if (declared > this.max) {
      this.fail(tooLarge(this.req, this.max));
      this.abort();
      return false;
    }
    this.deadlines.add(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    this.size += chunk.length;
    if (this.size > this.max) {
      this.fail(tooLarge(this.req, this.max));
      this.abort();
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(_trailers: string[] | null): void {
    if (this.done) return;
    this.settle();
    const { chunks } = this;
    this.resolve({ status: this.status, headers: this.headers, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size) });
  }

  onError(error: Error): void {
    if (this.done) return;
    this.fail(this.timedOut ? bodyTimeout(this.req, this.deadlines.timeoutMs, error) : error);
  }

  private fail(error: unknown): void {
    if (this.done) return;
    this.settle();
    this.reject(error);
  }

  private settle(): void {
    this.done = true;
    if (this.deadline !== 0) this.deadlines.delete(this);
    this.source.delete(this);
  }
}

/** The response headers the client reads, by their lowercase names; the others are not decoded. */
const READ_HEADERS: ReadonlySet<string> = new Set(["content-type", "content-length", "retry-after", "date", VERSION_HEADER]);

/** The {@link READ_HEADERS} of a response, as undici's parseHeaders writes them (repeated ones as arrays). */
function readHeaders(raw: (Buffer | string)[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = util.headerNameToString(raw[i]!);
    if (!READ_HEADERS.has(name)) continue;
    const rawValue = raw[i + 1]!;
    const value = typeof rawValue === "string" ? rawValue : rawValue.toString("latin1");
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (typeof seen === "string") out[name] = [seen, value];
    else seen.push(value);
  }
  return out;
}

/**
 * The body deadlines of one client's exchanges, watched by one timer. Every exchange gets the same
 * time after its headers, so the order in which bodies start is the order of their deadlines: the
 * timer only ever waits for the oldest. A body that completes just leaves the set (no timer to
 * clear per response, none to set); when the timer fires it ends the bodies that are late and
 * waits for the next oldest. The timer does not keep the process alive (the sockets do).
 */
class BodyDeadlines {
  readonly #reading = new Set<Exchange>();
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly timeoutMs: number) {}

  /** Starts the body deadline of `exchange` (its headers just arrived). */
  add(exchange: Exchange): void {
    exchange.deadline = performance.now() + this.timeoutMs;
    this.#reading.add(exchange);
    if (this.#timer === undefined) this.#arm(this.timeoutMs);
  }

  /** Forgets `exchange` (its body arrived, or it failed). */
  delete(exchange: Exchange): void {
    this.#reading.delete(exchange);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#expire, Math.max(1, ms));
    this.#timer.unref();
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const exchange of this.#reading) {
      if (exchange.deadline > now) {
        this.#arm(exchange.deadline - now);
        return;
      }
      this.#reading.delete(exchange);
      exchange.timedOut = true;
      exchange.abort();
    }
  };
}

/** True when an exchange failed for want of an answer in time (not for a refusal, a reset or a plain abort). */
function stalled(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return (signal.reason as { name?: unknown } | undefined)?.name === "TimeoutError";
  if (error instanceof NetworkError) return error.details.reason === "body_timeout";
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
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
