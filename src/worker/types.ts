/**
 * Public types of the worker runtime: options, the skill shape it runs, the context handed to a
 * handler, statistics and observable events.
 */
import type {
  InstalledArtifact,
  Resources,
  ResourcesUsage,
  SkillInfo,
  TaskPayload,
  TaskResult,
  WorkerCapabilities,
  WorkerCommand,
} from "../../generated/types.js";
import type { TaskTrace } from "../tracing/span.js";
import type { Logger } from "../logger.js";
import type { TransportOptions } from "../transport/options.js";
import type { RateLimitBackoffOptions } from "../transport/backoff.js";
import type { SkillCallOptions, SkillCallOutcome, WorkerTransport } from "../transport/types.js";

/**
 * What a handler receives besides its params. Structurally a superset of the contracts room's
 * `SkillContext`, so handlers written with `defineSkill` accept it.
 */
export interface TaskContext {
  /** Fires on a cancel command, a heartbeat `cancel_task_ids`, the task deadline, or shutdown. */
  readonly signal: AbortSignal;
  /** Id of the task being run. */
  readonly taskId: string;
  /** Id of the job the task belongs to. */
  readonly jobId: string;
  /**
   * Absolute deadline in epoch milliseconds on this machine's clock (the worker's `clock.now()`),
   * when the task has one: the task's `deadline`, which is the orchestrator's time, shifted by the
   * clock offset the transport measured, so `deadline - Date.now()` is the time left.
   */
  readonly deadline?: number;
  /**
   * The W3C trace this run belongs to, continued from the task's `tracing_context`: send
   * `trace.traceparent` on outgoing calls to join it. Undefined when the task carried none.
   */
  readonly trace?: TaskTrace;
  /**
   * Reports progress (fraction 0..1, clamped) as a `progress` event. Never throws and never blocks;
   * calls are throttled per task and the last one is always sent before the result.
   */
  progress(fraction: number, message?: string): void;
  /** Logger whose entries carry `task_id` and `job_id`. */
  readonly logger: Logger;
  /** Id of the worker running the task. */
  readonly workerId: string;
  /** The task as received (metadata, params_metadata, tracing context...). */
  readonly task: Readonly<TaskPayload>;
  /**
   * Runs another skill through the orchestrator (`POST /skills/call`) and resolves with its
   * outcome `{status, data?, error?}`. The call is aborted with the task's own signal as well as
   * `options.signal`. Rejects with a typed error (ProtocolError, AuthError, RateLimitError,
   * NetworkError) when the orchestrator refuses or cannot be reached, or an RxonError when the
   * transport has no skill calls.
   */
  callSkill(name: string, params?: Record<string, unknown>, options?: SkillCallOptions): Promise<SkillCallOutcome>;
}

/**
 * A skill the worker can run: the value `defineSkill` returns. `handler` is declared as a method so
 * that handlers typed for their own params (from the TypeBox contract) fit.
 */
export interface WorkerSkill {
  /** The catalogue entry sent at registration; `info.name` is the task type it serves. */
  readonly info: SkillInfo;
  /** Runs one task; the returned object becomes the result's `data`. */
  handler(params: never, ctx: TaskContext): unknown;
}

/**
 * Time source and waiting, injectable so tests can run backoff schedules without real delays.
 */
