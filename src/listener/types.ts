/**
 * The orchestrator side's contract: a listener turns each worker request into one call of
 * `handler(action, payload, context)` and the answer (or error) back into the wire response.
 */
import type { IncomingMessage } from "node:http";
import type {
  Heartbeat,
  HeartbeatResponse,
  RegisterResponse,
  ResultResponse,
  TaskPayload,
  TaskResult,
  TokenRefreshRequest,
  TokenResponse,
  EventResponse,
  WorkerCommand,
  WorkerEventPayload,
  WorkerRegistration,
} from "../../generated/types.js";
import type { JsonObject } from "../wire/json.js";

/** Identity taken from a verified client certificate. */
export interface CertIdentity {
  /** First commonName of the subject; null for a certificate that names itself only by URI SANs. */
  readonly commonName: string | null;
  /** URI subject alternative names (e.g. SPIFFE ids). */
  readonly uris: readonly string[];
}

/** The worker's command channel, handed to the handler with the `websocket` action. */
export interface CommandChannel {
  /** The worker at the other end (from the path). */
  readonly workerId: string;
  /** Sends a command as a JSON text frame; resolves when written. */
  send(command: WorkerCommand): Promise<void>;
  /** Closes the channel (default code 1000). */
  close(code?: number, reason?: string): void;
  /** Resolves when the channel is closed, by either side. */
  readonly closed: Promise<void>;
  /** True while open. */
  readonly isOpen: boolean;
}

/** What every handler call knows about the request. */
export interface ListenerContext {
  /** `X-Worker-Token`, or null. */
  readonly token: string | null;
  /** Worker id from the path (poll, heartbeat, WebSocket), else `X-Worker-ID`, or null. */
  readonly workerIdHint: string | null;
  /** `X-RXON-Version`, or null. */
  readonly protocolVersion: string | null;
  /** Identity of a verified client certificate, or null. */
  readonly certIdentity: CertIdentity | null;
  /** Always `http` (also for the WebSocket). */
  readonly transport: "http";
  /** The native request. */
  readonly rawRequest: IncomingMessage;
  /** The received object exactly as parsed (before defaults), for signatures and auditing; null without a body. */
  readonly rawBody: JsonObject | null;
  /** Aborted when the client goes away or the listener closes (held polls must give up then). */
  readonly signal: AbortSignal;
  /** `poll` only: the `timeout` query value in seconds (0 when absent or unparseable). */
  readonly pollTimeout?: number;
  /** `poll` only, when the query parameter is present. */
  readonly availableSkills?: readonly string[];
  /** `poll` only, when the query parameter is present. */
  readonly hotSkills?: readonly string[];
  /**
   * `poll` only: true for the poll a result makes for its worker's next task (see
   * `RxonListenerOptions.answerNextTask`). Answer a task that is waiting, or nothing, at once:
   * never hold it.
   */
  readonly pollNoHold?: true;
  /** Set when the listener's verification layer authenticated the message's signer. */
  readonly verifiedWorkerId?: string;
}

/** Payload of each action: decoded, validated models where there is a body. */
export interface HandlerPayloads {
  register: WorkerRegistration;
  poll: string;
  result: TaskResult;
  heartbeat: Heartbeat | null;
  event: WorkerEventPayload;
  sts_token: null;
  sts_refresh: TokenRefreshRequest;
  websocket_auth: null;
  websocket: CommandChannel;
}

/** What each action may return (undefined/null → the protocol's default answer). */
export interface HandlerResults {
  register: RegisterResponse | JsonObject | void | null;
  poll: TaskPayload | void | null;
  result: ResultResponse | JsonObject | void | null;
  heartbeat: HeartbeatResponse | JsonObject | void | null;
  event: EventResponse | JsonObject | void | null;
  sts_token: TokenResponse;
  sts_refresh: TokenResponse;
  websocket_auth: void | null | boolean;
  websocket: void;
}

/** A listener action name. */
export type HandlerAction = keyof HandlerPayloads;

/** The argument lists of a handler call, one per action, so `if (action === "result")` narrows `payload`. */
export type HandlerArgs = {
  [A in HandlerAction]: [action: A, payload: HandlerPayloads[A], context: ListenerContext];
}[HandlerAction];

/**
 * The application's one entry point. Throw rxon errors to answer with their status: ValidationError
 * → 400, AuthError → 403 (or its status, e.g. 401), ProtocolError with status 404/409, RateLimitError
 * → 429 with Retry-After; anything else → 500 with a generic message.
 */
export type RxonHandler = (...args: HandlerArgs) => unknown | Promise<unknown>;
