/**
 * Options of the listener and their defaults. Limits are enforced before any work is done on a
 * request, so that a hostile or broken client costs a bounded amount of memory and time.
 */
import { Limit, ProtocolVersion } from "../../generated/constants.js";
import type { Logger } from "../logger.js";
import type { MessageVerifier, VerifierOptions } from "../security/index.js";
import type { RateLimitOptions } from "./rate-limit.js";
import type { HttpAction } from "./routes.js";
import type { ListenerContext, RxonHandler } from "./types.js";

/** Limits applied to every request and WebSocket of the listener. */
export interface ListenerLimits {
  /** Largest accepted request body in bytes (413 above it). Default 1 MiB, as the orchestrator. */
  maxBodyBytes?: number;
  /** Deepest accepted JSON nesting (root = 0). Default 100, the canonical form's limit. */
  maxDepth?: number;
  /** Largest accepted WebSocket message in bytes. Default 4 MiB, as the orchestrator. */
  maxWsMessageBytes?: number;
  /** Time allowed to receive a request body once its headers arrived (408 after it). Default 30 s. */
  bodyTimeoutMs?: number;
  /**
   * `server.headersTimeout` set by `attach()` when the application left Node's default. Default 20 s.
   * (Node checks it every `connectionsCheckingInterval`, a server creation option, 30 s by default.)
   */
  headersTimeoutMs?: number;
  /**
   * Time a connection that has not yet carried an authenticated request has to deliver a request's
   * headers: from accept (a TLS handshake included) for its first request; past it, the connection
   * is destroyed (`attach()` only). The answer to a request that was not authenticated says
   * `Connection: close` and ends the connection (the deadline runs again after it should the
   * client send on regardless). Without
   * it, a client that opens connections and sends nothing, or one cheap request and then nothing,
   * holds its address's share under `maxConnectionsPerAddress` for `headersTimeoutMs` or the
   * keep-alive timeout each time, and honest workers behind the same NAT address are refused
   * meanwhile. Lifted while a request is answered (held polls, bodies still arriving), gone once a
   * request of the connection was authenticated (`trustConnection`) or it was upgraded (WebSocket).
   * Default 5 s; 0 = off.
   */
  strangerIdleTimeoutMs?: number;
  /** `server.requestTimeout` set by `attach()` when the application left Node's default. Default 60 s. */
  requestTimeoutMs?: number;
  /**
   * How often the header and request timeouts are checked (`server.connectionsCheckingInterval`),
   * set by `attach()` on a server that is not listening yet and kept Node's 30 s. Default 1 s, so a
   * socket that sends nothing, or stops inside its request line or headers, is dropped (408) about
   * `headersTimeoutMs` after it connected.
   */
  connectionsCheckIntervalMs?: number;
  /** Open connections in all (`server.maxConnections`, set by `attach()` unless already set); 0 = no cap. Default 4096. */
  maxConnections?: number;
  /**
   * Open connections from one remote address (IPv6: one /64), refused at accept above it; 0 = no
   * cap. Default 256: many workers behind one NAT share an address, each holding a poll, a
   * WebSocket and a spare connection at most.
   */
  maxConnectionsPerAddress?: number;
  /** How long a refused upload's connection is kept (not read) so the client can read the answer. Default 500 ms. */
  refusedLingerMs?: number;
  /** Malformed WebSocket frames tolerated per minute before the socket is closed with 1008. Default 30. */
  maxBadFramesPerMinute?: number;
  /** Events from one WebSocket queued for the handler before the socket is paused. Default 32. */
  maxPendingFrames?: number;
  /** After `close()`, how long a held poll's handler may take to give up before 204 is sent. Default 1 s. */
  closeGraceMs?: number;
  /** After `close()`, how long WebSockets may take to finish their closing handshake. Default 2 s. */
  wsCloseTimeoutMs?: number;
  /**
   * Interval of pings on each worker WebSocket; a socket that answered neither the last ping nor
   * with any frame is terminated (a worker whose path died without FIN/RST). Default 30 s; 0 = off.
   */
  wsPingIntervalMs?: number;
}

/** Resolved limits (every field present). */
export type ResolvedLimits = Required<ListenerLimits>;

/** Verification layer configuration: a ready verifier, or the options to build one. */
export type ListenerVerifyOptions = { verifier: MessageVerifier } | VerifierOptions;

