/**
 * The hub's client API: submit, look at and cancel tasks over HTTP, under `/_client`, apart from
 * the worker protocol (`/_worker`). Clients authenticate with `X-Client-Token`, compared in
 * constant time against the configured client tokens; with none configured the API is off and
 * its paths are unknown (404), so it is never open by default.
 *
 * | route | answer |
 * |---|---|
 * | `POST /_client/tasks` | 202 `{job_id, task_id, status}` |
 * | `POST /_client/tasks?wait=s` | 200 with the view once the task ended within `s`, else 202 with the view |
 * | `GET /_client/tasks/{job_id}[?wait=s]` | 200 `{job_id, task_id, status, progress?, outcome?}` |
 * | `DELETE /_client/tasks/{job_id}` | 202 `{job_id, task_id, status}` |
 *
 * Errors are `{error, code}` (plus `errors: [{path, message}]` for 400): 401 without a token,
 * 403 with a wrong one, 404 unknown job or route, 405, 413, 415, 429 past the queue limits or
 * when the token already holds `maxWaitsPerClient` waits, 503 while the hub closes.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, Header, IgnoredReason, Limit } from "../../generated/constants.js";
import { isValidIdentifier } from "../contracts/identifiers.js";
import { AuthError, RxonError, ValidationError } from "../errors.js";
import { abandonBody, declaredLength, hasBody, isJsonContentType, readBody, unsupportedMediaType, BodyRefusal } from "../listener/body.js";
import { errorAnswer, jsonText, sendError, sendJson } from "../listener/respond.js";
import { pathOf } from "../listener/routes.js";
import { trustConnection } from "../listener/strangers.js";
import { silentLogger, type Logger } from "../logger.js";
import { parseJson } from "../wire/json.js";
import { submitOptionsOf } from "./client-request.js";
import { isTerminal, type CancelVerdict, type JobRecord } from "./store.js";
import type { ClientApiOptions, ClientToken, SubmitOptions, TaskHandle } from "./types.js";
import { RecentMap } from "../recent.js";
import { LogBudget } from "../log-budget.js";
import { HeldShares } from "./held-shares.js";

/** Jobs {@link ClientApi} remembers having queued, at least (for a wait that follows the submission). */
const MINE_LIMIT = 65_536;
/** How long `close()` lets open waits answer (one store read each) before the connections close. */
const CLOSE_GRACE_MS = 2000;
/** Default of {@link ClientApiOptions.maxWaitsPerClient}. */
export const DEFAULT_MAX_WAITS_PER_CLIENT = 1024;

/** Path prefix of the client API. */
export const CLIENT_PREFIX = "/_client";

/** What the client API needs of a hub (a {@link Hub} has it all). */
export interface ClientApiHub {
  submit(options: SubmitOptions): Promise<TaskHandle>;
  /** Cancels; with `owner`, only that owner's job. */
  cancel(jobId: string, owner?: string): Promise<CancelVerdict>;
  readonly store: { getJob(jobId: string): JobRecord | undefined | Promise<JobRecord | undefined> };
  /**
   * Calls `wake` when the job ends (on any hub), with its ended record when at hand; also for a
   * job that ended just before. Returns the function that stops watching.
   */
  watch(jobId: string, wake: (job?: JobRecord) => void): () => void;
  /** A mark of the job ends `watch` has seen so far. */
  endMark(): number;
  /** Whether `watch` still wakes at once for any job that ended since `mark`. */
  seesEndsSince(mark: number): boolean;
}

/** Who is calling: the owner id of the credential and whether it sees every job. */
interface Caller {
  readonly owner: string;
  readonly admin: boolean;
}

/** Owner id of a client token: a short hash (the secret itself is never stored with jobs). */
export function ownerOf(token: string): string {
  return `client-${createHash("sha256").update(token, "utf8").digest("hex").slice(0, 16)}`;
}

const TRACEPARENT_HEADER = "traceparent";
const TRACESTATE_HEADER = "tracestate";
const IDEMPOTENCY_HEADER = "idempotency-key";

export type { ClientApiOptions };

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** A client-API error answer that is not one of the shared error classes. */
function failure(status: number, message: string, code: string): RxonError {
  return new RxonError(message, { status, code });
}

