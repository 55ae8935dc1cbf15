/**
 * Where the hub keeps its state. Dispatch logic lives in the hub and talks to this interface only,
 * so a distributed backend (Redis, SQL...) can replace the in-memory default without touching it.
 * Every method may answer synchronously or with a promise; the hub awaits both.
 *
 * The one operation that must be atomic in a shared backend is {@link HubStore.removeFromQueue}:
 * it is how a dispatcher claims a task, and only one caller may get `true` for a given entry.
 */
import type { HardwareDevice, Resources, SkillInfo, TaskError, InstalledArtifact, WorkerCapabilities, WorkerRegistration } from "../../generated/types.js";
import type { TaskRequirements, TaskState } from "./types.js";

/** A value now or later. */
export type Awaitable<T> = T | Promise<T>;

/** What the hub knows about a registered worker. */
export interface WorkerRecord {
  readonly id: string;
  /** Last reported status (`idle`, `busy`, `draining`...). */
  status: string;
  workerType: string;
  skills: SkillInfo[];
  skillsHash?: string;
  resources?: Resources;
  installedSoftware?: WorkerRegistration["installed_software"];
  installedArtifacts?: InstalledArtifact[];
  capabilities?: WorkerCapabilities;
  hotSkills?: string[];
  availableSkills?: string[];
  /** Device usage etc. from the last heartbeat that carried it. */
  usage?: unknown;
  registeredAt: number;
  lastSeenAt: number;
  /** Epoch ms after which the worker counts as gone. */
  expiresAt: number;
}

/** A submitted task across its attempts (the protocol's job). */
export interface JobRecord {
  readonly jobId: string;
  /** Current attempt's task id. */
  taskId: string;
  readonly type: string;
  readonly params: Record<string, unknown>;
  readonly requirements: TaskRequirements;
  readonly priority: number;
  /** Absolute deadline, epoch ms. */
  readonly deadline?: number;
  readonly maxRetries: number;
  readonly metadata?: Record<string, unknown>;
  /** Dispatches made so far. */
  attempts: number;
  state: TaskState;
  /** Worker holding the current attempt (lease), while running. */
  workerId?: string;
  /** Queue order among equal priorities. */
  readonly seq: number;
  readonly submittedAt: number;
  dispatchedAt?: number;
  finishedAt?: number;
  cancelRequestedAt?: number;
  /** Why the job ended in `failed` (for `deadline_exceeded` answers). */
  endReason?: "deadline" | "error" | "lost";
  status?: string;
  data?: Record<string, unknown>;
  error?: TaskError;
  resultWorkerId?: string;
  progress?: number;
}

/** One queued task in a per-skill queue. */
export interface QueueEntry {
  readonly jobId: string;
  readonly priority: number;
  readonly seq: number;
}

/** An STS token (stored by hash only). */
export interface TokenRecord {
  readonly kind: "access" | "refresh";
  readonly workerId: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** Storage of a hub: workers, jobs, per-skill queues, leases and STS tokens. */
export interface HubStore {
  getWorker(id: string): Awaitable<WorkerRecord | undefined>;
  putWorker(worker: WorkerRecord): Awaitable<void>;
  deleteWorker(id: string): Awaitable<boolean>;
  listWorkers(): Awaitable<readonly WorkerRecord[]>;
  countWorkers(): Awaitable<number>;

  getJob(jobId: string): Awaitable<JobRecord | undefined>;
  putJob(job: JobRecord): Awaitable<void>;
  deleteJob(jobId: string): Awaitable<void>;
  /** Job of any task id the job ever had (current or earlier attempt). */
  jobIdOfTask(taskId: string): Awaitable<string | undefined>;
  /** Records that `taskId` belongs to `jobId`. */
  indexTask(taskId: string, jobId: string): Awaitable<void>;
  /** Jobs not yet ended (for deadline sweeps). */
  listOpenJobs(): Awaitable<readonly JobRecord[]>;

  /** Adds a task to the queue of its skill. */
  enqueue(queue: string, entry: QueueEntry): Awaitable<void>;
  /** The first `limit` entries in dispatch order (priority descending, FIFO within a priority). */
  peekQueue(queue: string, limit: number): Awaitable<readonly QueueEntry[]>;
  /** Removes an entry; true only for the one caller that removed it (the atomic claim). */
  removeFromQueue(queue: string, jobId: string): Awaitable<boolean>;
  queueLength(queue?: string): Awaitable<number>;

  /** Leases: jobs running on a worker. */
  addLease(workerId: string, jobId: string): Awaitable<void>;
  removeLease(workerId: string, jobId: string): Awaitable<void>;
  leasesOf(workerId: string): Awaitable<readonly string[]>;

  putToken(hash: string, token: TokenRecord): Awaitable<void>;
  getToken(hash: string): Awaitable<TokenRecord | undefined>;
  deleteToken(hash: string): Awaitable<void>;
  /** Drops expired tokens. */
  purgeTokens(now: number): Awaitable<void>;
}

/** Devices of a worker, for convenience in matching. */
export type WorkerDevices = readonly HardwareDevice[];