export interface WorkerClock {
  /** Wall-clock time in epoch milliseconds (compared with task deadlines, message timestamps). */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that never jump (default `performance.now`), to measure
   * intervals with. Without it, intervals are measured on `now()`.
   */
  monotonic?(): number;
  /** Resolves after `ms`, or early when `signal` aborts; never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Live usage reported by the user, merged over the worker's own CPU and RAM figures. */
export type UsageProvider = () => ResourcesUsage | Promise<ResourcesUsage>;

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** Orchestrator URL (`http(s)://`, `ws(s)://`, `mock://`); used when `transport` is not given. */
  url?: string;
  /** A ready transport (e.g. `MockTransport`); takes precedence over `url`. It is closed by `stop()`. */
  transport?: WorkerTransport;
  /** Worker id: an identifier (letters, digits, `_`, `-`). */
  workerId: string;
  /** Worker token sent as `X-Worker-Token` (needed with `url`). */
  token?: string;
  /**
   * HMAC secret to sign messages with (with `url`). Default: `token`, as the Python worker SDK
   * signs; pass `transportOptions: { sign: false }` to send unsigned messages.
   */
  secret?: string;
  /** Ed25519 private key to sign messages with (with `url`). */
  ed25519Key?: TransportOptions["ed25519Key"];
  /** Further options for `createTransport` (TLS, dispatcher, timeouts...). */
  transportOptions?: Omit<TransportOptions, "secret" | "ed25519Key">;
  /** Skills this worker runs (values of `defineSkill`). Names must be unique. */
  skills: readonly WorkerSkill[];
  /** Resources offered, for resource-constrained dispatch. */
  resources?: Resources;
  /** Tasks run at the same time. Default 1. */
  concurrency?: number;
  /** Interval between heartbeats in milliseconds. Default 15 000 (the Python SDK's). */
  heartbeatIntervalMs?: number;
  /** Where the worker logs (pino-compatible). Default silent. */
  logger?: Logger;
  /** Time source (tests). Default: `Date.now` and `setTimeout`. */
  clock?: WorkerClock;
  /** Sent as `worker_type` at registration. */
  workerType?: string;
  /** Sent at registration; `hostname` is filled in when absent. */
  capabilities?: WorkerCapabilities;
  /** Installed artifacts, sent at registration. */
  installedArtifacts?: readonly InstalledArtifact[];
  /** Installed software (name → version), sent at registration. */
  installedSoftware?: Readonly<Record<string, string>>;
  /** Free-form registration metadata. */
  metadata?: Readonly<Record<string, unknown>>;
  /** Per-device usage (and overrides of CPU/RAM) for heartbeats; errors and slow answers are skipped. */
  usage?: UsageProvider;
  /** Long-poll hold asked of the server, in seconds. Default 30. */
  pollTimeoutSeconds?: number;
  /**
   * When a finished task's slot is the one the worker would poll for next, its result asks for the
   * next task in the answer (`next=1`, an rxon extension: docs/worker.md). An rxon hub answers with
   * a task that is waiting, saving a poll; an orchestrator that does not know the extension
   * ignores it and the worker polls as usual. Default true.
   */
  nextTaskWithResult?: boolean;
  /** Listen for commands (`cancel_task`) on the WebSocket channel. Default true. */
  commands?: boolean;
  /**
   * Outer attempts per result when the orchestrator answers with a retryable error (5xx other
   * than 503, 408), the first included. Default 4. A 429, a 503 or no answer at all (the
   * orchestrator away for now) uses none: those are retried with a backoff, at most 20 times.
   */
  resultAttempts?: number;
  /** Least time between two progress events of one task. Default 100 ms. */
  progressIntervalMs?: number;
  /**
   * Least time between two heartbeats sent because the load changed (a task started or a slot
   * freed; the first is sent at once, periodic heartbeats do not count). Default 2 000 ms, like
   * the Python worker SDK.
   */
  heartbeatCooldownMs?: number;
  /**
   * List each running task's job id next to its task id in the heartbeat's `current_tasks`, so an
   * orchestrator that cancels by job id (the Python one) can name it. Default true.
   */
  reportJobIdsInHeartbeat?: boolean;
  /**
   * The orchestrator's task-signing secret. When set, every task must carry a valid `sig` (or
   * `orchestrator_signature`); a task without one, or with a wrong one, is not run and gets a
   * `failure` result with `INTEGRITY_MISMATCH_ERROR`.
   */
  orchestratorKey?: string;
  /**
   * Registrations in a row refused as unauthorized (401 after a token refresh, or 403) before
   * `start()` rejects with the AuthError. Default 3.
   */
  authFailureLimit?: number;
  /**
   * The wait after 429s, shared by all requests of the worker: the server's `Retry-After` (at
   * least `minDelayMs`, default 1 s), doubled by each further 429 in a row up to `maxDelayMs`
   * (default 10 minutes), with up to +25% jitter; a request that goes through resets it.
   */
  rateLimit?: RateLimitBackoffOptions;
}

/** Counters of a worker since it started. */
export interface WorkerStats {
  /** Tasks whose result was `success`. */
  readonly succeeded: number;
  /** Tasks whose result was `failure`. */
  readonly failed: number;
  /** Tasks whose result was `cancelled`. */
  readonly cancelled: number;
  /** Tasks being run now. */
  readonly inFlight: number;
  /**
   * Handlers still running although their task ended: aborted (cancel, deadline, shutdown), they
   * did not stop on their signal. Their slots are free again; what they return is dropped.
   */
  readonly abandoned: number;
  /** Results the orchestrator answered `ignored` (late, stale, cancelled job...). */
  readonly ignored: number;
  /** Results that could not be delivered at all. */
  readonly lost: number;
  /** Successful registrations (the first one and every re-registration). */
  readonly registrations: number;
}

/** Lifecycle of a worker; `status` in heartbeats is derived from it and the load. */
export type WorkerState = "new" | "starting" | "running" | "draining" | "stopping" | "stopped";

/** Payloads of the observable events of a worker. */
export interface WorkerEvents {
  /** Registration (or re-registration) succeeded. */
  registered: { readonly count: number };
  /** A task was received and is about to run. */
  "task:start": { readonly task: Readonly<TaskPayload> };
  /** A task ended; `result` is what was sent, `delivered` whether the orchestrator accepted it. */
  "task:done": { readonly task: Readonly<TaskPayload>; readonly result: Readonly<TaskResult>; readonly delivered: boolean };
  /** A command arrived over the command channel. */
  command: { readonly command: Readonly<WorkerCommand> };
  /** Something went wrong that the worker survived (for monitoring; it is logged as well). */
  error: { readonly error: unknown; readonly where: string };
  /** The worker's state changed. */
  state: { readonly state: WorkerState };
}

/** Options of {@link Worker.stop}. */
export interface StopOptions {
  /** How long running tasks may take to finish before they are aborted. Default 10 000 ms. */
  graceMs?: number;
}
