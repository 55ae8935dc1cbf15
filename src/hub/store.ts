/**
 * Where the hub keeps its state, as a set of atomic transitions.
 *
 * Every hub state change that must survive a crash is ONE call here (submit, claim, settle a
 * result, release, cancel, register, heartbeat, expire, sweep, consume a token, remember a
 * message): a process killed between any two lines of hub code leaves the store in a state some
 * sequence of whole transitions produced, so no task is orphaned and no result accepted twice.
 * The hub never reads a record, changes it and writes it back.
 *
 * Implementations: {@link MemoryStore} (embedded default, answers synchronously) and `RedisStore`
 * (`rxon/hub/redis`, one Lua script per transition, time from Redis). Both are checked by one
 * conformance suite. A store also carries {@link HubSignal}s between the hubs that share it, so a
 * task queued on one hub wakes a poll held by another, and a cancel reaches a worker connected to
 * another hub.
 *
 * Times are epoch milliseconds of the store's clock (`MemoryStore`: an injectable clock; Redis:
 * `TIME`), so hubs on machines whose clocks disagree still agree on leases and deadlines.
 */
import type { InstalledArtifact, Resources, SkillInfo, TaskError, WorkerCapabilities, WorkerRegistration } from "../../generated/types.js";

/** A value now or later. */
export type Awaitable<T> = T | Promise<T>;

/** What a task needs from the worker that runs it, besides the skill named by its type. */
export interface TaskRequirements {
  /** Devices (each consumes one distinct worker device) and generic properties (`cpu_cores`, `ram_gb`...). */
  resources?: Resources;
  /** Exact skill version the worker must offer. */
  skillVersion?: string;
  /** Exact skill type (category) the worker's skill must have. */
  skillType?: string;
  /** Artifacts that must be installed; a string is an artifact name in any version. */
  artifacts?: readonly (InstalledArtifact | string)[];
  /** Installed software by name: an exact version, or `"any"`. */
  software?: Readonly<Record<string, string>>;
  /** Exact values required in the worker's `capabilities.extra`. */
  extra?: Readonly<Record<string, unknown>>;
}

/** Lifecycle states of a submitted task (a subset of the protocol's job statuses). */
export type TaskState = "waiting_for_worker" | "running" | "finished" | "failed" | "cancelled";

/** True for the states a job never leaves. */
export function isTerminal(state: TaskState): boolean {
  return state === "finished" || state === "failed" || state === "cancelled";
}

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
  /**
   * Content key of what matching looks at (skills, resources, software, artifacts, capabilities):
   * workers with equal profiles are one class to dispatch, whatever the fleet's size.
   */
  profile?: string;
  /** Set by an operator (`hub.drainWorker`): no new work is dispatched to it. */
  drained?: boolean;
  registeredAt: number;
  lastSeenAt: number;
  /** Epoch ms after which the worker counts as gone. */
  expiresAt: number;
}

