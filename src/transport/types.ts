/**
 * The worker side of the wire as one interface, implemented by the HTTP/WebSocket transport and by
 * the in-memory MockTransport. The worker runtime depends only on this.
 */
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

/** Options of {@link WorkerTransport.pollTask}. */
export interface PollOptions {
  /** How long the server may hold the poll, in seconds (sent as `timeout`). Default 30. */
  timeoutSeconds?: number;
  /** Skills that can start now (sent as `available_skills`). */
  availableSkills?: readonly string[];
  /** Skills already loaded (sent as `hot_skills`). */
  hotSkills?: readonly string[];
  /** Cancels the poll promptly. */
  signal?: AbortSignal;
  /**
   * Keep the task's JSON as received, for `receivedForm(task)` (signature checks need it: decoding
   * fills defaults in). Costs a copy of the task. Default false.
   */
  keepReceived?: boolean;
}

/** Options of {@link WorkerTransport.callSkill}. */
export interface SkillCallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Client-side limit of the whole call. Default: the transport's `skillCallTimeoutMs` (5 minutes). */
  timeoutMs?: number;
  /** The calling task (sent as `task_id`), so the orchestrator can bound call chains. Set by the worker runtime. */
  taskId?: string;
}

/** The outcome of a skill run for a handler through `POST /skills/call`. */
export interface SkillCallOutcome {
  /** `success`, `failure` or `cancelled` (whatever the orchestrator answered). */
  readonly status: string;
  readonly data?: Record<string, unknown>;
  readonly error?: { readonly code?: string; readonly message?: string; readonly [key: string]: unknown };
}

/** Per-call options of the other operations. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** Options of {@link WorkerTransport.sendResult}. */
export interface ResultOptions extends CallOptions {
  /**
   * Asks for the worker's next task in the answer (an rxon extension, docs/transport.md): the
   * orchestrator may answer with `next_task`, a task for these poll options (their timeout is not
   * used: the answer never waits for one). Send it only when a slot will be free for that task and
   * no poll is out for it. Orchestrators that do not know the extension ignore it.
   */
  next?: PollOptions;
}

/** What happened to a result. */
export type ResultDelivery =
  | { readonly delivered: true; readonly response: ResultResponse | null }
  | {
      readonly delivered: false;
      /** The orchestrator's reason, e.g. `stale_task` (see IgnoredReason). */
      readonly reason: string;
      readonly message: string;
      readonly response: ResultResponse;
    };

/**
 * A worker's connection to one orchestrator. Outgoing registration, heartbeats, results and
 * events are stamped with `timestamp` and signed (when signing is configured) by the transport, so
 * callers pass them without `timestamp`/`security`.
 */
export interface WorkerTransport extends AsyncDisposable {
  /** The worker id this transport speaks for. */
  readonly workerId: string;
  /**
   * The orchestrator's time minus this machine's clock, in milliseconds, as the transport measured
   * it (the HTTP transport: from the `Date` header of answers). Absent or 0: the clocks agree.
   */
  readonly clockOffsetMs?: number;
  /** Opens resources (idempotent). Other calls connect lazily when needed. */
  connect(): Promise<void>;
  /** Closes everything (idempotent); pending calls are aborted and `commands()` iterators end. */
  close(): Promise<void>;
  /** POST the registration; adopts a token from the response if one comes back. */
  register(registration: WorkerRegistration, options?: CallOptions): Promise<RegisterResponse | null>;
  /** Long-polls for the next task; null when the server had none (204). */
  pollTask(options?: PollOptions): Promise<TaskPayload | null>;
  /** Delivers a result, retrying network failures with bounded backoff. */
  sendResult(result: TaskResult, options?: ResultOptions): Promise<ResultDelivery>;
  /** Sends a heartbeat (null: an empty PATCH that only refreshes the TTL); returns the server's directives. */
  sendHeartbeat(heartbeat: Heartbeat | null, options?: CallOptions): Promise<HeartbeatResponse | null>;
  /** Emits an event over the open WebSocket when there is one, else over HTTP; false if it was not delivered. */
  emitEvent(event: WorkerEventPayload, options?: CallOptions): Promise<boolean>;
  /** Commands pushed by the orchestrator, reconnecting until closed or aborted. */
  commands(options?: CallOptions): AsyncIterable<WorkerCommand>;
  /** Obtains a new access token (refresh token if known, else a fresh STS token); null on failure. */
  refreshToken(options?: CallOptions): Promise<TokenResponse | null>;
  /**
   * Runs another skill through the orchestrator (`POST <base URL>/skills/call`, body
   * `{"skill_name", "params"}`) and returns its outcome. Optional: transports without it make
   * `ctx.callSkill` reject.
   */
  callSkill?(name: string, params: Record<string, unknown>, options?: SkillCallOptions): Promise<SkillCallOutcome>;
}