/** The client API of one hub. Mounted by `hub.listen()`; use {@link ClientApi.handle} in your own server. */
export class ClientApi {
  readonly #hub: ClientApiHub;
  readonly #digests: readonly { digest: Buffer; caller: Caller }[];
  /** The token last accepted on each connection, and its caller. */
  readonly #acceptedOn = new WeakMap<object, { readonly token: string; readonly caller: Caller }>();
  readonly #maxBodyBytes: number;
  readonly #maxWaitMs: number;
  readonly #bodyTimeoutMs: number;
  readonly #logger: Logger;
  /**
   * Jobs this API queued and answered before they ended, with their owner and the hub's end mark
   * then: a wait on one skips the first read while an end since would still wake it at once.
   */
  readonly #mine = new RecentMap<string, { readonly owner: string; readonly mark: number }>(2 * MINE_LIMIT);
  /** Every open wait, so that `close()` can end them. */
  readonly #open = new Set<() => void>();
  /** Waits held (or about to be) per owner. */
  readonly #waits: HeldShares;
  /** Resolves `close()`'s wait once the last open wait has answered. */
  #drained: (() => void) | undefined;
  #closed = false;
  /** Refused tokens are logged at most 10 per 10 s: strangers cannot flood the log (refused waits: see HeldShares). */
  readonly #refusalLines = new LogBudget();