/** Options of {@link RxonListener}. */
export interface RxonListenerOptions {
  /** The application's handler; may be set later with `setHandler` (503 until then). */
  handler?: RxonHandler;
  /**
   * Told when a task the handler returned for a poll did not reach the worker: the poll was
   * released at shutdown, the client left before or while it was written, or it could not be
   * serialized. An orchestrator puts such a task back in its queue at once.
   */
  onUndelivered?: (workerId: string, task: unknown, reason: "released" | "client_gone" | "unserializable") => void;
  /**
   * Lets a result carry its worker's next task (an rxon extension; docs/listener.md). A result sent
   * with `next=1` in its query (and the poll's `available_skills`/`hot_skills`) is answered with a
   * `next_task` member when, once the handler took the result, the handler's `poll` returns a task
   * for a context with `pollNoHold: true`. Turn it on only for a handler that answers such a poll
   * at once: a held one would hold the result's answer. A failing or empty poll leaves the answer
   * as it was; a task that cannot be written goes to `onUndelivered`. Default false: the query is
   * ignored, as the Python orchestrator ignores it.
   */
  answerNextTask?: boolean;
  /** pino-compatible logger. Default silent. */
  logger?: Logger;
  /** Request and WebSocket limits. */
  limits?: ListenerLimits;
  /**
   * Authenticates register, result, heartbeat (with a body) and event messages, over HTTP and the
   * WebSocket, before the handler sees them (PROTOCOL.md 7.2).
   */
  verify?: ListenerVerifyOptions;
  /** Value of the `X-RXON-Version` response header. Default `1.0b15`. */
  protocolVersion?: string;
  /**
   * Runs once a request's headers arrived, before its body is read or decoded (`rawBody` is null
   * in the context): throw an AuthError to refuse a stranger at the cost of its headers. May
   * return the authenticated worker id, which the rate limit then uses. Not called for the
   * WebSocket route (its `websocket_auth` call already runs before upgrading).
   */
  authenticate?: PreAuthenticate;
  /**
   * Per-worker rate limit (token bucket), `false` to disable. Counted per authenticated worker:
   * the verification layer's signer, else the id returned by `authenticate`; WebSocket events per
   * connection's worker. Requests whose worker is not authenticated before the handler are not
   * counted. Default on, 5,000/s with bursts of 10,000: far above what a busy worker needs (a task costs a poll and a result), far below a flood.
   */
  rateLimit?: RateLimitOptions | false;
}

/** The listener's pre-body authentication hook; see {@link RxonListenerOptions.authenticate}. */
export type PreAuthenticate = (action: HttpAction, context: ListenerContext) => string | void | undefined | Promise<string | void | undefined>;

/** Fills in the default limits and checks the given ones. */
export function resolveLimits(limits: ListenerLimits = {}): ResolvedLimits {
  const resolved: ResolvedLimits = {
    maxBodyBytes: limits.maxBodyBytes ?? Limit.MAX_BODY_BYTES,
    maxDepth: limits.maxDepth ?? Limit.MAX_DEPTH,
    maxWsMessageBytes: limits.maxWsMessageBytes ?? Limit.MAX_WS_MESSAGE_BYTES,
    bodyTimeoutMs: limits.bodyTimeoutMs ?? 30_000,
    headersTimeoutMs: limits.headersTimeoutMs ?? 20_000,
    requestTimeoutMs: limits.requestTimeoutMs ?? 60_000,
    strangerIdleTimeoutMs: limits.strangerIdleTimeoutMs ?? 5000,
    connectionsCheckIntervalMs: limits.connectionsCheckIntervalMs ?? 1000,
    maxConnections: limits.maxConnections ?? 4096,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress ?? 256,
    refusedLingerMs: limits.refusedLingerMs ?? 500,
    maxBadFramesPerMinute: limits.maxBadFramesPerMinute ?? 30,
    maxPendingFrames: limits.maxPendingFrames ?? 32,
    closeGraceMs: limits.closeGraceMs ?? 1000,
    wsCloseTimeoutMs: limits.wsCloseTimeoutMs ?? 2000,
    wsPingIntervalMs: limits.wsPingIntervalMs ?? 30_000,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`limits.${name} must be a finite number >= 0`);
    }
  }
  return resolved;
}

/** The default protocol version announced in `X-RXON-Version`. */
export const DEFAULT_PROTOCOL_VERSION: string = ProtocolVersion.CURRENT;
