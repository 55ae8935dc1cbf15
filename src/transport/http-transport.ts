/**
 * The worker transport over HTTP (undici, keep-alive, one dispatcher per orchestrator) with the
 * WebSocket command channel: register, long-poll, results with bounded retries, heartbeats,
 * events, commands and the token service.
 */
import { setMaxListeners } from "node:events";
import type { ConnectionOptions } from "node:tls";
import { Pool, type Dispatcher } from "undici";
import type { ClientOptions } from "ws";
import { Endpoint, IgnoredReason } from "../../generated/constants.js";
import type {
  Heartbeat,
  HeartbeatResponse,
  RegisterResponse,
  ResultResponse,
  TaskPayload,
  TaskResult,
  TokenResponse,
  WorkerCommand,
  WorkerEventPayload,
  WorkerRegistration,
} from "../../generated/types.js";
import { AuthError, NetworkError, ProtocolError, RxonError, ValidationError } from "../errors.js";
import { canonicalize } from "../wire/canonical.js";
import { silentLogger } from "../logger.js";
import { decode, type ModelName } from "../wire/codec.js";
import type { JsonValue } from "../wire/json.js";
import { linkSignals } from "./abort.js";
import { sleep } from "./backoff.js";
import { CommandChannel } from "./commands.js";
import { closedError, HttpClient } from "./http-client.js";
import { resolveOptions, type ResolvedTransportOptions, type TransportOptions, type TransportTlsOptions } from "./options.js";
import { prepareOutgoing, type MessageSigner, type OutgoingKind, type OutgoingModels } from "./outgoing.js";
import { createSigner } from "./signing.js";
import { rememberReceived } from "./received.js";
import { TokenService } from "./tokens.js";
import type { CallOptions, PollOptions, ResultDelivery, ResultOptions, SkillCallOptions, SkillCallOutcome, WorkerTransport } from "./types.js";

/** Where a handler runs another skill: at the server root, not under `/_worker`. */
const SKILL_CALL_PATH = "/skills/call";

/** Reasons of ignored results that are part of normal operation (logged at info, not warn). */
const EXPECTED_IGNORES: ReadonlySet<string> = new Set([IgnoredReason.DEADLINE_EXCEEDED, IgnoredReason.JOB_CANCELLED]);

/**
 * {@link WorkerTransport} over HTTP(S) and WebSocket. Build it with {@link createTransport}.
 *
 * Results are retried only after network errors, i.e. when no answer was received; an answered
 * result (accepted, ignored, or an error status) is never sent again. A retried result may
 * therefore reach the orchestrator twice when the connection broke after it was processed: the
 * orchestrator deduplicates by `task_id` (a second result for a finished task is ignored), which
 * is what makes retrying safe.
 */
export class HttpTransport implements WorkerTransport {
  /** Base URL of the orchestrator (http or https, no trailing slash). */
  readonly baseUrl: string;
  private readonly options: ResolvedTransportOptions;
  private readonly closer = new AbortController();
  private readonly ownsDispatcher: boolean;
  /** Pools replaced after a stall, closing once their requests in flight end (destroyed by close()). */
  private readonly retiring = new Set<Dispatcher>();
  private lastRecycle = 0;
  private readonly http: HttpClient;
  private readonly tokens: TokenService;
  private readonly channel: CommandChannel;
  private readonly signer: MessageSigner | undefined;
  private readonly paths: { readonly nextTask: string; readonly heartbeat: string };
  private closing: Promise<void> | undefined;
  /** The last poll query and what it was made from (copies of the lists). */
  private lastPollQuery: { readonly timeout: number; readonly available: readonly string[] | undefined; readonly hot: readonly string[] | undefined; readonly query: string } | undefined;