  constructor(hub: ClientApiHub, options: ClientApiOptions = {}) {
    const tokens: ClientToken[] = (options.tokens ?? []).map((t) => (typeof t === "string" ? { token: t } : t));
    for (const t of tokens) {
      if (typeof t?.token !== "string" || t.token === "") throw new ValidationError("Client tokens must be non-empty strings", [{ path: "/clientTokens", message: "empty token" }]);
      if (t.scope !== undefined && t.scope !== "client" && t.scope !== "admin") throw new ValidationError("Client token scope must be 'client' or 'admin'", [{ path: "/clientTokens", message: "unknown scope" }]);
    }
    this.#hub = hub;
    this.#digests = tokens.map((t) => ({ digest: digest(t.token), caller: { owner: ownerOf(t.token), admin: t.scope === "admin" } }));
    this.#maxBodyBytes = options.maxBodyBytes ?? Limit.MAX_BODY_BYTES;
    this.#maxWaitMs = (options.maxWaitSeconds ?? 60) * 1000;
    this.#bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000;
    this.#logger = options.logger ?? silentLogger;
    // One client token cannot hold every connection the hub allows.
    this.#waits = new HeldShares(options.maxWaitsPerClient ?? DEFAULT_MAX_WAITS_PER_CLIENT, "clientApi.maxWaitsPerClient", {
      reason: "too_many_waits",
      holderField: "owner",
      logMessage: "hub client api: refused a wait, the client token holds its share",
      errorMessage: (max) => `Too many waits: this client token holds ${max}, the most allowed; try again later`,
      logger: this.#logger,
    });
  }

  /** True when client tokens are configured. */
  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** Requests currently held by `?wait=` (they end with the task, their timeout, the client, or `close()`). */
  get waiting(): number {
    return this.#open.size;
  }

  /** Whether the request is under `/_client` (whether {@link handle} would answer it when enabled). */
  matches(req: IncomingMessage): boolean {
    const { path } = pathOf(req.url);
    return path === CLIENT_PREFIX || path.startsWith(CLIENT_PREFIX + "/");
  }

  /**
   * Answers a client-API request and resolves true; resolves false, touching nothing, for other
   * paths and for every path while the API is disabled (so the server's 404 applies). Never rejects.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (!this.enabled || !this.matches(req)) return false;
    try {
      await this.#serve(req, res);
    } catch (error) {
      const answer = errorAnswer(error);
      if (answer.internal) this.#logger.error({ err: error }, "hub client api: request failed");
      if (error instanceof BodyRefusal || !req.complete) this.#closeAfter(req, res);
      if (!res.headersSent && !res.destroyed) sendError(res, answer);
    }
    return true;
  }

  /**
   * Refuses new requests with 503 and ends open waits: each answers its job's current state (202
   * and the view, so a client that submitted and waited learns its job id). Resolves once they
   * have answered, or after `graceMs` (their answers read the store), so that the server closes
   * its connections only then.
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.#closed = true;
    if (this.#open.size === 0) return;
    const answered = new Promise<void>((resolve) => (this.#drained = resolve));
    for (const wake of [...this.#open]) wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([answered, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const caller = this.authenticate(req);
    if (this.#closed) throw failure(503, "Hub is shutting down", ErrorCode.TRANSIENT_ERROR);
    const { path, query } = pathOf(req.url);
    const method = req.method ?? "GET";
    const rest = path.slice(CLIENT_PREFIX.length);
    if (rest === "/tasks") {
      if (method !== "POST") return this.#notAllowed(req, res, "POST");
      return this.#submit(req, res, caller, query);
    }
    if (rest.startsWith("/tasks/")) {
      const jobId = rest.slice("/tasks/".length);
      if (method !== "GET" && method !== "DELETE") return this.#notAllowed(req, res, "GET, DELETE");
      if (hasBody(req)) await readBody(req, this.#maxBodyBytes, this.#bodyTimeoutMs);
      const valid = isValidIdentifier(jobId, 128);
      // A bad `wait` is refused after the job is found: an unknown job is 404 whatever the query.
      let waitMs = 0;
      let badWait: unknown;
      try {
        if (method === "GET") waitMs = this.#waitOf(query);
      } catch (err) {
        badWait = err;
      }
      // The watch starts before the read, so an end in between wakes it.
      const share = valid && waitMs > 0 ? this.#waits.take(caller.owner) : undefined;
      const ending = share !== undefined ? this.#watch(jobId, waitMs, res) : undefined;
      try {
        // A job this API queued for this caller and not seen ending needs no read before the wait:
        // the end wakes the watch (with the record when this hub ended it), a timeout reads. Once
        // more jobs ended since it was queued than the hub keeps as ended lately, its end may
        // have been forgotten: then it is read like any other.
        const mine = ending !== undefined && badWait === undefined ? this.#mine.get(jobId) : undefined;
        if (ending !== undefined && mine !== undefined && mine.owner === caller.owner && this.#hub.seesEndsSince(mine.mark)) {
          const now = await this.#afterWait(jobId, ending);
          if (now === undefined) throw failure(404, "Job not found", IgnoredReason.JOB_NOT_FOUND);
          if (isTerminal(now.state)) this.#mine.delete(jobId);
          if (!res.destroyed) sendJson(res, 200, jsonText(view(now)));
          return;
        }
        const job = valid ? await this.#hub.store.getJob(jobId) : undefined;
        // Another owner's job is as unknown as a job that does not exist.
        if (job === undefined || (!caller.admin && job.owner !== caller.owner)) throw failure(404, "Job not found", IgnoredReason.JOB_NOT_FOUND);
        if (badWait !== undefined) throw badWait;
        if (method === "DELETE") return await this.#cancel(job, res, caller);
        const now = ending === undefined || isTerminal(job.state) ? job : await this.#afterWait(jobId, ending);
        if (!res.destroyed) sendJson(res, 200, jsonText(view(now ?? job)));
      } finally {
        ending?.stop();
        share?.();
      }
      return;
    }
    throw failure(404, "Not found", ErrorCode.INVALID_INPUT_ERROR);
  }

  /**
   * The caller of a request: 401 without a token, 403 with a wrong one; every configured token is
   * compared (constant time). Also used by the dashboard.
   */
  authenticate(req: IncomingMessage): { readonly owner: string; readonly admin: boolean } {
    const presented = req.headers[Header.CLIENT_TOKEN.toLowerCase()];
    if (typeof presented !== "string" || presented === "") {
      throw new AuthError("Missing X-Client-Token", { status: 401, details: { reason: "missing_token" } });
    }
    // A keep-alive connection presenting the token it was accepted with before needs no digest:
    // both strings are this client's own, so comparing them tells it nothing.
    const earlier = this.#acceptedOn.get(req.socket);
    if (earlier !== undefined && earlier.token === presented) return earlier.caller;
    const d = digest(presented);
    let found: Caller | undefined;
    for (const known of this.#digests) if (timingSafeEqual(d, known.digest)) found ??= known.caller;
    if (found === undefined) {
      const skipped = this.#refusalLines.take("bad_client_token");
      if (skipped !== undefined) this.#logger.warn({ reason: "bad_client_token", ...(skipped > 0 ? { not_logged: skipped } : {}) }, "hub client api: refused a request with an unknown client token");
      throw new AuthError("Invalid client token", { details: { reason: "bad_token" } });
    }
    this.#acceptedOn.set(req.socket, { token: presented, caller: found });
    trustConnection(req.socket);
    return found;
  }

  #notAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void {
    this.#closeAfter(req, res);
    sendJson(res, 405, JSON.stringify({ error: "Method not allowed", code: ErrorCode.INVALID_INPUT_ERROR }), { Allow: allow });
  }

  async #submit(req: IncomingMessage, res: ServerResponse, caller: Caller, query: string): Promise<void> {
    const waitMs = this.#waitOf(query);
    // A wait past the token's share is refused before the body is read or anything is queued.
    const share = waitMs > 0 ? this.#waits.take(caller.owner) : undefined;
    try {
      await this.#submitHolding(req, res, caller, waitMs);
    } finally {
      share?.();
    }
  }

  async #submitHolding(req: IncomingMessage, res: ServerResponse, caller: Caller, waitMs: number): Promise<void> {
    const length = declaredLength(req, this.#maxBodyBytes);
    if (length === 0) throw new ValidationError("Request body is empty", [{ path: "", message: "body is empty" }]);
    if (!isJsonContentType(req, true)) throw unsupportedMediaType();
    const body = await readBody(req, this.#maxBodyBytes, this.#bodyTimeoutMs);
    const options: SubmitOptions = { ...submitOptionsOf(parseJson(body, { maxBytes: this.#maxBodyBytes })), owner: caller.owner };
    const key = headerOf(req, IDEMPOTENCY_HEADER);
    if (key !== undefined) options.idempotencyKey = key;
    const traceparent = headerOf(req, TRACEPARENT_HEADER);
    if (traceparent !== undefined) options.traceparent = traceparent;
    const tracestate = headerOf(req, TRACESTATE_HEADER);
    if (tracestate !== undefined) options.tracestate = tracestate;
    if (this.#closed) throw failure(503, "Hub is shutting down", ErrorCode.TRANSIENT_ERROR);
    const handle: TaskHandle = await this.#hub.submit(options);
    this.#logger.info({ job_id: handle.jobId, type: options.type }, "hub client api: task submitted");
    if (waitMs === 0) {
      if (!isTerminal(handle.status)) this.#remember(handle.jobId, caller.owner);
      sendJson(res, 202, jsonText({ job_id: handle.jobId, task_id: handle.taskId, status: handle.status }));
      return;
    }
    // Submit and wait in one exchange: the job's view, 200 once it ended, 202 while it has not.
    // Watching starts right after the submission; an end before that is among the recent ends.
    const ending = this.#watch(handle.jobId, waitMs, res);
    try {
      const job = isTerminal(handle.status) ? await this.#hub.store.getJob(handle.jobId) : await this.#afterWait(handle.jobId, ending);
      if (res.destroyed) return;
      if (job === undefined || !isTerminal(job.state)) this.#remember(handle.jobId, caller.owner);
      if (job === undefined) sendJson(res, 202, jsonText({ job_id: handle.jobId, task_id: handle.taskId, status: handle.status }));
      else sendJson(res, isTerminal(job.state) ? 200 : 202, jsonText(view(job)));
    } finally {
      ending.stop();
    }
  }

  async #cancel(job: JobRecord, res: ServerResponse, caller: Caller): Promise<void> {
    await this.#hub.cancel(job.jobId, caller.admin ? undefined : caller.owner);
    const now = (await this.#hub.store.getJob(job.jobId)) ?? job;
    sendJson(res, 202, jsonText({ job_id: now.jobId, task_id: now.taskId, status: now.state }));
  }

  #waitOf(query: string): number {
    if (query === "") return 0;
    // Clients send the same query again and again: the seconds of one seen lately are kept.
    let seconds = recentWaits.get(query);
    if (seconds === undefined) {
      // Decimal seconds, given once: `wait=0x10`, `wait=%20` or `wait=1&wait=60` (which a proxy may
      // read as 60) are refused rather than read as something the client may not have meant.
      const given = new URLSearchParams(query).getAll("wait");
      seconds = given.length === 0 ? 0 : given.length === 1 && WAIT_SECONDS.test(given[0]!) ? Number(given[0]) : NaN;
      if (query.length <= 64) recentWaits.set(query, seconds);
    }
    if (!Number.isFinite(seconds) || seconds < 0) throw new ValidationError("wait must be given once, as a decimal number of seconds >= 0", [{ path: "/wait", message: "must be a decimal number >= 0, given once" }]);
    return Math.min(seconds * 1000, this.#maxWaitMs);
  }

  /**
   * Starts waiting for `jobId` to end: `ended` resolves with the ended record when the hub has it,
   * with undefined when the job ended elsewhere, `ms` passed, the client left or the API closed.
   * Call `stop()` once done with it.
   */
  #watch(jobId: string, ms: number, res: ServerResponse): Ending {
    let wake!: (job?: JobRecord) => void;
    const ended = new Promise<JobRecord | undefined>((resolve) => (wake = resolve));
    const unwatch = this.#hub.watch(jobId, wake);
    const stop = (): void => wake();
    this.#open.add(stop);
    const timer = setTimeout(stop, ms);
    timer.unref();
    res.once("close", stop);
    return {
      ended,
      stop: () => {
        clearTimeout(timer);
        res.off("close", stop);
        this.#open.delete(stop);
        unwatch();
        if (this.#open.size === 0) this.#drained?.();
      },
    };
  }

  /** Notes that this API queued `jobId` for `owner` (at least the last {@link MINE_LIMIT} notes are kept). */
  #remember(jobId: string, owner: string): void {
    this.#mine.set(jobId, { owner, mark: this.#hub.endMark() });
  }

  /** The job once `ending` resolved: the ended record it carries, or the store's current one. */
  async #afterWait(jobId: string, ending: Ending): Promise<JobRecord | undefined> {
    const job = this.#closed ? undefined : await ending.ended;
    return job ?? (await this.#hub.store.getJob(jobId));
  }

  /** Answers without reading the rest of a body that will not be used, then closes the connection. */
  #closeAfter(req: IncomingMessage, res: ServerResponse): void {
    if (req.complete || !hasBody(req)) return;
    abandonBody(req);
    if (!res.headersSent) res.setHeader("Connection", "close");
    res.once("finish", () => setTimeout(() => req.socket.destroy(), 500).unref());
    res.once("close", () => {
      if (!res.writableFinished) req.socket.destroy();
    });
  }
}

/** A `wait` value: decimal seconds, with an optional fraction. */
const WAIT_SECONDS = /^[0-9]+(\.[0-9]+)?$/;

/** `wait` seconds of query strings seen lately (NaN for an unparseable one, 0 without `wait`). */
const recentWaits = new RecentMap<string, number>(64);

/** A wait for one job's end (see `ClientApi#watch`). */
interface Ending {
  readonly ended: Promise<JobRecord | undefined>;
  stop(): void;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new ValidationError(`Header ${name} must be given once`, [{ path: `/headers/${name}`, message: "repeated" }]);
  return v;
}

/** The client's view of a job: state, progress, and the outcome once it ended (snake_case, as on the wire). */
function view(job: JobRecord): Record<string, unknown> {
  return {
    job_id: job.jobId,
    task_id: job.taskId,
    status: job.state,
    progress: job.progress,
    outcome: isTerminal(job.state)
      ? {
          status: job.status,
          data: job.data,
          error: job.error,
          worker_id: job.resultWorkerId,
          job_id: job.jobId,
          task_id: job.taskId,
          attempts: job.attempts,
          duration_ms: job.finishedAt !== undefined ? job.finishedAt - job.submittedAt : undefined,
        }
      : undefined,
  };
}