/** A trace context carried by a job (W3C trace context). */
export interface JobTrace {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** A job submitted by another job's handler through `POST /skills/call`. */
export interface JobParent {
  /** Job whose handler asked for this one. */
  readonly jobId: string;
  /** 1 for a child of a top-level job, 2 for a grandchild... */
  readonly depth: number;
  /** `parent_hash` sent to the worker. */
  readonly hash?: string;
}

/** A submitted task across its attempts (the protocol's job). */
export interface JobRecord {
  readonly jobId: string;
  /** Current attempt's task id: {@link taskIdOf}(jobId, generation). */
  taskId: string;
  /** Bumped whenever the task goes back to the queue, so late results of old attempts are stale. */
  generation: number;
  readonly type: string;
  /** Queue the job waits in: its skill and requirement class ({@link queueNameOf}). */
  readonly queue: string;
  readonly params: Record<string, unknown>;
  readonly requirements: TaskRequirements;
  readonly priority: number;
  /** Absolute deadline, epoch ms. */
  readonly deadline?: number;
  readonly maxRetries: number;
  readonly metadata?: Record<string, unknown>;
  /** Owner of the job: an id of the client credential that submitted it (never the secret). */
  readonly owner?: string;
  readonly idempotencyKey?: string;
  readonly trace?: JobTrace;
  readonly parent?: JobParent;
  /** Dispatches made so far. */
  attempts: number;
  state: TaskState;
  /** Worker holding the current attempt (lease), while running. */
  workerId?: string;
  /** Queue order among equal priorities (assigned by the store). */
  readonly seq: number;
  readonly submittedAt: number;
  dispatchedAt?: number;
  /** While running: since when the lease holder has not listed the task in its heartbeats. */
  leaseMissingSince?: number;
  finishedAt?: number;
  cancelRequestedAt?: number;
  /** Why the job ended in `failed`. */
  endReason?: "deadline" | "error" | "lost" | "rejected";
  status?: string;
  data?: Record<string, unknown>;
  error?: TaskError;
  resultWorkerId?: string;
  /** Task id of the result that ended the job or re-queued it last, with the answer it got. */
  settled?: { readonly taskId: string; readonly workerId: string; readonly transition: string; readonly fingerprint?: string };
  progress?: number;
}

/** A job as handed to {@link HubStore.submit}: the store assigns ids of attempts, order and times. */
export type NewJob = Omit<
  JobRecord,
  "taskId" | "generation" | "attempts" | "state" | "seq" | "submittedAt" | "workerId" | "dispatchedAt" | "finishedAt" | "cancelRequestedAt" | "status" | "data" | "error" | "resultWorkerId" | "settled" | "progress" | "endReason" | "leaseMissingSince"
>;

/** One queued task in a queue, in dispatch order. */
export interface QueueEntry {
  readonly jobId: string;
  readonly priority: number;
  readonly seq: number;
}

/** A queue of one skill and one requirement class. */
export interface QueueInfo {
  readonly name: string;
  readonly skill: string;
  readonly requirements: TaskRequirements;
  readonly length: number;
  /**
   * The first entries of the queue in dispatch order, read with the queue (what `peek(name, n)`
   * would have answered then), when `queuesOf` was asked for `n` of them and the store supports
   * it (a store whose reads are round trips does, so a caller can skip a `peek` of the head).
   */
  readonly head?: readonly QueueEntry[];
}

/** Answer of {@link HubStore.claimBest}. */
export type ClaimBestVerdict =
  /** The task claimed. */
  | { readonly kind: "claimed"; readonly job: JobRecord }
  /** No queue of the skills holds a task the worker can run. */
  | { readonly kind: "none" }
  /** A queue not named `runnable` or `skipped` holds tasks: nothing was claimed; these are the skills' queues holding tasks. */
  | { readonly kind: "look"; readonly queues: readonly QueueInfo[] };

/** Limits on queued (waiting) tasks; a submission past any of them is refused. */
export interface QueueLimits {
  /** Tasks waiting in all queues. */
  readonly total?: number;
  /** Tasks waiting for one skill. */
  readonly perSkill?: number;
  /** Tasks waiting that one owner submitted. */
  readonly perOwner?: number;
  /**
   * Requirement classes (queues) with tasks waiting for one skill: a submission that would open
   * one more is refused. A poll for the skill looks at its classes, so their number is what it
   * costs; requirements made unique per task (say, an id in `extra`) would make that cost grow
   * with the queue.
   */
  readonly classesPerSkill?: number;
}

/** Answer of {@link HubStore.submit}. */
export type SubmitVerdict =
  | { readonly kind: "created"; readonly job: JobRecord }
  /** The idempotency key was seen: the job it created (nothing new was queued). */
  | { readonly kind: "existing"; readonly job: JobRecord }
  | { readonly kind: "refused"; readonly scope: "total" | "skill" | "owner" | "classes"; readonly limit: number };

/** How a worker's result ends (or continues) a job; decided by the hub from the result. */
export interface Settlement {
  /** The protocol status to record (`success`, `failure`, `cancelled`, a custom status). */
  readonly status: string;
  readonly data?: Record<string, unknown>;
  readonly error?: TaskError;
  /** A transient failure: re-queue when retries remain and no cancel is pending. */
  readonly retry?: boolean;
  /** The `transition` answered to the worker when accepted. */
  readonly transition: string;
  /** Content hash of the result (status, data, error): a re-send with the same hash is a duplicate. */
  readonly fingerprint?: string;
  /**
   * A replay-memory entry ({@link HubStore.remember}'s key and lifetime) recorded by the same
   * transition, before anything else: when the key is already remembered nothing is applied and
   * the verdict is `replay`. A hub sharing its store thus refuses a message another hub has seen
   * without a round trip of its own before the settle. Passed only to stores that declare
   * {@link HubStore.settleRemembers}.
   */
  readonly remember?: ReplayEntry;
}

/** A replay-memory entry: {@link HubStore.remember}'s key and lifetime. */
export interface ReplayEntry {
  readonly key: string;
  readonly ttlMs: number;
}

/** Answer of {@link HubStore.settle}. */
export type SettleVerdict =
  /** Applied. `job` is the job after the transition (ended, or waiting again after a retry). */
  | { readonly kind: "accepted"; readonly job: JobRecord; readonly transition: string }
  /** A re-send (same task, worker and fingerprint) of the result that was applied: answer as the first time. */
  | { readonly kind: "duplicate"; readonly job: JobRecord; readonly transition: string }
  /** Not applied. `ended` is true when this call ended the job (its deadline had passed). */
  | { readonly kind: "ignored"; readonly reason: IgnoreReason; readonly job?: JobRecord; readonly ended?: boolean }
  /** The settlement's `remember` key was already remembered: nothing was applied or read. */
  | { readonly kind: "replay" };

/** Why a result was ignored (the protocol's `reason` values). */
export type IgnoreReason = "job_not_found" | "stale_task" | "job_cancelled" | "deadline_exceeded" | "job_already_terminated" | "worker_mismatch";

/** Answer of {@link HubStore.cancel}. */
export type CancelVerdict =
  /** It was queued: ended as cancelled. */
  | { readonly kind: "ended"; readonly job: JobRecord }
  /** It runs: the cancel is recorded; the worker must be told. */
  | { readonly kind: "requested"; readonly job: JobRecord }
  /** Already ended, or unknown (`job` undefined). */
  | { readonly kind: "none"; readonly job?: JobRecord };

/** What a heartbeat changes on the worker's record. */
export interface HeartbeatUpdate {
  readonly status: string;
  readonly usage?: unknown;
  readonly hotSkills?: string[];
  readonly availableSkills?: string[];
  /** A full skill list (and its hash): replaces the registered one. */
  readonly skills?: SkillInfo[];
  readonly skillsHash?: string;
  /**
   * Task ids and/or job ids the worker says it runs; undefined when the heartbeat did not say
   * (no lease is reconciled then).
   */
  readonly currentTasks?: readonly string[];
  /** New record lifetime from now, in ms. */
  readonly ttlMs: number;
  /** A lease whose task the worker has not listed for longer than this is re-queued, in ms. */
  readonly leaseGraceMs: number;
}

/** Answer of {@link HubStore.heartbeat} for a known worker. */
export interface HeartbeatVerdict {
  readonly worker: WorkerRecord;
  /** Entries of `currentTasks` (as the worker wrote them) the worker must stop, plus running tasks with a pending cancel. */
  readonly cancel: string[];
  /** Leases given up by reconciliation: re-queued, or ended when out of retries. */
  readonly released: JobRecord[];
}

/** Jobs a worker held when it went away. */
export interface WorkerGone {
  readonly workerId: string;
  /** Its leased jobs: re-queued, or ended when out of retries or cancelled. */
  readonly released: JobRecord[];
}

/** Answer of {@link HubStore.sweep}: jobs ended by time. */
export interface SweepResult {
  /** Ended as failed with TIMEOUT_ERROR (deadline passed); running ones must be told to stop. */
  readonly deadline: JobRecord[];
  /** Ended as cancelled because the worker ignored a cancel for longer than the grace. */
  readonly cancelled: JobRecord[];
  /** Ended jobs forgotten (retention). */
  readonly forgotten: number;
}

/** An STS token (stored by hash only). */
export interface TokenRecord {
  readonly kind: "access" | "refresh";
  readonly workerId: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** Something other hubs sharing the store must hear about. */
export type HubSignal =
  /** A task entered `queue` (submitted or re-queued). */
  | { readonly type: "queued"; readonly queue: string; readonly skill: string }
  /**
   * A job ended. `job`: the ended record when the store could send it along (small records;
   * a store may decode it only when read, so read it only when someone waits for this job);
   * absent: read it with `getJob`.
   */
  | { readonly type: "ended"; readonly jobId: string; readonly job?: JobRecord }
  /** A worker must be told to stop a task (sent over its WebSocket by the hub holding it). */
  | { readonly type: "cancel"; readonly workerId: string; readonly jobId: string; readonly taskId: string }
  /** A worker's record changed in a way that matters to polls held for it (re-registered, drained, gone). */
  | { readonly type: "worker"; readonly workerId: string }
  /**
   * Signals may have been lost (the store's signal connection dropped and is back): whatever waits
   * for a signal (a job's end, a queued task) must look at the store again. Delivered only to this
   * process's listeners, never published.
   */
  | { readonly type: "resync" };

/** The cursor of a {@link HubStore.listJobs} page that ends with `job`: its submission order, in decimal. */
export function jobCursor(job: Pick<JobRecord, "seq">): string {
  return String(job.seq);
}

/** The submission order a {@link jobCursor} names, or undefined for a string that is not a cursor. */
export function cursorSeq(cursor: string): number | undefined {
  if (!/^\d{1,16}$/.test(cursor)) return undefined;
  const seq = Number(cursor);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** Filter of {@link HubStore.listJobs}. */
export interface JobFilter {
  readonly state?: TaskState;
  readonly type?: string;
  readonly workerId?: string;
  readonly owner?: string;
}

/** Tunables every transition that ends or re-queues a job needs. */
export interface StorePolicy {
  /** How long ended jobs stay known, in ms. */
  readonly retentionMs: number;
  /** Most ended jobs kept; the oldest are forgotten first. */
  readonly maxRetained: number;
  /** How long a running task may ignore a cancel before it is ended as cancelled anyway, in ms. */
  readonly cancelGraceMs: number;
}

/** Storage of a hub: every method one atomic transition or one read. */
export interface HubStore {
  /**
   * True for a store held in this process, whose answers cost no round trip (`MemoryStore`):
   * hubs on it keep no copies of worker records and keep their replay memory themselves. Absent
   * or false: a store in another process, which several hubs may share.
   */
  readonly inProcess?: boolean;
  /**
   * True when {@link settle} honours `Settlement.remember` (records the key in the same atomic
   * step, answering `replay` when it was there). Absent or false: the hub records the entry with
   * {@link remember} before the settle, one round trip more, so a store written before
   * `Settlement.remember` existed keeps refusing replays across hubs.
   */
  readonly settleRemembers?: boolean;
  /** Sets the policy (called once by the hub before any other call). */
  configure(policy: StorePolicy): void;

  // ------------------------------------------------------------------ jobs

  /**
   * Records and queues a new job: assigns `seq`, `submittedAt`, `taskId` (generation 0); refuses
   * it past `limits`; answers the existing job when `job.idempotencyKey` was seen (scoped to its
   * owner) and that job is still retained. Publishes `queued`.
   *
   * `handTo` names a worker with a poll held by the calling hub that can run the job. When no
   * task waits in the job's queue (none would be passed over) and the worker is registered, the
   * job is claimed for it in the same step, as {@link claim} does (running, leased, attempt 1),
   * and nothing is queued or published. A store may ignore `handTo`: the hub then offers the
   * queued task to its held polls as usual.
   */
  submit(job: NewJob, limits: QueueLimits, handTo?: string): Awaitable<SubmitVerdict>;
  /**
   * Records a job that ends at once (refused at submission, e.g. params no contract accepts),
   * answering it ended; the idempotency key is remembered as for {@link submit}. Publishes `ended`.
   */
  reject(job: NewJob, error: TaskError): Awaitable<SubmitVerdict>;
  getJob(jobId: string): Awaitable<JobRecord | undefined>;
  /**
   * Jobs matching `filter`, newest first, at most `limit`, after the `cursor` of a previous page
   * (present while more may follow). A cursor is a position ({@link jobCursor}), not a job: it
   * stays valid when its job is forgotten. A cursor that is not one answers an empty page.
   */
  listJobs(filter: JobFilter, limit: number, cursor?: string): Awaitable<{ jobs: JobRecord[]; cursor?: string }>;

  /**
   * Queues of `skill` holding tasks, with their requirement class; with `head` > 0 a store may
   * add each queue's first `head` entries ({@link QueueInfo.head}), else callers `peek`.
   */
  queuesOf(skill: string, head?: number): Awaitable<readonly QueueInfo[]>;
  /** The first `limit` entries of a queue in dispatch order (priority descending, FIFO within). */
  peek(queue: string, limit: number): Awaitable<readonly QueueEntry[]>;
  /** Waiting tasks per skill. */
  queueDepths(): Awaitable<Record<string, number>>;
  /** Waiting tasks in all queues. */
  queueLength(): Awaitable<number>;
  /** Tasks running now (dispatched to a worker and not ended or given back), whichever hub dispatched them. */
  runningCount(): Awaitable<number>;

  /**
   * Claims for `workerId` the first of `jobIds` that is still waiting (removed from its queue,
   * `running`, leased to the worker, `attempts` + 1, `dispatchedAt` now); null when none is.
   * A worker the store does not know (forgotten by another hub between this hub's look at it and
   * the claim) is made due for expiry at once, by this and by {@link claimBest}: the next
   * {@link expireWorkers} gives its leases back unless it registers first.
   */
  claim(workerId: string, jobIds: readonly string[]): Awaitable<JobRecord | null>;
  /**
   * Claims for `workerId`, as {@link claim} does, the best waiting task (highest priority, then
   * oldest) at the heads of `runnable`, queues every task of which the worker can run. For this
   * to be the best task the worker can run at all, every queue of `skills` holding tasks must be
   * in `runnable` or in `skipped` (queues it can run nothing of); when another one holds tasks
   * (a queue the caller does not know, or one whose tasks must be checked one by one) nothing is
   * claimed and the answer is `look`, with the queues of `skills` holding tasks as
   * {@link queuesOf} answers them (`head` entries each, where the store adds heads): the caller
   * then chooses and uses {@link claim}.
   */
  claimBest(workerId: string, skills: readonly string[], runnable: readonly string[], skipped: readonly string[], head?: number): Awaitable<ClaimBestVerdict>;
  /**
   * Puts a claimed task back at once, not counted as an attempt (its poll answer could not be
   * written, or the client left): only while `taskId` is still the job's current task and running.
   * The job gets a new task id. Publishes `queued`. Answers the job as it now is, or undefined.
   */
  release(jobId: string, taskId: string): Awaitable<JobRecord | undefined>;
  /**
   * Applies a worker's result to its job, checking in one step that `taskId` is the current
   * attempt, the job is running on `workerId` and has not passed its deadline (which ends it).
   * A retry re-queues with a new task id while retries remain and no cancel is pending; past them
   * the job ends with the settlement's error. Publishes `ended` or `queued`.
   */
  settle(workerId: string, jobId: string, taskId: string, settlement: Settlement): Awaitable<SettleVerdict>;
  /** Records progress of a running task of `workerId`; false when the task is not its current one. */
  progress(workerId: string, jobId: string, taskId: string | undefined, progress: number): Awaitable<boolean>;
  /**
   * Cancels: a waiting job ends at once; a running one gets `cancelRequestedAt` (a `cancel`
   * signal is published for its worker). `owner`, when given, must match the job's owner.
   */
  cancel(jobId: string, owner?: string): Awaitable<CancelVerdict>;
  /**
   * One pass over what is due: deadlines passed, cancels ignored past the grace, ended jobs past
   * retention; at most `limit` of each. Cost follows what is due, not what is stored.
   */
  sweep(limit: number): Awaitable<SweepResult>;

  // ------------------------------------------------------------------ workers

  /**
   * Registers or re-registers a worker (its `registeredAt` kept when known). Leases it already
   * holds are kept but marked unconfirmed from now: a heartbeat that does not list them within
   * the grace gives them up. With `keepLeases` (a live worker whose skills changed in a heartbeat,
   * not one that may have restarted) they are left as they are. `contracts` are the skill
   * contracts it brings (for the submit-time params check across the fleet), keyed by a content
   * hash. Publishes `worker`.
   */
  register(worker: WorkerRecord, contracts: readonly SkillContract[], options?: { readonly keepLeases?: boolean }): Awaitable<{ previous?: WorkerRecord }>;
  /**
   * Applies a heartbeat: status, usage, skills, TTL; reconciles leases against `currentTasks`.
   * Undefined when the worker is unknown (never registered, expired, or the hub lost its state).
   */
  heartbeat(workerId: string, update: HeartbeatUpdate): Awaitable<HeartbeatVerdict | undefined>;
  /** Extends a known worker's lifetime by `ttlMs` from now; false when it is unknown. */
  touch(workerId: string, ttlMs: number): Awaitable<boolean>;
  /** Marks a worker drained (no new work) or not; false when unknown. Publishes `worker`. */
  drain(workerId: string, drained: boolean): Awaitable<boolean>;
  /** Forgets a worker now (it said it goes offline) and releases its leases. Undefined when unknown. */
  removeWorker(workerId: string): Awaitable<WorkerGone | undefined>;
  /**
   * Forgets workers whose lifetime has ended (at most `limit`) and releases their leases.
   *
   * With `pauseMs`, the calls also keep time: more than `pauseMs` since the previous call (with a
   * `pauseMs`) is a pause in which no hub swept, because the store or every hub was away, and with
   * it every worker's way to be heard. A worker whose lifetime ended by the end of such a pause and
   * that has not been heard from since gets its lifetime (`expiresAt - lastSeenAt`) once more,
   * counted from the pause's end, instead of being dropped with its tasks while it works.
   */
  expireWorkers(limit: number, pauseMs?: number): Awaitable<WorkerGone[]>;
  getWorker(workerId: string): Awaitable<WorkerRecord | undefined>;
  /** Workers in id order, at most `limit`, after `cursor` (a worker id). */
  listWorkers(limit?: number, cursor?: string): Awaitable<readonly WorkerRecord[]>;
  countWorkers(): Awaitable<number>;
  /** Distinct contracts of a skill ever registered (a superset of the live fleet's). */
  contractsOf(skill: string): Awaitable<readonly SkillInfo[]>;

  // ------------------------------------------------------------------ tokens and replay memory

  putToken(hash: string, token: TokenRecord): Awaitable<void>;
  /** A live (unexpired) token. */
  getToken(hash: string): Awaitable<TokenRecord | undefined>;
  /** Takes a live token out (single use): only one caller gets it. */
  consumeToken(hash: string): Awaitable<TokenRecord | undefined>;
  /** Remembers `key` for `ttlMs`; true only for the first caller (replay refusal across hubs). */
  remember(key: string, ttlMs: number): Awaitable<boolean>;

  // ------------------------------------------------------------------ signals and lifecycle

  /** Hears signals published by any hub sharing this store (this one included). */
  subscribe(listener: (signal: HubSignal) => void): () => void;
  /** Publishes a signal to every hub sharing the store. */
  publish(signal: HubSignal): Awaitable<void>;
  /** Current time of the store's clock, epoch ms. */
  now(): Awaitable<number>;
  /** Throws when the store cannot be reached (readiness). */
  ping(): Awaitable<void>;
  /**
   * Settings of the store's server that can lose the hub's state without any failure of its own
   * (a Redis that may evict keys when it is full), each as a sentence an operator can act on.
   * The hub logs each at warn level once it starts. Optional: a store without such settings
   * leaves it out.
   */
  settingsWarnings?(): Promise<readonly string[]>;
  /** Releases connections. The store's data stays (where it is durable). */
  close(): Awaitable<void>;
}

/** A skill contract keyed by content, as passed to {@link HubStore.register}. */
export interface SkillContract {
  readonly skill: string;
  readonly key: string;
  readonly info: SkillInfo;
}

/** Task id of a job's attempt generation: the job id is recoverable from it ({@link jobIdOfTask}). */
export function taskIdOf(jobId: string, generation: number): string {
  return `${jobId}_${generation}`;
}

/** Job id of a task id made by {@link taskIdOf}; undefined for other task ids. */
export function jobIdOfTask(taskId: string): string | undefined {
  const at = taskId.lastIndexOf("_");
  if (at <= 0 || at === taskId.length - 1) return undefined;
  for (let i = at + 1; i < taskId.length; i++) {
    const c = taskId.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return taskId.slice(0, at);
}