  /** Prefer {@link createTransport}, which also checks the URL scheme and the worker id. */
  constructor(
    baseUrl: string,
    readonly workerId: string,
    token: string,
    options: TransportOptions = {},
  ) {
    const url = new URL(baseUrl);
    // Every call in flight listens on the close signal (and detaches when it ends): many at once is normal.
    setMaxListeners(0, this.closer.signal);
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.options = resolveOptions(options, options.logger ?? silentLogger);
    this.signer = createSigner(workerId, options);
    const tls = options.tls ?? {};
    this.ownsDispatcher = options.dispatcher === undefined;
    // One orchestrator, one origin: a Pool for it directly, without an Agent's per-request lookup of the origin's pool.
    const newPool = (): Pool =>
      new Pool(url.origin, {
        connect: tlsConnectOptions(tls),
        keepAliveTimeout: this.options.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.options.keepAliveTimeoutMs, 600_000),
      });
    const dispatcher = options.dispatcher ?? newPool();
    this.tokens = new TokenService(token, this.options.logger, this.options.requestTimeoutMs);
    const hasClientCert = tls.cert !== undefined && tls.key !== undefined;
    this.http = new HttpClient(url, workerId, dispatcher, this.tokens, this.options, this.closer.signal, hasClientCert);
    this.tokens.bind(this.http);
    if (this.ownsDispatcher) this.http.onStall = () => this.recycle(newPool);
    const id = encodeURIComponent(workerId);
    this.paths = {
      nextTask: Endpoint.NEXT_TASK.replace("{worker_id}", id),
      heartbeat: Endpoint.HEARTBEAT.replace("{worker_id}", id),
    };
    // The reference derives the socket URL by replacing the first "http" of the base URL.
    const wsUrl = this.baseUrl.replace(/^http/, "ws") + Endpoint.WEBSOCKET.replace("{worker_id}", id);
    this.channel = new CommandChannel(wsUrl, wsTlsOptions(tls), this.options, this.closer.signal, {
      headers: () => this.commonHeaders(),
      refreshToken: () => this.tokens.refresh(),
    });
  }

  /** The current `X-Worker-Token` (the STS access token once one was obtained). */
  get token(): string {
    return this.tokens.token;
  }

  /** True once {@link close} was called. */
  get isClosed(): boolean {
    return this.closer.signal.aborted;
  }

  /** True while the command channel's WebSocket is open. */
  get commandChannelOpen(): boolean {
    return this.channel.isOpen;
  }

  async connect(): Promise<void> {
    if (this.isClosed) throw closedError();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closer.abort(closedError());
      await this.channel.stop();
      if (this.ownsDispatcher) {
        await Promise.all([this.http.dispatcher, ...this.retiring].map((d) => d.destroy().catch(() => undefined)));
        this.retiring.clear();
      }
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A request got no answer in time: its connection is likely dead without a FIN/RST, and so are
   * the idle connections opened before it (one NAT mapping or firewall state for all of them).
   * New requests go through a fresh pool; the old one closes once its requests in flight end
   * (each bounded by its own timeout), so no later request picks one of its dead idle sockets.
   */
  private recycle(newPool: () => Pool): void {
    const now = performance.now();
    if (this.isClosed || now - this.lastRecycle < 1_000) return;
    this.lastRecycle = now;
    const old = this.http.dispatcher;
    this.http.dispatcher = newPool();
    this.retiring.add(old);
    this.options.logger.info({ origin: new URL(this.baseUrl).origin }, "A request got no answer in time; opening new connections to the orchestrator");
    old.close().then(
      () => this.retiring.delete(old),
      () => this.retiring.delete(old),
    );
  }

  async register(registration: WorkerRegistration, options: CallOptions = {}): Promise<RegisterResponse | null> {
    const value = await this.stamped("register", registration, (body) =>
      this.http.call({ method: "POST", endpoint: Endpoint.REGISTER, body, signal: options.signal, timeoutMs: this.options.requestTimeoutMs }),
    );
    if (value === null) return null;
    if (isObject(value) && typeof value.access_token === "string" && value.access_token !== "") {
      this.tokens.adopt(value.access_token, typeof value.refresh_token === "string" ? value.refresh_token : undefined);
      this.options.logger.info({}, "Adopted the access token returned by the registration");
    }
    return decodeResponse("RegisterResponse", value, Endpoint.REGISTER);
  }

  async pollTask(options: PollOptions = {}): Promise<TaskPayload | null> {
    const timeout = options.timeoutSeconds ?? 30;
    if (!Number.isFinite(timeout) || timeout < 0) {
      throw new ValidationError(`Invalid poll timeout: ${timeout}`, [{ path: "/timeoutSeconds", message: "must be a finite number >= 0" }]);
    }
    const query = this.pollQuery(timeout, options.availableSkills, options.hotSkills);
    // The Python orchestrator holds a poll for 30 s whatever `timeout` says: wait longer than that.
    const timeoutMs = Math.max(timeout, this.options.serverPollHoldSeconds) * 1000 + this.options.pollGraceMs;
    const value = await this.http.call({ method: "GET", endpoint: this.paths.nextTask, query, signal: options.signal, timeoutMs });
    if (value === null || isEmpty(value)) return null;
    try {
      if (options.keepReceived !== true) return decode("TaskPayload", value, { copy: false });
      // Decoded on a copy: `value` stays exactly what was received.
      const task = decode("TaskPayload", value);
      rememberReceived(task, value as Record<string, unknown>);
      return task;
    } catch (error) {
      throw malformed("task", this.paths.nextTask, error);
    }
  }

  async sendResult(result: TaskResult, options: ResultOptions = {}): Promise<ResultDelivery> {
    const { signal, next } = options;
    const query = next === undefined ? undefined : `${this.pollQuery(next.timeoutSeconds ?? 30, next.availableSkills, next.hotSkills)}&next=1`;
    const attempts = this.options.resultRetries;
    let delay = this.options.resultRetryDelayMs;
    for (let attempt = 1; ; attempt++) {
      let value: JsonValue | null;
      try {
        // Stamped afresh on every attempt, so a late retry stays inside the replay window.
        value = await this.stamped("result", result, (body) =>
          this.http.call({ method: "POST", endpoint: Endpoint.RESULT, body, signal, timeoutMs: this.options.requestTimeoutMs, ...(query !== undefined ? { query } : {}) }),
        );
      } catch (error) {
        // Only "no answer at all" is retried: an answered result must never be sent twice.
        if (!(error instanceof NetworkError) || !error.retryable || attempt >= attempts) throw error;
        const wait = Math.min(delay, this.options.resultRetryMaxDelayMs);
        this.options.logger.warn({ task_id: result.task_id, attempt, delay_ms: wait, err: error }, "Result not delivered; retrying");
        const linked = linkSignals(signal, this.closer.signal);
        await sleep(wait, linked.signal);
        linked.dispose();
        if (signal?.aborted) throw signal.reason;
        if (this.isClosed) throw closedError();
        delay *= 2;
        continue;
      }
      return this.delivery(result, value, next?.keepReceived === true);
    }
  }

  async sendHeartbeat(heartbeat: Heartbeat | null, options: CallOptions = {}): Promise<HeartbeatResponse | null> {
    const patch = (body: string | undefined): Promise<JsonValue | null> =>
      this.http.call({ method: "PATCH", endpoint: this.paths.heartbeat, ...(body === undefined ? {} : { body }), signal: options.signal, timeoutMs: this.options.requestTimeoutMs });
    const value = heartbeat === null ? await patch(undefined) : await this.stamped("heartbeat", heartbeat, patch);
    if (value === null) return null;
    return decodeResponse("HeartbeatResponse", value, this.paths.heartbeat);
  }

  async emitEvent(event: WorkerEventPayload, options: CallOptions = {}): Promise<boolean> {
    const { body } = prepareOutgoing("event", event, this.http.hubClock.now(), this.signer);
    if (this.channel.isOpen && (await this.channel.send(body))) return true;
    try {
      const value = await this.stamped("event", event, (text) =>
        this.http.call({ method: "POST", endpoint: Endpoint.EVENTS, body: text, signal: options.signal, timeoutMs: this.options.requestTimeoutMs }),
      body);
      if (isObject(value) && value.status === "error") {
        // The Python orchestrator refuses invalid events with HTTP 200 and this body.
        this.options.logger.warn({ event_id: event.event_id, code: value.code, message: value.message }, "Event refused by the orchestrator");
        return false;
      }
      return true;
    } catch (error) {
      if (!(error instanceof RxonError) || (error instanceof NetworkError && error.details.reason === "closed")) throw error;
      this.options.logger.warn({ event_id: event.event_id, err: error }, "Event not delivered");
      return false;
    }
  }

  commands(options: CallOptions = {}): AsyncIterable<WorkerCommand> {
    return { [Symbol.asyncIterator]: () => this.channel.iterate(options.signal) };
  }

  async refreshToken(options: CallOptions = {}): Promise<TokenResponse | null> {
    if (this.isClosed) throw closedError();
    return this.tokens.obtain(options.signal);
  }

  /**
   * `POST <base URL>/skills/call` with `{"skill_name", "params"}` (stamped with `timestamp` and
   * signed like every other message when signing is on) and the usual headers; resolves with the
   * orchestrator's outcome. HTTP errors reject as usual (AuthError, RateLimitError, ProtocolError,
   * NetworkError); an answer without a string `status` is a ProtocolError.
   */
  async callSkill(name: string, params: Record<string, unknown>, options: SkillCallOptions = {}): Promise<SkillCallOutcome> {
    if (typeof name !== "string" || !/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new ValidationError(`Invalid skill name: '${String(name).slice(0, 64)}'`, [{ path: "/skill_name", message: "not an identifier" }]);
    }
    if (params === null || typeof params !== "object" || Array.isArray(params)) {
      throw new ValidationError("Skill call params must be an object", [{ path: "/params", message: "not an object" }]);
    }
    let message: Record<string, unknown> = { skill_name: name, params };
    if (typeof options.taskId === "string") message.task_id = options.taskId;
    if (this.signer !== undefined) {
      message.timestamp = Math.floor(this.http.hubClock.now() / 1000);
      message = this.signer(message, []);
    }
    const timeoutMs = typeof options.timeoutMs === "number" && options.timeoutMs > 0 ? options.timeoutMs : this.options.skillCallTimeoutMs;
    const value = await this.http.call({ method: "POST", endpoint: SKILL_CALL_PATH, body: canonicalize(message), signal: options.signal, timeoutMs });
    if (!isObject(value) || typeof value.status !== "string") {
      throw new ProtocolError(`Malformed answer from ${SKILL_CALL_PATH}: no status`, { details: { endpoint: SKILL_CALL_PATH } });
    }
    const outcome: { status: string; data?: Record<string, unknown>; error?: Record<string, unknown> } = { status: value.status };
    if (isObject(value.data ?? null)) outcome.data = value.data as Record<string, unknown>;
    if (isObject(value.error ?? null)) outcome.error = value.error as Record<string, unknown>;
    return outcome;
  }

  /**
   * The orchestrator's time minus this machine's clock in milliseconds, learned from the `Date`
   * header of its answers (0 until one differed by more than about 2 s).
   */
  get clockOffsetMs(): number {
    return this.http.hubClock.offsetMs;
  }

  /**
   * Stamps `value` with the orchestrator's time, signs it and hands the body to `send`. A refusal
   * (AuthError) whose answer moved the clock offset (its `Date` header disagreed with the time the
   * message was stamped with) is followed by one more attempt, stamped again: the message was most
   * likely refused for its timestamp because this machine's clock is off or just jumped.
   * `body`: the first attempt's body when the caller already prepared it.
   */
  private async stamped<K extends OutgoingKind, T>(kind: K, value: OutgoingModels[K], send: (body: string) => Promise<T>, body?: string): Promise<T> {
    const clock = this.http.hubClock;
    const offset = clock.offsetMs;
    try {
      return await send(body ?? prepareOutgoing(kind, value, clock.now(), this.signer).body);
    } catch (error) {
      if (!(error instanceof AuthError) || clock.offsetMs === offset) throw error;
      this.options.logger.info({ kind, clock_offset_ms: clock.offsetMs, previous_offset_ms: offset }, "Message refused with a new reading of the orchestrator's clock; sending it again stamped with that");
      return send(prepareOutgoing(kind, value, clock.now(), this.signer).body);
    }
  }

  /**
   * The poll's query string. A worker polls with the same timeout and skill lists (the same
   * arrays) every time, so the last one is kept; arrays are compared by identity and content.
   */
  private pollQuery(timeout: number, available: readonly string[] | undefined, hot: readonly string[] | undefined): string {
    const last = this.lastPollQuery;
    if (last !== undefined && last.timeout === timeout && sameList(last.available, available) && sameList(last.hot, hot)) return last.query;
    let query = `?timeout=${pythonFloat(timeout)}`;
    if (available !== undefined) query += `&available_skills=${skillList(available)}`;
    if (hot !== undefined) query += `&hot_skills=${skillList(hot)}`;
    this.lastPollQuery = { timeout, available: available && [...available], hot: hot && [...hot], query };
    return query;
  }

  /** What the answer to a result says; a `next_task` it carries is decoded (and kept as received when asked). */
  private delivery(result: TaskResult, value: JsonValue | null, keepReceived: boolean): ResultDelivery {
    if (value === null) return { delivered: true, response: null };
    if (isObject(value) && value.status === "ignored") {
      const reason = typeof value.reason === "string" ? value.reason : "unknown";
      const message = typeof value.message === "string" ? value.message : "";
      const level = EXPECTED_IGNORES.has(reason) ? "info" : "warn";
      this.options.logger[level]({ taskId: result.task_id, jobId: result.job_id, reason, message }, "Result ignored by the orchestrator");
      return { delivered: false, reason, message, response: { status: "ignored", reason, message } as ResultResponse };
    }
    const raw = isObject(value) ? value.next_task : undefined;
    let response: ResultResponse;
    try {
      // Decoded on a copy when the next task must stay exactly as received.
      response = decode("ResultResponse", value, { copy: keepReceived && raw !== undefined });
    } catch (error) {
      // Any 2xx means the orchestrator took the result; an unusual body does not undo that.
      if (raw !== undefined) this.options.logger.warn({ task_id: result.task_id, err: malformed("task", Endpoint.RESULT, error) }, "Result accepted; the next task with it is malformed and dropped");
      else this.options.logger.debug({ task_id: result.task_id }, "Result accepted with an unrecognised answer body");
      return { delivered: true, response: null };
    }
    if (keepReceived && response.next_task !== undefined) rememberReceived(response.next_task, raw as Record<string, unknown>);
    return { delivered: true, response };
  }

  private commonHeaders(): Record<string, string> {
    const headers: Record<string, string> = { "X-Worker-ID": this.workerId, "X-RXON-Version": this.options.protocolVersion };
    if (this.tokens.token !== "") headers["X-Worker-Token"] = this.tokens.token;
    return headers;
  }
}

