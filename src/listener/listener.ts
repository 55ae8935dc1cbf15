/**
 * The orchestrator side of the wire: turns each worker request into one call of the
 * application's handler and its answer or error back into the response workers expect
 * (PROTOCOL.md 2, 3 and 7.2), with limits enforced before any work.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { ErrorCode, Header } from "../../generated/constants.js";
import type { TaskResult } from "../../generated/types.js";
import { AuthError, isRxonError, NetworkError, RateLimitError, UnavailableError, ValidationError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { decode } from "../wire/codec.js";
import { parseJson, type JsonObject } from "../wire/json.js";
import { abandonBody, BodyRefusal, declaredLength, emptyBody, hasBody, isJsonContentType, readBody, unsupportedMediaType } from "./body.js";
import { FrameQueue, WsCommandChannel } from "./channel.js";
import { asksNextTask, buildContext, parsePollQuery, type PollFields } from "./context.js";
import { capConnections } from "./connections.js";
import { guardStrangers, trustConnection } from "./strangers.js";
import { DEFAULT_PROTOCOL_VERSION, resolveLimits, type PreAuthenticate, type ResolvedLimits, type RxonListenerOptions } from "./options.js";
import { WorkerRateLimiter } from "./rate-limit.js";
import { errorAnswer, jsonText, rawResponse, sendEmpty, sendError, sendJson, sendText } from "./respond.js";
import { matchRoute, matchWebSocket, pathOf, type HttpAction } from "./routes.js";
import type { ListenerContext, RxonHandler } from "./types.js";
import { kindOf, makeVerifier, verifyMessage, type VerificationLayer } from "./verify.js";

type LooseHandler = (action: string, payload: unknown, context: ListenerContext) => unknown;

/**
 * A request or upgrade being served; held polls can be answered early by `close()`. Its abort
 * signal is made when first asked for (most handlers never look at it), already aborted when the
 * request was aborted before.
 */
