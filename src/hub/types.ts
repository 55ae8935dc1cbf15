/**
 * Public types of the reference hub: what a client submits, what it gets back, and the options,
 * events and statistics of a hub.
 */
import type { SkillInfo, TaskError } from "../../generated/types.js";
import type { Logger } from "../logger.js";
import type { DashboardOptions } from "./dashboard/options.js";
import type { HubStore, QueueLimits, TaskRequirements, TaskState } from "./store.js";

export type { TaskRequirements, TaskState } from "./store.js";

/** Arguments of {@link Hub.submit}. */
export interface SubmitOptions {
  /** Task type = the skill name that runs it. */
  type: string;
  /** Input parameters, checked against the worker skill's `input_schema` before dispatch. */
  params?: Record<string, unknown>;
  /** What the worker must offer. */
  requirements?: TaskRequirements;
  /** Higher runs first; FIFO among equals. Default 0. */
  priority?: number;
  /** Absolute deadline (epoch milliseconds or a Date): the task fails with TIMEOUT_ERROR after it. */
  deadline?: number | Date;
  /** Relative deadline in milliseconds from now (used when `deadline` is not given). */
  timeoutMs?: number;
  /** Re-runs allowed after transient failures or lost workers. Default: the hub's `maxRetries`. */
  maxRetries?: number;
  /** Job metadata handed to the worker. */
  metadata?: Record<string, unknown>;
  /**
   * A key the client chooses per logical submission: a retry with the same key (and owner)
   * answers the job the first one created instead of creating another, while that job is retained.
   */
  idempotencyKey?: string;
  /** Owner of the job (an id of the client credential; never the secret). Scopes idempotency, limits and client access. */
  owner?: string;
  /** W3C `traceparent` of the caller, carried to the worker in `tracing_context`. */
  traceparent?: string;
  /** W3C `tracestate` that goes with `traceparent`. */
  tracestate?: string;
}

/** How a task ended. */
export interface TaskOutcome {
  /** `success`, `failure`, `cancelled`, or a custom status the skill declared in `output_statuses`. */
  readonly status: string;
  /** Output data (success and custom statuses). */
  readonly data?: Record<string, unknown>;
  /** Why it failed. */
  readonly error?: TaskError;
  /** Worker that produced the final result, if any. */
  readonly workerId?: string;
  /** Job id. */
  readonly jobId: string;
  /** Task id of the final attempt. */
  readonly taskId: string;
  /** Dispatches made (1 when it ran once). */
  readonly attempts: number;
  /** Milliseconds from submit to the outcome. */
  readonly durationMs: number;
}

/** A submitted task. */
export interface TaskHandle {
  /** Job id (stable across retries). */
  readonly jobId: string;
  /** Task id of the current attempt (a retry gets a new one, so late results of old attempts are `stale_task`). */
  readonly taskId: string;
  /** Current state. */
  readonly status: TaskState;
  /**
   * Resolves once the task has ended (never rejects on the task's account). With `signal`, stops
   * waiting (rejects with the signal's reason) when it aborts; the task goes on.
   */
  result(options?: { signal?: AbortSignal }): Promise<TaskOutcome>;
  /** Cancels: a queued task ends at once; a running one is told to stop (WebSocket and heartbeat). */
  cancel(): Promise<void>;
}

/** Worker credentials the hub accepts. */
export interface HubAuthOptions {
  /** Individual secrets by worker id: the `X-Worker-Token` and the HMAC key of that worker. */
  tokens?: Readonly<Record<string, string>> | ReadonlyMap<string, string>;
  /** A token any worker may use (weaker: its HMAC does not bind messages to one worker). */
  globalToken?: string;
  /** Ed25519 public keys by worker id (raw 32 bytes, or PEM/hex text); messages of these workers must be Ed25519-signed. */
  ed25519Keys?: Readonly<Record<string, Uint8Array | string>>;
  /** Accept workers without any credential (development only). Default: true only when no tokens are configured. */
  allowAnonymous?: boolean;
  /** Check message signatures and timestamps (replay protection). Default true when credentials exist. */
  verifySignatures?: boolean;
  /** Lifetime of STS access tokens, in seconds. Default 3600. */
  accessTokenTtlSeconds?: number;
  /** Lifetime of STS refresh tokens, in seconds. Default 86400. */
  refreshTokenTtlSeconds?: number;
}