function decodeResponse<M extends ModelName>(model: M, value: JsonValue, endpoint: string): ReturnType<typeof decode<M>> {
  try {
    return decode(model, value, { copy: false });
  } catch (error) {
    throw malformed("answer", endpoint, error);
  }
}

function malformed(what: string, endpoint: string, error: unknown): ProtocolError {
  const errors = error instanceof ValidationError ? error.errors : [];
  const why = error instanceof Error ? error.message : String(error);
  return new ProtocolError(`Malformed ${what} from ${endpoint}: ${why}`, { cause: error, details: { endpoint, errors } });
}

function isObject(value: JsonValue | null): value is Record<string, JsonValue> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The Python listener answers an empty handler value with 204; the same values mean "no task" here. */
function isEmpty(value: JsonValue): boolean {
  if (value === "" || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isObject(value) && Object.keys(value).length === 0;
}

/** Same entries in the same order (both absent counts as the same). */
function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Python's `str(float(x))` for the `timeout` query value (`30` → `30.0`). */
function pythonFloat(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** Comma-joined skill names; each escaped (identifiers are unchanged by it). */
function skillList(skills: readonly string[]): string {
  return skills.map((s) => encodeURIComponent(s)).join(",");
}

function tlsConnectOptions(tls: TransportTlsOptions): ConnectionOptions {
  const out: ConnectionOptions = {};
  if (tls.ca !== undefined) out.ca = typeof tls.ca === "string" || Buffer.isBuffer(tls.ca) ? tls.ca : [...tls.ca];
  if (tls.cert !== undefined) out.cert = tls.cert;
  if (tls.key !== undefined) out.key = tls.key;
  if (tls.servername !== undefined) out.servername = tls.servername;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  return out;
}

function wsTlsOptions(tls: TransportTlsOptions): ClientOptions {
  return tlsConnectOptions(tls) as ClientOptions;
}