class InFlight {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  /** Set for held polls: answers 204 now if the handler has not answered. */
  release?: () => void;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts the signal (the first reason stays). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** Models decoded for each action that carries a body. */
const MODEL_OF = {
  register: "WorkerRegistration",
  result: "TaskResult",
  event: "WorkerEventPayload",
  heartbeat: "Heartbeat",
  sts_refresh: "TokenRefreshRequest",
} as const;

/** Answers when the handler returns nothing (PROTOCOL.md 2.2). */
const DEFAULT_ANSWER: Partial<Record<HttpAction, string>> = {
  register: '{"status":"registered"}',
  // A heartbeat answered with anything else (null, a missing status) makes some SDKs register again.
  heartbeat: '{"status":"ok"}',
  result: '{"status":"ok"}',
  event: '{"status":"event_accepted"}',
};

/** The text answering `action` when its handler returned `value` (the protocol's default when nothing). */
function replyText(action: HttpAction, value: unknown): string {
  const fallback = DEFAULT_ANSWER[action];
  return isNothing(value) && fallback !== undefined ? fallback : jsonText(value ?? null);
}

/** Node's defaults, which `attach()` tightens when the application kept them. */
const NODE_HEADERS_TIMEOUT = 60_000;
const NODE_REQUEST_TIMEOUT = 300_000;
const NODE_CHECKING_INTERVAL = 30_000;

/** A node:http or node:https server. */
export type NodeServer = HttpServer | HttpsServer;

/**
 * Serves the RXON routes and the WebSocket command channel on a node:http(s) server.
 *
 * ```ts
 * const listener = new RxonListener({ handler, logger });
 * listener.attach(http.createServer(app)).listen(8080);
 * ```
 */
export class RxonListener {
  #handler: LooseHandler | undefined;
  readonly #undelivered: RxonListenerOptions["onUndelivered"];
  readonly #answerNextTask: boolean;
  readonly #logger: Logger;
  readonly #limits: ResolvedLimits;
  readonly #verifier: VerificationLayer | undefined;
  readonly #version: string;
  readonly #preAuthenticate: PreAuthenticate | undefined;
  readonly #rateLimiter: WorkerRateLimiter | undefined;
  /** Rate-limited WebSocket events dropped since the last log line (logged at most once a second). */
  #droppedFrames = 0;
  #droppedLoggedAt = 0;
  readonly #wss: WebSocketServer;
  readonly #inFlight = new Set<InFlight>();
  readonly #sockets = new Set<WebSocket>();
  #closing = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: RxonListenerOptions = {}) {
    this.#handler = options.handler as LooseHandler | undefined;
    this.#undelivered = options.onUndelivered;
    this.#answerNextTask = options.answerNextTask === true;
    this.#logger = options.logger ?? silentLogger;
    this.#limits = resolveLimits(options.limits);
    this.#verifier = makeVerifier(options.verify);
    this.#version = options.protocolVersion ?? DEFAULT_PROTOCOL_VERSION;
    this.#preAuthenticate = options.authenticate;
    this.#rateLimiter = options.rateLimit === false ? undefined : new WorkerRateLimiter(options.rateLimit);
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.#limits.maxWsMessageBytes,
    });
  }

  /** Sets (or replaces) the handler; requests are answered 503 until one is set. */
  setHandler(handler: RxonHandler): this {
    this.#handler = handler as LooseHandler;
    return this;
  }

  /** Number of requests (held polls included) and WebSockets currently open. */
  get activeCount(): number {
    return this.#inFlight.size + this.#sockets.size;
  }

  /**
   * Serves the RXON routes on `server`: request and upgrade listeners already registered (the
   * application's) keep receiving every request and upgrade that is not RXON's; without them,
   * unknown paths get 404. Also tightens `headersTimeout`/`requestTimeout` (and, before the server
   * listens, how often they are checked) against slow and silent clients when the application left
   * Node's defaults, caps connections in all and per remote address, and closes connections that
   * stay idle while none of their requests was authenticated (`strangerIdleTimeoutMs`; see
   * {@link ListenerLimits}).
   * Call it once the application's listeners exist.
   */
  attach<S extends NodeServer>(server: S): S {
    const appRequest = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
    const appUpgrade = server.listeners("upgrade") as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
    server.removeAllListeners("request");
    server.removeAllListeners("upgrade");
    // Installed before the caps, whose connection listener then runs first (both go first in line).
    const strangers = this.#limits.strangerIdleTimeoutMs > 0 ? guardStrangers(server, this.#limits.strangerIdleTimeoutMs) : undefined;
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      strangers?.requestStarted(req, res);
      if (this.matches(req)) {
        void this.handle(req, res);
      } else if (appRequest.length > 0) {
        for (const listener of appRequest) listener.call(server, req, res);
      } else {
        res.setHeader(Header.VERSION, this.#version);
        sendText(res, 404, "404: Not Found");
      }
    });
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      strangers?.upgraded(socket);
      if (matchWebSocket(pathOf(req.url).path) !== null) {
        void this.handleUpgrade(req, socket, head);
      } else if (appUpgrade.length > 0) {
        for (const listener of appUpgrade) listener.call(server, req, socket, head);
      } else {
        socket.on("error", noop);
        socket.end(rawResponse(404, "404: Not Found", { [Header.VERSION]: this.#version }));
      }
    });
    if (server.headersTimeout === NODE_HEADERS_TIMEOUT) server.headersTimeout = this.#limits.headersTimeoutMs;
    if (server.requestTimeout === NODE_REQUEST_TIMEOUT) server.requestTimeout = Math.max(this.#limits.requestTimeoutMs, server.headersTimeout);
    // Read by Node when the server starts listening; later changes would not apply.
    const checked = server as { connectionsCheckingInterval?: number };
    if (!server.listening && checked.connectionsCheckingInterval === NODE_CHECKING_INTERVAL) {
      checked.connectionsCheckingInterval = Math.max(1, this.#limits.connectionsCheckIntervalMs);
    }
    // At an address's cap, a newcomer takes the place of a connection that never authenticated.
    capConnections(server, { maxConnections: this.#limits.maxConnections, maxConnectionsPerAddress: this.#limits.maxConnectionsPerAddress }, strangers && ((key) => strangers.evictIdle(key)));
    return server;
  }

  /** Whether the request targets an RXON path (any method), i.e. whether `handle` would answer it. */
  matches(req: IncomingMessage): boolean {
    const { path } = pathOf(req.url);
    return matchRoute(req.method ?? "GET", path).kind !== "none" || matchWebSocket(path) !== null;
  }

  /**
   * Answers the request if it targets an RXON path and resolves true; resolves false, touching
   * nothing, otherwise (so frameworks can pass it on). Never rejects.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const { path, query } = pathOf(req.url);
    const method = req.method ?? "GET";
    if (matchWebSocket(path) !== null) {
      res.setHeader(Header.VERSION, this.#version);
      abandonBody(req);
      if (method === "GET") sendText(res, 426, "426: Upgrade Required", { Upgrade: "websocket", Connection: "Upgrade" });
      else sendText(res, 405, "405: Method Not Allowed", { Allow: "GET" });
      return true;
    }
    const match = matchRoute(method, path);
    if (match.kind === "none") return false;
    res.setHeader(Header.VERSION, this.#version);
    if (match.kind === "method_not_allowed") {
      // HEAD on the poll route lands here too: it must never run (and lose) a poll.
      this.#closeAfter(req, res);
      sendText(res, 405, "405: Method Not Allowed", { Allow: match.allow });
      return true;
    }
    try {
      await this.#serve(match.action, match.workerId, query, req, res);
    } catch (error) {
      // #serve answers its own errors; this only guards against a failure while answering.
      this.#logger.error({ err: error }, "rxon listener: failed to answer a request");
      if (!res.headersSent) sendError(res, errorAnswer(error));
      else res.destroy();
    }
    return true;
  }

  async #serve(action: HttpAction, pathId: string | null, query: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const handler = this.#handler;
    if (this.#closing || handler === undefined) {
      this.#closeAfter(req, res);
      const error = this.#closing ? "Service is shutting down" : "Service is initializing";
      sendJson(res, 503, JSON.stringify({ error, code: ErrorCode.TRANSIENT_ERROR }), { [Header.RETRY_AFTER]: "1" });
      return;
    }
    const flight = new InFlight();
    this.#inFlight.add(flight);
    res.once("close", () => {
      if (!res.writableFinished) flight.abort(new NetworkError("The client closed the connection"));
      this.#inFlight.delete(flight);
      this.#checkIdle();
    });
    try {
      let counted: string | undefined;
      if (this.#preAuthenticate !== undefined) {
        // Before the body is read: a stranger costs its headers, never a parse or a long error.
        const id = await this.#preAuthenticate(action, buildContext(req, pathId, flight, null));
        if (typeof id === "string" && id !== "") {
          trustConnection(req.socket);
          this.#throttle((counted = id));
        }
      }
      const raw = await this.#readJson(action, req);
      const payload = raw === null ? null : action in MODEL_OF ? decode(MODEL_OF[action as keyof typeof MODEL_OF], raw) : raw;
      let extra: PollFields | { verifiedWorkerId: string } | undefined;
      const kind = kindOf(action, raw !== null);
      if (kind !== null && this.#verifier !== undefined && raw !== null) {
        const claimed = req.headers["x-worker-id"];
        const claimedId = typeof claimed === "string" && claimed !== "" ? claimed : null;
        const verifiedWorkerId = await verifyMessage(this.#verifier, kind, raw, claimedId, pathId);
        if (verifiedWorkerId !== undefined) {
          trustConnection(req.socket);
          extra = { verifiedWorkerId };
          if (counted !== verifiedWorkerId) this.#throttle(verifiedWorkerId);
        }
      }
      if (action === "poll") extra = parsePollQuery(query);
      const context = buildContext(req, pathId, flight, raw, extra);
      if (action === "poll") {
        await this.#poll(handler, pathId!, context, flight, res);
        return;
      }
      if (action === "result" && this.#answerNextTask && asksNextTask(query)) {
        await this.#resultWithNext(handler, payload as TaskResult, context, query, req, flight, res);
        return;
      }
      const value = await handler(action, action === "sts_token" ? null : (payload ?? null), context);
      // The handler took it: whatever the application checks, the request passed.
      trustConnection(req.socket);
      if (res.headersSent || res.writableEnded) return; // the handler answered natively
      sendJson(res, 200, replyText(action, value));
    } catch (error) {
      this.#answerError(error, req, res, action);
    }
  }

  /** Counts a request of `workerId` against its rate limit; throws a 429 RateLimitError over it. */
  #throttle(workerId: string): void {
    const waitMs = this.#rateLimiter?.take(workerId) ?? 0;
    if (waitMs > 0) throw new RateLimitError("Too many requests from this worker", waitMs, { details: { reason: "worker_rate_limit" } });
  }

  /** Reads and parses the body the action expects; null when there is none (or it is ignored). */
  async #readJson(action: HttpAction, req: IncomingMessage): Promise<JsonObject | null> {
    const { maxBodyBytes, maxDepth, bodyTimeoutMs } = this.#limits;
    const length = declaredLength(req, maxBodyBytes);
    if (action === "poll" || action === "sts_token") {
      // No body is expected: a stray one is read under the limits and ignored.
      if (length !== 0) await readBody(req, maxBodyBytes, bodyTimeoutMs);
      return null;
    }
    const optional = action === "heartbeat";
    if (length === 0) {
      if (optional) return null;
      throw emptyBody();
    }
    if (!isJsonContentType(req, false)) throw unsupportedMediaType();
    const body = await readBody(req, maxBodyBytes, bodyTimeoutMs);
    if (body.length === 0) {
      if (optional) return null;
      throw emptyBody();
    }
    const value = parseJson(body, { maxBytes: maxBodyBytes, maxDepth });
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new ValidationError("Request body must be a JSON object", [{ path: "", message: "must be object" }]);
    }
    return value;
  }

  async #poll(handler: LooseHandler, workerId: string, context: ListenerContext, flight: InFlight, res: ServerResponse): Promise<void> {
    let released = false;
    const release = new Promise<void>((resolve) => {
      flight.release = () => {
        released = true;
        resolve();
      };
    });
    const call = Promise.resolve().then(() => handler("poll", workerId, context));
    const value = await Promise.race([call, release]);
    if (!released) trustConnection(context.rawRequest.socket);
    if (released) {
      sendEmpty(res, 204);
      call.then(
        (late) => {
          if (isNothing(late)) return;
          this.#logger.warn({ worker_id: workerId }, "rxon listener: a task returned after its poll was released at shutdown was not delivered");
          this.#undelivered?.(workerId, late, "released");
        },
        noop,
      );
      return;
    }
    if (isNothing(value)) {
      if (res.headersSent || res.writableEnded || res.destroyed) return;
      sendEmpty(res, 204);
      return;
    }
    const text = this.#taskText(workerId, value, res);
    if (text === undefined) return;
    if (text instanceof Error) throw text;
    this.#handOver(workerId, value, res, text);
  }

  /**
   * Answers a result that asks for its worker's next task (see RxonListenerOptions.answerNextTask).
   * The handler's poll, asked not to hold, runs beside the result, not after it: a store across the
   * network takes both in one round trip. Its task joins the result's answer; when the answer
   * cannot carry it (the result failed or was ignored, the handler answered natively) the task is
   * given back through onUndelivered. Nothing about the task may turn the result's answer into an
   * error: the result is taken by then.
   */
  async #resultWithNext(handler: LooseHandler, result: TaskResult, context: ListenerContext, query: string, req: IncomingMessage, flight: InFlight, res: ServerResponse): Promise<void> {
    const call = handler("result", result, context);
    const workerId = result.worker_id;
    const taking = typeof workerId === "string" && workerId !== "" ? this.#nextTask(handler, workerId, query, req, flight) : undefined;
    let answer: string | undefined;
    try {
      const value = await call;
      trustConnection(req.socket);
      if (!res.headersSent && !res.writableEnded) {
        answer = replyText("result", value);
        // An ignored result is told why and polls; a non-object answer has nowhere to put a task.
        if ((value as { status?: unknown } | null)?.status === "ignored" || answer.charCodeAt(answer.length - 1) !== 0x7d /* } */) {
          sendJson(res, 200, answer);
          answer = undefined;
        }
      }
    } finally {
      // Without an answer to carry it (an error is thrown on), the task goes back.
      if (answer === undefined && taking !== undefined) void taking.then((task) => this.#giveBack(workerId!, task));
    }
    if (answer === undefined) return;
    const task = await taking!;
    const text = isNothing(task) ? undefined : this.#taskText(workerId!, task, res);
    if (text === undefined || text instanceof Error) {
      if (!res.headersSent && !res.writableEnded && !res.destroyed) sendJson(res, 200, answer);
      return;
    }
    this.#handOver(workerId!, task, res, `${answer.slice(0, -1)},"next_task":${text}}`);
  }

  /** The handler's no-hold poll for a result's worker: its task, or null (a failure is logged, never thrown). */
  async #nextTask(handler: LooseHandler, workerId: string, query: string, req: IncomingMessage, flight: InFlight): Promise<unknown> {
    try {
      const fields: PollFields = { ...parsePollQuery(query), pollNoHold: true };
      return await handler("poll", workerId, buildContext(req, workerId, flight, null, fields));
    } catch (err) {
      this.#logger.debug({ err, worker_id: workerId }, "rxon listener: no next task with the result");
      return null;
    }
  }

  /** A task taken for an answer that cannot carry it goes back (onUndelivered, `released`). */
  #giveBack(workerId: string, task: unknown): void {
    if (!isNothing(task)) this.#undelivered?.(workerId, task, "released");
  }

  /**
   * The text of a task the handler returned for `workerId`; undefined when the worker already went
   * away, an error when the task cannot be written. Either way the task is reported undelivered.
   */
  #taskText(workerId: string, task: unknown, res: ServerResponse): string | Error | undefined {
    if (res.headersSent || res.writableEnded || res.destroyed) {
      this.#logger.warn({ worker_id: workerId }, "rxon listener: the worker went away before its task could be delivered");
      this.#undelivered?.(workerId, task, "client_gone");
      return undefined;
    }
    try {
      return jsonText(task);
    } catch (err) {
      this.#undelivered?.(workerId, task, "unserializable");
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Writes an answer carrying `task`; a task whose answer does not reach the worker is reported undelivered. */
  #handOver(workerId: string, task: unknown, res: ServerResponse, text: string): void {
    res.once("close", () => {
      if (!res.writableFinished) this.#undelivered?.(workerId, task, "client_gone");
    });
    sendJson(res, 200, text);
  }

  #answerError(error: unknown, req: IncomingMessage, res: ServerResponse, action: string): void {
    const answer = errorAnswer(error);
    if (answer.internal) this.#logger.error({ err: error, action }, "rxon listener: handler failed");
    else if (error instanceof AuthError || error instanceof UnavailableError) {
      // The application's to log: a hub logs each authentication refusal once, with its reason,
      // and a store outage once, not once per request it refuses meanwhile.
      this.#logger.debug({ status: answer.status, action, error: answer.body.error }, "rxon listener: request refused");
    } else {
      // Refused before any handler saw it (malformed, too large, wrong type, too many): logged once here.
      const hinted = req.headers["x-worker-id"];
      const workerId = typeof hinted === "string" ? hinted.slice(0, 128) : null;
      const reason = isRxonError(error) && typeof error.details.reason === "string" ? error.details.reason : String(answer.body.code ?? answer.status);
      this.#logger.warn({ status: answer.status, action, worker_id: workerId, reason }, `rxon listener: refused ${action}: ${String(answer.body.error).slice(0, 200)}`);
    }
    if (error instanceof BodyRefusal || !req.complete) this.#closeAfter(req, res);
    if (res.headersSent || res.destroyed) return;
    sendError(res, answer);
  }

  /**
   * Ends the connection after the answer without reading the rest of the request: the body is
   * abandoned (not drained), and the socket is destroyed after a short linger that lets the
   * client read the answer.
   */
  #closeAfter(req: IncomingMessage, res: ServerResponse): void {
    // A request without a body keeps its keep-alive connection ('complete' is not yet set while
    // the 'request' event of a bodyless request runs, so the headers decide).
    if (req.complete || !hasBody(req)) return;
    abandonBody(req);
    if (!res.headersSent) res.setHeader("Connection", "close");
    const linger = this.#limits.refusedLingerMs;
    res.once("finish", () => setTimeout(() => req.socket.destroy(), linger).unref());
    res.once("close", () => {
      if (!res.writableFinished) req.socket.destroy();
    });
  }

  /**
   * Handles an upgrade request if it targets the WebSocket route and resolves true; resolves
   * false, touching nothing, otherwise. Calls the handler with `websocket_auth` before upgrading
   * (an AuthError answers 403, or its status, without upgrading), then with `websocket` and the
   * {@link CommandChannel}; the socket stays open while that call is pending.
   */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean> {
    const workerId = matchWebSocket(pathOf(req.url).path);
    if (workerId === null) return false;
    socket.on("error", noop);
    const refuse = (status: number, text: string, headers: Record<string, string> = {}): boolean => {
      if (!socket.destroyed) socket.end(rawResponse(status, text, { [Header.VERSION]: this.#version, ...headers }));
      return true;
    };
    if (req.method !== "GET") return refuse(405, "405: Method Not Allowed", { Allow: "GET" });
    const handler = this.#handler;
    if (this.#closing) return refuse(503, "Service is shutting down");
    if (handler === undefined) return refuse(503, "Service is initializing");

    const flight = new InFlight();
    this.#inFlight.add(flight);
    const onGone = (): void => flight.abort(new NetworkError("The client closed the connection"));
    socket.once("close", onGone);
    try {
      const context = buildContext(req, workerId, flight, null);
      let allowed: unknown;
      try {
        allowed = await handler("websocket_auth", null, context);
      } catch (error) {
        return this.#refuseUpgrade(error, refuse);
      }
      if (allowed === false) return refuse(403, "Forbidden");
      if (socket.destroyed) return true;
      if (this.#closing) return refuse(503, "Service is shutting down");
      socket.off("close", onGone);
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, handler, workerId, req, flight));
      return true;
    } finally {
      this.#inFlight.delete(flight);
      this.#checkIdle();
    }
  }

  #refuseUpgrade(error: unknown, refuse: (status: number, text: string, headers?: Record<string, string>) => boolean): boolean {
    if (error instanceof AuthError) return refuse(error.status === 401 ? 401 : 403, error.message || "Forbidden");
    // The same answers as on the HTTP routes (429 and 503 with Retry-After, an rxon error's status), as text.
    const answer = errorAnswer(error);
    if (!answer.internal) return refuse(answer.status, answer.body.error, answer.headers);
    this.#logger.error({ err: error, action: "websocket_auth" }, "rxon listener: handler failed");
    return refuse(500, "Internal server error");
  }

  #open(ws: WebSocket, handler: LooseHandler, workerId: string, req: IncomingMessage, flight: InFlight): void {
    this.#sockets.add(ws);
    const channel = new WsCommandChannel(ws, workerId);
    ws.on("error", (error) => this.#logger.debug({ err: error, worker_id: workerId }, "rxon listener: WebSocket error"));
    // A peer whose path died without FIN/RST never closes: ping it, and drop it after a missed pong.
    let alive = true;
    const pinger =
      this.#limits.wsPingIntervalMs > 0
        ? setInterval(() => {
            if (!alive) return void ws.terminate();
            alive = false;
            ws.ping();
          }, this.#limits.wsPingIntervalMs).unref()
        : undefined;
    const seen = (): void => {
      alive = true;
    };
    ws.on("pong", seen);
    ws.on("message", seen);
    ws.once("close", () => {
      if (pinger !== undefined) clearInterval(pinger);
      flight.abort(new NetworkError("The command channel closed"));
      this.#sockets.delete(ws);
      this.#checkIdle();
    });
    const context = buildContext(req, workerId, flight, null);
    let queue: FrameQueue | undefined;
    ws.on("message", (data, isBinary) => {
      if (this.#rateLimiter !== undefined && this.#rateLimiter.take(workerId) > 0) {
        // Dropped unread: a flooding worker spends its own budget, not the hub's CPU.
        this.#frameDropped(workerId);
        return;
      }
      queue ??= new FrameQueue(ws, (text) => this.#onFrame(handler, text, workerId, req, flight), this.#limits.maxPendingFrames, this.#limits.maxBadFramesPerMinute);
      queue.push(data, isBinary);
    });
    Promise.resolve()
      .then(() => handler("websocket", channel, context))
      // A handler that returns at once (or returns nothing) leaves the channel open until the
      // worker or the listener closes it: closing it would make the worker reconnect in a loop.
      .then(() => channel.closed)
      .then(
        () => channel.close(1000),
        (error: unknown) => {
          this.#logger.error({ err: error, worker_id: workerId, action: "websocket" }, "rxon listener: handler failed");
          channel.close(1011, "Internal error");
        },
      );
  }

  #frameDropped(workerId: string): void {
    this.#droppedFrames++;
    const now = Date.now();
    if (now - this.#droppedLoggedAt < 1000) return;
    this.#logger.warn({ worker_id: workerId, dropped: this.#droppedFrames }, "rxon listener: WebSocket events over the worker's rate limit were dropped");
    this.#droppedLoggedAt = now;
    this.#droppedFrames = 0;
  }

  /** One text frame: an event, handled like `POST /_worker/events`. False when the frame was malformed or refused. */
  async #onFrame(handler: LooseHandler, text: string, workerId: string, req: IncomingMessage, aborts: { readonly signal: AbortSignal }): Promise<boolean> {
    let payload: unknown;
    let raw: JsonObject;
    let verifiedWorkerId: string | undefined;
    try {
      const value = parseJson(text, { maxBytes: this.#limits.maxWsMessageBytes, maxDepth: this.#limits.maxDepth });
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new ValidationError("Event must be a JSON object", [{ path: "", message: "must be object" }]);
      }
      raw = value;
      payload = decode("WorkerEventPayload", raw);
      if (this.#verifier !== undefined) verifiedWorkerId = await verifyMessage(this.#verifier, "event", raw, workerId, null);
    } catch (error) {
      const answer = errorAnswer(error);
      this.#logger.warn({ worker_id: workerId, status: answer.status, error: answer.body.error }, "rxon listener: WebSocket event refused");
      return false;
    }
    try {
      const extra = verifiedWorkerId === undefined ? undefined : { verifiedWorkerId };
      await handler("event", payload, buildContext(req, workerId, aborts, raw, extra));
    } catch (error) {
      const answer = errorAnswer(error);
      if (answer.internal) this.#logger.error({ err: error, worker_id: workerId, action: "event" }, "rxon listener: handler failed");
      else this.#logger.warn({ worker_id: workerId, status: answer.status, error: answer.body.error }, "rxon listener: WebSocket event refused by the handler");
    }
    return true;
  }

  /**
   * Stops accepting (new requests and upgrades get 503), aborts the signals of requests in
   * progress, answers held polls 204 (after `closeGraceMs` at most, unless their handler answers
   * first), closes WebSockets with 1001 and resolves when nothing is left. Does not close the
   * server, which belongs to the application.
   */
  async close(): Promise<void> {
    this.#closing = true;
    const reason = new NetworkError("The listener is closing", { code: ErrorCode.TRANSIENT_ERROR });
    for (const flight of this.#inFlight) {
      flight.abort(reason);
      const release = flight.release;
      if (release !== undefined) setTimeout(release, this.#limits.closeGraceMs).unref();
    }
    for (const ws of this.#sockets) {
      ws.close(1001, "Server shutdown");
      setTimeout(() => ws.terminate(), this.#limits.wsCloseTimeoutMs).unref();
    }
    if (this.#inFlight.size > 0 || this.#sockets.size > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** `await using listener = new RxonListener(...)`: {@link close} when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkIdle(): void {
    if (this.#inFlight.size > 0 || this.#sockets.size > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Falsy values and empty objects, arrays and strings count as "no answer" (PROTOCOL.md 2.3). */
function isNothing(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.keys(value).length === 0;
  return false;
}

function noop(): void {}