/** Options of {@link Hub}. */
export interface HubOptions {
  /** Where state lives. Default: a new MemoryStore. */
  store?: HubStore;
  /** Credentials and verification. */
  auth?: HubAuthOptions;
  /** Logger (pino-compatible). Default: silent. */
  logger?: Logger;
  /**
   * Worker record lifetime without any sign of life, in ms. Default 3 × heartbeatIntervalMs
   * (45 s with the default interval): a killed worker's tasks run elsewhere within that time.
   */
  workerTtlMs?: number;
  /** Heartbeat interval the workers are expected to use, in ms. Default 15 000 (the worker SDKs' default). */
  heartbeatIntervalMs?: number;
  /**
   * How long a running task may go unlisted in its worker's heartbeats (`current_tasks`) before
   * it is given back to the queue, in ms. Default 2 × heartbeatIntervalMs.
   */
  leaseGraceMs?: number;
  /**
   * Limits on waiting tasks; past them submissions are refused (429 with Retry-After on the client
   * API). Default: none on the number of tasks; 256 requirement classes per skill (`classesPerSkill`).
   */
  queueLimits?: QueueLimits;
  /** Deepest chain of `POST /skills/call` children (a child of a top-level job has depth 1). Default 8. */
  maxCallDepth?: number;
  /** Longest a `POST /skills/call` waits for its child's outcome, in ms. Default 300 000. */
  skillCallTimeoutMs?: number;
  /**
   * Most `POST /skills/call` requests one worker holds open on this hub at once; past it a call is
   * refused with 429 and `Retry-After: 1` before its body is read (nothing is submitted).
   * Default 256; 0: no cap.
   */
  maxSkillCallsPerWorker?: number;
  /**
   * Secret the hub signs dispatched tasks with (`sig`: HMAC-SHA256 hex over the canonical task
   * without `security`, `sig` and `orchestrator_signature`); workers given the same key verify it.
   */
  orchestratorKey?: string;
  /** `policy.allowed_skills` set on every dispatched task (the worker refuses other task types). */
  allowedSkills?: readonly string[];
  /** Longest a poll is held, in ms. Default 30 000. */
  maxPollHoldMs?: number;
  /** Default re-runs after transient failures or lost workers. Default 3. */
  maxRetries?: number;
  /** How long a running task may ignore a cancel before it is ended as cancelled anyway, in ms. Default 30 000. */
  cancelGraceMs?: number;
  /** How long finished tasks stay known (for duplicate/late result answers), in ms. Default 600 000. */
  retentionMs?: number;
  /** Most finished tasks kept. Default 100 000. */
  maxRetained?: number;
  /** Period of the housekeeping sweep (expiry, deadlines), in ms. Default min(1000, ttl / 4). */
  sweepIntervalMs?: number;
  /** Skill contracts known to the hub: params of submitted tasks are checked against them at once. */
  skills?: readonly SkillInfo[];
  /** Worker statuses that receive work. Default `idle`, `active`, `busy` (a poll is itself a request for work). */
  dispatchableStatuses?: readonly string[];
  /** Clock in epoch ms (tests). Default Date.now. */
  now?: () => number;
  /**
   * `X-Client-Token` values accepted by the HTTP client API (`/_client/tasks`): plain strings
   * (scope `client`: a token sees and cancels only the jobs it submitted) or `{ token, scope }`
   * with scope `admin` (sees and cancels every job). None (the default): the client API is
   * disabled and its paths answer 404.
   */
  clientTokens?: readonly (string | ClientToken)[];
  /** Limits of the HTTP client API. */
  clientApi?: Omit<ClientApiOptions, "tokens" | "logger">;
  /**
   * The live dashboard at `/_dashboard` (off by default). `true`: admins sign in with the
   * `clientTokens` of scope `admin`; an object gives its options (`adminTokens` default to those).
   */
  dashboard?: boolean | (Omit<DashboardOptions, "adminTokens" | "logger"> & { adminTokens?: readonly string[] });
}

/** A client credential of the client API. */
export interface ClientToken {
  readonly token: string;
  /** `client` (default): own jobs only. `admin`: every job (and the dashboard). */
  readonly scope?: "client" | "admin";
}

/** Options of the client API (also the `clientApi` member of the hub's options). */
export interface ClientApiOptions {
  /** Accepted `X-Client-Token` values. None (the default): the API is disabled. */
  tokens?: readonly (string | ClientToken)[];
  /** Largest request body in bytes (413 above it). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Longest `?wait=` honoured, in seconds (longer waits are cut to it). Default 60. */
  maxWaitSeconds?: number;
  /**
   * Most `?wait=` requests one client token holds open on this hub at once; past it a wait is
   * refused with 429 and `Retry-After: 1` before anything is read or queued. Default 1024; 0: no cap.
   */
  maxWaitsPerClient?: number;
  /** Time allowed to receive a request body, in ms. Default 30 000. */
  bodyTimeoutMs?: number;
  /** Logger. Default silent. */
  logger?: Logger;
}

/** Counters of a hub. */
export interface HubStats {
  /** Workers registered (every hub's, from the store). */
  readonly workers: number;
  /** Tasks waiting for a worker (from the store). */
  readonly queued: number;
  /** Tasks running on workers now, whichever hub or client submitted them (from the store). */
  readonly running: number;
  readonly waitingPolls: number;
  readonly submitted: number;
  readonly dispatched: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly retried: number;
  readonly rejected: number;
  readonly refused: number;
  /** Submissions refused by the queue limits. */
  readonly throttled: number;
  /** Tasks given back to the queue by lease reconciliation or a lost poll answer. */
  readonly released: number;
}

/** Observability events of a hub, with their payloads. */
export interface HubEvents {
  "worker:registered": [{ workerId: string; skills: string[] }];
  "worker:expired": [{ workerId: string; requeued: string[] }];
  "task:submitted": [{ jobId: string; taskId: string; type: string }];
  /** `type`, `submittedAt` and `dispatchedAt` (store clock, epoch ms) are the job's, as the claim returned it. */
  "task:dispatched": [{ jobId: string; taskId: string; workerId: string; attempt: number; type?: string; submittedAt?: number; dispatchedAt?: number }];
  "task:requeued": [{ jobId: string; taskId: string; workerId: string | undefined; reason: string }];
  "task:progress": [{ jobId: string; taskId?: string; workerId: string; progress: number; message: string }];
  "task:completed": [TaskOutcome];
  "result:ignored": [{ workerId: string; jobId: string; taskId: string; reason: string }];
  "message:refused": [{ action: string; workerId: string | null; reason: string; message: string }];
}
