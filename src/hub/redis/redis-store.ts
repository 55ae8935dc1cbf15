/**
 * A {@link HubStore} on Redis 7 (or Valkey): every transition is one Lua script run with EVALSHA
 * (cached through ioredis `defineCommand`), its time taken from Redis `TIME`, so several hubs on
 * machines whose clocks disagree share one fleet, one queue and one set of leases. Signals travel
 * over Redis pub/sub on a channel under the prefix.
 */
import { Redis, ReplyError, type Cluster, type RedisOptions } from "ioredis";
import { UnavailableError } from "../../errors.js";
import type { TaskError } from "../../../generated/types.js";
import type {
  CancelVerdict,
  ClaimBestVerdict,
  HeartbeatUpdate,
  HeartbeatVerdict,
  HubSignal,
  HubStore,
  JobFilter,
  JobRecord,
  NewJob,
  QueueEntry,
  QueueInfo,
  QueueLimits,
  Settlement,
  SettleVerdict,
  SkillContract,
  StorePolicy,
  SubmitVerdict,
  SweepResult,
  TokenRecord,
  WorkerGone,
  WorkerRecord,
} from "../store.js";
import { cursorSeq, isTerminal, jobCursor } from "../store.js";
import type { SkillInfo } from "../../../generated/types.js";
import { decodeJob, decodeJobFields, decodeQueueEntry, decodeWorker, decodeWorkerHash, encodeWorker, jobArgs, jobFields, opt, type JobFields } from "./codec.js";
import { CANCEL, CLAIM, CLAIM_BEST, LIST_JOBS, PROGRESS, QUEUES_OF, REJECT, RELEASE, SETTLE, SUBMIT, SWEEP } from "./scripts/jobs.js";
import { DRAIN, EXPIRE_WORKERS, HEARTBEAT, PUT_TOKEN, REGISTER, REMOVE_WORKER, TOUCH } from "./scripts/workers.js";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** `redis://[user:pass@]host:port/db` (or `rediss://`); used when `redis` is not given. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * An ioredis client to use instead of connecting to `url`: a `Redis`, or a `Cluster` (all keys
   * share one hash tag, so one slot). It stays the caller's: `close()` does not quit it. The store
   * defines its scripts on it (commands named `rxon*`).
   */
  redis?: Redis | Cluster;
  /** Key prefix: every key is `{prefix}:...` (one hash tag, so one cluster slot). Default `rxon`. */
  prefix?: string;
  /** How long `ping()` waits before it reports the store unreachable, in ms. Default 1000. */
  pingTimeoutMs?: number;
  /**
   * How long a command of the client the store creates from `url` may wait for its answer, in ms,
   * queued while Redis is unreachable included (ioredis `commandTimeout`; `redisOptions` may set
   * it instead). When it runs out, or the client gives up on a connection, the operation fails
   * with an {@link UnavailableError}, which the hub answers 503 with `Retry-After`: a Redis outage
   * makes requests fail within this bound instead of hanging. A command that timed out while
   * queued for a reconnect is dropped, never sent; one that timed out after it was sent may still
   * have been applied. Every transition is safe to retry (results are answered as re-sends,
   * submissions with an idempotency key find their job). Default 5000.
   */
  commandTimeoutMs?: number;
  /**
   * Options for the client the store creates from `url`, over the store's own: `commandTimeout`
   * (from `commandTimeoutMs`) and `autoResendUnfulfilledCommands: false` (a command in flight when
   * the connection drops fails instead of running again on the next one).
   */
  redisOptions?: RedisOptions;
  /**
   * Send the commands the store issues in one pass of the event loop (the callbacks of every
   * socket ready at once, and the promise callbacks after them) in one socket write, by corking a
   * single (non-cluster) connection until the pass's check phase. Nothing waits longer than the
   * rest of that pass. Default true.
   */
  batchWrites?: boolean;
}

const DEFAULT_POLICY: StorePolicy = { retentionMs: 600_000, maxRetained: 100_000, cancelGraceMs: 30_000 };

/** Most entries of each queue's head `queuesOf` answers with the queue (`QueueInfo.head`); more are a `peek`. */
const MAX_QUEUE_HEAD = 1000;

/** Jobs a `listJobs` script looks at per call (bounds each script's run time). */
const LIST_SCAN = 500;

const SCRIPTS = {
  rxonSubmit: SUBMIT,
  rxonReject: REJECT,
  rxonClaim: CLAIM,
  rxonClaimBest: CLAIM_BEST,
  rxonRelease: RELEASE,
  rxonSettle: SETTLE,
  rxonProgress: PROGRESS,
  rxonCancel: CANCEL,
  rxonSweep: SWEEP,
  rxonListJobs: LIST_JOBS,
  rxonQueuesOf: QUEUES_OF,
  rxonRegister: REGISTER,
  rxonHeartbeat: HEARTBEAT,
  rxonTouch: TOUCH,
  rxonDrain: DRAIN,
  rxonRemoveWorker: REMOVE_WORKER,
  rxonExpireWorkers: EXPIRE_WORKERS,
  rxonPutToken: PUT_TOKEN,
  // TIME of the node that holds the keys (a keyless TIME could reach another cluster node).
  rxonTime: "return redis.call('TIME')",
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Flat = string[];
type SignalListener = (signal: HubSignal) => void;

const SIGNAL_TYPES = new Set(["queued", "ended", "cancel", "worker"]);

/** Most entries of an ended signal's `rec` (a job hash has six fields; more is not a job). */
const MAX_REC_ENTRIES = 32;

/** True for what `finish` sends as `rec`: a flat HGETALL list, field and value strings in pairs. */
function isRecordList(v: unknown): v is string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length % 2 !== 0 || v.length > MAX_REC_ENTRIES) return false;
  for (const x of v) if (typeof x !== "string") return false;
  return true;
}

/**
 * An `ended` signal that carries the job's hash. Every hub hears every signal while usually none
 * waits for that job, so the record is decoded only when `job` is first read, then kept.
 */
class EndedSignal {
  readonly type = "ended";
  readonly jobId: string;
  #rec: string[] | undefined;
  #job: JobRecord | undefined;

  constructor(jobId: string, rec: string[]) {
    this.jobId = jobId;
    this.#rec = rec;
  }

  /** The ended record; undefined when the carried hash does not decode to this job's ended record. */
  get job(): JobRecord | undefined {
    const rec = this.#rec;
    if (rec !== undefined) {
      this.#rec = undefined;
      try {
        // jobFields keeps the known field names only, so nothing from the message names a property.
        const job = decodeJobFields(jobFields(rec));
        if (job !== undefined && job.jobId === this.jobId && isTerminal(job.state)) this.#job = job;
      } catch {
        // Not a record this store wrote: the reader falls back to getJob.
      }
    }
    return this.#job;
  }
}

/** A signal as published by a script or a hub, checked field by field (anything else is dropped). */
function parseSignal(message: string): HubSignal | undefined {
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.type !== "string" || !SIGNAL_TYPES.has(o.type)) return undefined;
  const str = (k: string): boolean => typeof o[k] === "string";
  switch (o.type) {
    case "queued":
      return str("queue") && str("skill") ? { type: "queued", queue: o.queue as string, skill: o.skill as string } : undefined;
    case "ended":
      if (!str("jobId")) return undefined;
      return isRecordList(o.rec) ? new EndedSignal(o.jobId as string, o.rec) : { type: "ended", jobId: o.jobId as string };
    case "cancel":
      return str("workerId") && str("jobId") && str("taskId")
        ? { type: "cancel", workerId: o.workerId as string, jobId: o.jobId as string, taskId: o.taskId as string }
        : undefined;
    default:
      return str("workerId") ? { type: "worker", workerId: o.workerId as string } : undefined;
  }
}

/** A queue as QUEUES_OF and CLAIM_BEST answer it: name, skill, length, requirements JSON, head (member, score, ...). */
function queueInfo(name: string, skill: string, length: number, requirements: string, flat: readonly string[], head: number): QueueInfo {
  const info = { name, skill, requirements: JSON.parse(requirements) as QueueInfo["requirements"], length: Number(length) };
  if (head === 0) return info;
  const entries: QueueEntry[] = [];
  for (let k = 0; k + 1 < flat.length; k += 2) entries.push(decodeQueueEntry(flat[k]!, flat[k + 1]!));
  return { ...info, head: entries };
}

/**
 * Refuses a number a script would write or compare (NaN or an infinity would fail inside a script
 * after some of its writes, or be stored as text no reader can parse).
 */
function finite(name: string, v: number): number {
  if (!Number.isFinite(v)) throw new TypeError(`RedisStore: ${name} must be a finite number, got ${v}`);
  return v;
}

/**
 * Redis replies that say it cannot serve now, not that a command is wrong: loading, failing over,
 * busy, or refusing writes (`OOM`: at `maxmemory`; `MISCONF`: it cannot save to disk). A script
 * refused for `OOM` has written nothing: Redis refuses it at its first write, never after one.
 */
const NOT_NOW = /^(LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM|MISCONF)\b/;

/**
 * Whether a failed command may succeed later with nothing changed: Redis could not be reached or
 * cannot serve for now (connection lost or refused, timed out, retries spent, a `NOT_NOW` reply),
 * not a reply refusing the command (a script's error, a wrong password).
 */
export function storeNotNow(err: unknown): boolean {
  if (err instanceof StoreLayoutError) return false;
  return !(err instanceof ReplyError) || NOT_NOW.test(String((err as Error).message));
}

/**
 * The layout of the keys this version reads and writes, kept in `{prefix}:layout`. A version that
 * changes what its keys hold changes it, so hubs of two versions never share a prefix unawares:
 * the second one's `ping()` fails instead of misreading the first one's jobs.
 */
export const STORE_LAYOUT = "2";

/** A prefix holds the keys of another store layout (see {@link STORE_LAYOUT}); waiting will not help. */
export class StoreLayoutError extends Error {
  override readonly name = "StoreLayoutError";
}

/**
 * Rethrows a failed command's error: as an {@link UnavailableError} when {@link storeNotNow}, as
 * it came otherwise (a script's error is a defect, answered 500). Either way
 * without the command's arguments, which ioredis attaches to the error and which hold task params,
 * results and worker records: an error is logged, and a log must not carry them.
 */
function unreachable(err: unknown): never {
  const command = (err as { command?: { name?: unknown } } | null)?.command;
  if (command !== undefined && command !== null) (err as { command: unknown }).command = { name: command.name };
  if (!storeNotNow(err)) throw err;
  throw new UnavailableError("The hub's store is unavailable; try again later", { cause: err, details: { reason: "store_unavailable" } });
}

/** An entry of ioredis's queue of commands waiting for a connection (not part of its typed API). */
interface Queued {
  readonly command?: { readonly isSettled?: boolean };
}

/**
 * Removes the commands already settled (timed out) from `client`'s offline queue, if the client
 * has one of the shape ioredis 5–6 uses; anything else is left alone.
 */
function dropSettled(client: Redis): void {
  const queue = (client as unknown as { offlineQueue?: { length: number; toArray?: () => Queued[]; clear?: () => void; push: (q: Queued) => void } }).offlineQueue;
  if (queue === undefined || queue.length === 0 || typeof queue.toArray !== "function" || typeof queue.clear !== "function") return;
  const all = queue.toArray();
  const waiting = all.filter((q) => q.command?.isSettled !== true);
  if (waiting.length === all.length) return;
  queue.clear();
  for (const q of waiting) queue.push(q);
}

/** {@link HubStore} on Redis through ioredis. Several hubs may share one Redis and one prefix. */
export class RedisStore implements HubStore {
  /** The settle script records `Settlement.remember` itself (see {@link HubStore.settleRemembers}). */
  readonly settleRemembers: boolean = true;
  /** The main connection (scripts and reads). */
  readonly redis: Redis | Cluster;
  /** The same, typed by the command surface both client kinds share. */
  readonly #r: Redis;
  /** Key prefix in use (without braces). */
  readonly prefix: string;
  readonly #base: string;
  readonly #channel: string;
  readonly #owned: boolean;
  readonly #pingTimeoutMs: number;
  #policy: StorePolicy = DEFAULT_POLICY;
  #sub: Redis | Cluster | undefined;
  #subscribed: Promise<unknown> | undefined;
  readonly #listeners = new Set<SignalListener>();
  #closed = false;
  /** The store's own client's last failed connection attempt since it was last ready (for `ping()`'s error). */
  #connectionError: Error | undefined;
  /** `{prefix}:layout` was found (or made) to be {@link STORE_LAYOUT}; later pings only PING. */
  #layoutChecked = false;
  readonly #batchWrites: boolean;
  /** The socket corked in this pass of the event loop, uncorked in its check phase. */
  #corked: { uncork(): void } | undefined;

  constructor(options: RedisStoreOptions = {}) {
    const prefix = options.prefix ?? "rxon";
    if (prefix.length === 0 || /[{}]/.test(prefix)) throw new TypeError("RedisStore prefix must be non-empty and hold no braces");
    this.prefix = prefix;
    this.#base = `{${prefix}}:`;
    this.#channel = `${this.#base}signals`;
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 1000;
    this.#batchWrites = options.batchWrites ?? true;
    if (options.redis !== undefined) {
      this.redis = options.redis;
      this.#owned = false;
    } else {
      // No ioredis auto-pipelining: its batches wait for setImmediate and build a pipeline each,
      // which cost the hub more CPU than it saved here; see batchWrites for the batching used.
      // Commands in flight when a connection drops are failed, not sent again on the next one: Redis
      // may have run them already, and a transition run twice (a claim) is not the same as once.
      const client = new Redis(options.url ?? "redis://127.0.0.1:6379", {
        commandTimeout: options.commandTimeoutMs ?? 5000,
        autoResendUnfulfilledCommands: false,
        ...options.redisOptions,
      });
      // Connection errors surface as failed commands (and a failing ping(), which names the last
      // one: a TLS or network error is otherwise only a timeout); ioredis reconnects.
      client.on("error", (err: Error) => (this.#connectionError = err));
      client.on("ready", () => (this.#connectionError = undefined));
      // A command that timed out while queued for the reconnect was answered 503, as not applied:
      // drop it before ioredis sends its queue on the new connection (after "connect", before ready).
      client.on("connect", () => dropSettled(client));
      this.redis = client;
      this.#owned = true;
    }
    this.#r = this.redis as Redis;
    // ioredis would prefix keys but not the signal channel the scripts publish on: use `prefix`.
    const keyPrefix = (this.redis as { options?: { keyPrefix?: string; redisOptions?: { keyPrefix?: string } } }).options;
    if ((keyPrefix?.keyPrefix ?? keyPrefix?.redisOptions?.keyPrefix ?? "") !== "") {
      if (this.#owned) this.#r.disconnect();
      throw new TypeError("RedisStore: an ioredis client with keyPrefix is not supported; use the store's prefix option");
    }
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      this.redis.defineCommand(name, { lua, numberOfKeys: 1, ...(name === "rxonListJobs" || name === "rxonQueuesOf" ? { readOnly: true } : {}) });
    }
  }

  /** Connects to `url` and answers once Redis answers a PING. */
  static async connect(url: string, options: Omit<RedisStoreOptions, "url" | "redis"> = {}): Promise<RedisStore> {
    const store = new RedisStore({ ...options, url });
    try {
      await store.ping();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  configure(policy: StorePolicy): void {
    finite("cancelGraceMs", policy.cancelGraceMs);
    if (Number.isNaN(policy.retentionMs) || Number.isNaN(policy.maxRetained)) throw new TypeError("RedisStore: retentionMs and maxRetained must be numbers");
    this.#policy = policy;
  }

  #run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const fn = (this.#c as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!;
    return fn.call(this.redis, this.#base, ...args).catch(unreachable);
  }

  /**
   * The connection, corked until the event loop's check phase when write batching is on: each
   * command would otherwise be a socket write of its own, which costs the hub and Redis more than
   * building and reading it. The uncork runs from `setImmediate`, after the callbacks of every
   * socket that was ready in this pass of the loop (requests of many tasks, replies of many
   * commands), so their commands leave in one write; the loop does not wait for I/O while an
   * immediate is pending, so a command waits at most for the rest of the current pass.
   */
  get #c(): Redis {
    if (this.#batchWrites && this.#corked === undefined) {
      const r = this.#r as Redis & { isCluster?: boolean };
      const stream = r.isCluster === true ? undefined : r.stream;
      if (stream !== undefined && stream !== null && typeof stream.cork === "function" && !stream.destroyed) {
        stream.cork();
        this.#corked = stream;
        setImmediate(this.#uncork);
      }
    }
    return this.#r;
  }

  readonly #uncork = (): void => {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork();
  };

  #key(suffix: string): string {
    return this.#base + suffix;
  }

  // ------------------------------------------------------------------ jobs

  async submit(job: NewJob, limits: QueueLimits, handTo?: string): Promise<SubmitVerdict> {
    const r = (await this.#run("rxonSubmit", ...jobArgs(job), opt(limits.total), opt(limits.perSkill), opt(limits.perOwner), opt(limits.classesPerSkill), opt(handTo))) as [string, ...unknown[]];
    if (r[0] === "refused") return { kind: "refused", scope: r[1] as "total" | "skill" | "owner" | "classes", limit: Number(r[2]) };
    return { kind: r[0] as "created" | "existing", job: decodeJob(r[1] as Flat) };
  }

  async reject(job: NewJob, error: TaskError): Promise<SubmitVerdict> {
    const r = (await this.#run("rxonReject", ...jobArgs(job), JSON.stringify(error))) as [string, Flat];
    return { kind: r[0] as "created" | "existing", job: decodeJob(r[1]) };
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    return decodeJobFields((await this.#c.hgetall(this.#key(`j:${jobId}`)).catch(unreachable)) as JobFields);
  }

  async listJobs(filter: JobFilter, limit: number, cursor?: string): Promise<{ jobs: JobRecord[]; cursor?: string }> {
    // A worker's running jobs are its lease set: read those, not every job ever retained.
    if (filter.workerId !== undefined && filter.state === "running") return this.#listLeased(filter, filter.workerId, limit, cursor);
    let start = "+inf";
    if (cursor !== undefined) {
      const seq = cursorSeq(cursor);
      if (seq === undefined) return { jobs: [] };
      start = `(${seq}`;
    }
    const jobs: JobRecord[] = [];
    if (limit <= 0) return { jobs };
    for (;;) {
      const r = (await this.#run(
        "rxonListJobs",
        start,
        LIST_SCAN,
        limit - jobs.length,
        opt(filter.state),
        opt(filter.type),
        opt(filter.workerId),
        opt(filter.owner),
      )) as [number, string, ...Flat[]];
      for (let i = 2; i < r.length; i++) jobs.push(decodeJob(r[i] as Flat));
      const more = Number(r[0]) === 1;
      if (!more) return { jobs };
      if (jobs.length >= limit) return { jobs, cursor: jobCursor(jobs[jobs.length - 1]!) };
      start = `(${r[1]}`;
    }
  }

  /** {@link listJobs} of one worker's running jobs, from its lease set (newest first, paged by seq). */
  async #listLeased(filter: JobFilter, workerId: string, limit: number, cursor?: string): Promise<{ jobs: JobRecord[]; cursor?: string }> {
    let below = Infinity;
    if (cursor !== undefined) {
      const seq = cursorSeq(cursor);
      if (seq === undefined) return { jobs: [] };
      below = seq;
    }
    if (limit <= 0) return { jobs: [] };
    const ids = await this.#c.smembers(this.#key(`l:${workerId}`)).catch(unreachable);
    if (ids.length === 0) return { jobs: [] };
    const all: JobRecord[] = [];
    for (const value of await this.#hashes("j:", ids)) {
      const j = decodeJobFields(value as JobFields);
      if (j === undefined || j.state !== "running" || j.workerId !== workerId || j.seq >= below) continue;
      if ((filter.type !== undefined && j.type !== filter.type) || (filter.owner !== undefined && j.owner !== filter.owner)) continue;
      all.push(j);
    }
    all.sort((x, y) => y.seq - x.seq);
    const jobs = all.slice(0, limit);
    return all.length > limit ? { jobs, cursor: jobCursor(jobs[jobs.length - 1]!) } : { jobs };
  }

  async queuesOf(skill: string, head = 0): Promise<readonly QueueInfo[]> {
    const n = Number.isInteger(head) && head > 0 ? Math.min(head, MAX_QUEUE_HEAD) : 0;
    const r = (await this.#run("rxonQueuesOf", skill, n)) as (string | number | string[])[];
    const out: QueueInfo[] = [];
    for (let i = 0; i + 3 < r.length; i += 4) out.push(queueInfo(String(r[i]), skill, r[i + 1] as number, String(r[i + 2]), r[i + 3] as string[], n));
    return out;
  }

  async peek(queue: string, limit: number): Promise<readonly QueueEntry[]> {
    if (limit <= 0) return [];
    const r = await this.#c.zrange(this.#key(`q:${queue}`), 0, limit - 1, "WITHSCORES").catch(unreachable);
    const out: QueueEntry[] = [];
    for (let i = 0; i + 1 < r.length; i += 2) out.push(decodeQueueEntry(r[i]!, r[i + 1]!));
    return out;
  }

  async queueDepths(): Promise<Record<string, number>> {
    const r = await this.#c.hgetall(this.#key("ws")).catch(unreachable);
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(r)) {
      const n = Number(v);
      if (n > 0) Object.defineProperty(out, k, { value: n, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  async queueLength(): Promise<number> {
    return Number((await this.#c.get(this.#key("wt")).catch(unreachable)) ?? 0);
  }

  /** The hashes `{kind}{id}` of `ids`, in one pipeline. */
  async #hashes(kind: "j:" | "w:", ids: readonly string[]): Promise<Record<string, string>[]> {
    const p = this.#c.pipeline();
    for (const id of ids) p.hgetall(this.#key(`${kind}${id}`));
    const res = (await p.exec().catch(unreachable)) ?? [];
    return res.map(([err, value]) => {
      if (err !== null) unreachable(err);
      return value as Record<string, string>;
    });
  }

  async runningCount(): Promise<number> {
    return this.#c.scard(this.#key("run")).catch(unreachable);
  }

  async claim(workerId: string, jobIds: readonly string[]): Promise<JobRecord | null> {
    if (jobIds.length === 0) return null;
    const r = (await this.#run("rxonClaim", workerId, ...jobIds)) as Flat | null;
    return r === null ? null : decodeJob(r);
  }

  async claimBest(workerId: string, skills: readonly string[], runnable: readonly string[], skipped: readonly string[], head = 0): Promise<ClaimBestVerdict> {
    if (skills.length === 0) return { kind: "none" };
    const n = Number.isInteger(head) && head > 0 ? Math.min(head, MAX_QUEUE_HEAD) : 0;
    const marked = [...runnable.map((q) => `+${q}`), ...skipped.map((q) => `-${q}`)];
    const r = (await this.#run("rxonClaimBest", workerId, n, skills.length, ...skills, ...marked)) as (string | number | string[])[];
    if (r[0] === "claimed") return { kind: "claimed", job: decodeJob(r[1] as Flat) };
    if (r[0] === "none") return { kind: "none" };
    const queues: QueueInfo[] = [];
    for (let i = 1; i + 4 < r.length; i += 5) queues.push(queueInfo(String(r[i]), String(r[i + 1]), r[i + 2] as number, String(r[i + 3]), r[i + 4] as string[], n));
    return { kind: "look", queues };
  }

  async release(jobId: string, taskId: string): Promise<JobRecord | undefined> {
    const r = (await this.#run("rxonRelease", jobId, taskId)) as Flat | null;
    return r === null ? undefined : decodeJob(r);
  }

  async settle(workerId: string, jobId: string, taskId: string, s: Settlement): Promise<SettleVerdict> {
    const r = (await this.#run(
      "rxonSettle",
      workerId,
      jobId,
      taskId,
      s.status,
      s.data === undefined ? "" : `+${JSON.stringify(s.data)}`,
      s.error === undefined ? "" : `+${JSON.stringify(s.error)}`,
      s.retry === true ? "1" : "0",
      s.transition,
      opt(s.fingerprint),
      opt(s.remember?.key),
      s.remember === undefined ? 0 : Math.max(1, Math.ceil(finite("ttlMs", s.remember.ttlMs))),
    )) as [string, string, Flat?, number?];
    if (r[0] === "replay") return { kind: "replay" };
    const job = r[2] === undefined ? undefined : decodeJob(r[2]);
    if (r[0] === "ignored") {
      if (job === undefined) return { kind: "ignored", reason: r[1] as never };
      return Number(r[3]) === 1 ? { kind: "ignored", reason: r[1] as never, job, ended: true } : { kind: "ignored", reason: r[1] as never, job };
    }
    return { kind: r[0] as "accepted" | "duplicate", job: job!, transition: r[1] };
  }

  async progress(workerId: string, jobId: string, taskId: string | undefined, progress: number): Promise<boolean> {
    return Number(await this.#run("rxonProgress", workerId, jobId, opt(taskId), String(progress))) === 1;
  }

  async cancel(jobId: string, owner?: string): Promise<CancelVerdict> {
    const r = (await this.#run("rxonCancel", jobId, opt(owner), this.#policy.cancelGraceMs)) as [string, Flat?];
    const job = r[1] === undefined ? undefined : decodeJob(r[1]);
    if (r[0] === "none") return job === undefined ? { kind: "none" } : { kind: "none", job };
    return { kind: r[0] as "ended" | "requested", job: job! };
  }

  async sweep(limit: number): Promise<SweepResult> {
    const { retentionMs, maxRetained } = this.#policy;
    const r = (await this.#run("rxonSweep", limit, retentionMs, maxRetained)) as [Flat[], Flat[], number];
    return { deadline: r[0].map(decodeJob), cancelled: r[1].map(decodeJob), forgotten: Number(r[2]) };
  }

  // ------------------------------------------------------------------ workers

  async register(worker: WorkerRecord, contracts: readonly SkillContract[], options: { readonly keepLeases?: boolean } = {}): Promise<{ previous?: WorkerRecord }> {
    finite("worker expiresAt", worker.expiresAt);
    const fields = encodeWorker(worker);
    const args: string[] = [worker.id, String(fields.length / 2), options.keepLeases === true ? "1" : "0", ...fields];
    for (const c of contracts) args.push(c.skill, c.key, JSON.stringify(c.info));
    const previous = decodeWorker((await this.#run("rxonRegister", ...args)) as Flat);
    return previous === undefined ? {} : { previous };
  }

  async heartbeat(workerId: string, u: HeartbeatUpdate): Promise<HeartbeatVerdict | undefined> {
    finite("ttlMs", u.ttlMs);
    finite("leaseGraceMs", u.leaseGraceMs);
    const fields: string[] = ["status", JSON.stringify(u.status)];
    if (u.usage !== undefined) fields.push("usage", JSON.stringify(u.usage));
    if (u.hotSkills !== undefined) fields.push("hotSkills", JSON.stringify(u.hotSkills));
    if (u.availableSkills !== undefined) fields.push("availableSkills", JSON.stringify(u.availableSkills));
    if (u.skills !== undefined) {
      fields.push("skills", JSON.stringify(u.skills));
      if (u.skillsHash !== undefined) fields.push("skillsHash", JSON.stringify(u.skillsHash));
    }
    const r = (await this.#run(
      "rxonHeartbeat",
      workerId,
      u.ttlMs,
      u.leaseGraceMs,
      u.currentTasks === undefined ? "0" : "1",
      String(fields.length / 2),
      ...fields,
      ...(u.currentTasks ?? []),
    )) as [Flat, string[], Flat[]] | null;
    if (r === null) return undefined;
    return { worker: decodeWorker(r[0])!, cancel: r[1], released: r[2].map(decodeJob) };
  }

  async touch(workerId: string, ttlMs: number): Promise<boolean> {
    return Number(await this.#run("rxonTouch", workerId, finite("ttlMs", ttlMs))) === 1;
  }

  async drain(workerId: string, drained: boolean): Promise<boolean> {
    return Number(await this.#run("rxonDrain", workerId, drained ? "1" : "0")) === 1;
  }

  async removeWorker(workerId: string): Promise<WorkerGone | undefined> {
    const r = (await this.#run("rxonRemoveWorker", workerId)) as [string, Flat[]] | null;
    return r === null ? undefined : { workerId: r[0], released: r[1].map(decodeJob) };
  }

  async expireWorkers(limit: number, pauseMs?: number): Promise<WorkerGone[]> {
    if (limit <= 0) return [];
    const pause = pauseMs !== undefined && pauseMs > 0 ? Math.ceil(finite("pauseMs", pauseMs)) : 0;
    const r = (await this.#run("rxonExpireWorkers", limit, pause)) as [string, Flat[]][];
    return r.map(([workerId, released]) => ({ workerId, released: released.map(decodeJob) }));
  }

  async getWorker(workerId: string): Promise<WorkerRecord | undefined> {
    const r = await this.#c.hgetall(this.#key(`w:${workerId}`)).catch(unreachable);
    return decodeWorkerHash(r);
  }

  async listWorkers(limit?: number, cursor?: string): Promise<readonly WorkerRecord[]> {
    const from = cursor === undefined ? "-" : `(${cursor}`;
    const ids =
      limit === undefined
        ? await this.#c.zrangebylex(this.#key("wk"), from, "+").catch(unreachable)
        : limit <= 0
          ? []
          : await this.#c.zrangebylex(this.#key("wk"), from, "+", "LIMIT", 0, limit).catch(unreachable);
    if (ids.length === 0) return [];
    const out: WorkerRecord[] = [];
    for (const value of await this.#hashes("w:", ids)) {
      const w = decodeWorkerHash(value);
      if (w !== undefined) out.push(w);
    }
    return out;
  }

  async countWorkers(): Promise<number> {
    return this.#c.zcard(this.#key("wk")).catch(unreachable);
  }

  async contractsOf(skill: string): Promise<readonly SkillInfo[]> {
    const values = await this.#c.hvals(this.#key(`c:${skill}`)).catch(unreachable);
    return values.map((v) => JSON.parse(v) as SkillInfo);
  }

  // ------------------------------------------------------------------ tokens and replay memory

  async putToken(hash: string, token: TokenRecord): Promise<void> {
    await this.#run("rxonPutToken", hash, JSON.stringify(token), Math.ceil(finite("token expiresAt", token.expiresAt)));
  }

  async getToken(hash: string): Promise<TokenRecord | undefined> {
    const v = await this.#c.get(this.#key(`t:${hash}`)).catch(unreachable);
    return v === null ? undefined : (JSON.parse(v) as TokenRecord);
  }

  async consumeToken(hash: string): Promise<TokenRecord | undefined> {
    const v = await this.#c.getdel(this.#key(`t:${hash}`)).catch(unreachable);
    return v === null ? undefined : (JSON.parse(v) as TokenRecord);
  }

  async remember(key: string, ttlMs: number): Promise<boolean> {
    const r = await this.#c.set(this.#key(`r:${key}`), "1", "PX", Math.max(1, Math.ceil(finite("ttlMs", ttlMs))), "NX").catch(unreachable);
    return r === "OK";
  }

  // ------------------------------------------------------------------ signals and lifecycle

  subscribe(listener: SignalListener): () => void {
    this.#listeners.add(listener);
    if (this.#sub === undefined && !this.#closed) {
      // Subscribed connections can run nothing else, hence a second one, made on first need.
      // No command timeout there: a (re)subscription that timed out would leave it deaf for good.
      const sub = ((this.#r as Redis & { isCluster?: boolean }).isCluster === true ? this.#r.duplicate() : this.#r.duplicate({ commandTimeout: undefined })) as Redis | Cluster;
      this.#sub = sub;
      sub.on("message", (channel: string, message: string) => {
        if (channel !== this.#channel) return;
        const signal = parseSignal(message);
        if (signal === undefined) return;
        this.#deliver(signal);
      });
      // ioredis resubscribes by itself after a reconnect, but what was published while the
      // connection was down is gone: once the resubscription is in place (a PING sent after it
      // is answered after it), listeners are told to look at the store again.
      let readies = 0;
      sub.on("ready", () => {
        if (readies++ === 0) return;
        queueMicrotask(() => {
          (sub as Redis)
            .ping()
            .then(() => this.#deliver({ type: "resync" }))
            .catch(() => {});
        });
      });
      sub.on("error", () => {});
      this.#subscribed = sub.subscribe(this.#channel).catch(() => undefined);
    }
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #deliver(signal: HubSignal): void {
    if (this.#closed) return;
    for (const l of [...this.#listeners]) {
      try {
        l(signal);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Resolves once the signal connection is subscribed (signals published later are heard). */
  async subscribed(): Promise<void> {
    await this.#subscribed;
  }

  async publish(signal: HubSignal): Promise<void> {
    await this.#c.publish(this.#channel, JSON.stringify(signal)).catch(unreachable);
  }

  async now(): Promise<number> {
    const [s, us] = (await this.#run("rxonTime")) as [string, string];
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  /**
   * Warns of a prefix of another store layout (see {@link ping}) and of a `maxmemory-policy` other
   * than `noeviction`: with any other, a full Redis drops keys (queued tasks, leases, job records)
   * to make room, and tasks are lost without an error.
   */
  async settingsWarnings(): Promise<readonly string[]> {
    // A hub given a store it did not ping() learns of a foreign layout here, at start.
    const layout = await this.#pingAndCheckLayout().then(
      (): string[] => [],
      (err: unknown) => (err instanceof StoreLayoutError ? [err.message] : []),
    );
    const info = String(await this.#c.info("memory").catch(unreachable));
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
    if (policy === undefined || policy === "noeviction") return layout;
    return [...layout, `Redis maxmemory-policy is ${policy}: when it is full it evicts keys, the hub's queued tasks and leases among them, and those tasks are lost without an error. Set maxmemory-policy noeviction (then a full Redis refuses writes, answered 503).`];
  }

  /**
   * Answers once Redis answers a PING within `pingTimeoutMs`. The first ping that reaches Redis
   * also checks the prefix's store layout: it records {@link STORE_LAYOUT} on a prefix that has
   * none, and fails with a {@link StoreLayoutError} on one written by a version of another layout.
   */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const last = this.#connectionError;
        reject(new Error(`Redis did not answer PING within ${this.#pingTimeoutMs} ms${last === undefined ? "" : ` (last connection error: ${last.message})`}`));
      }, this.#pingTimeoutMs);
    });
    try {
      await Promise.race([this.#pingAndCheckLayout(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #pingAndCheckLayout(): Promise<void> {
    await this.#c.ping();
    if (this.#layoutChecked) return;
    const key = this.#key("layout");
    // Read first: a full Redis refuses even a SET NX that would write nothing. A SET NX that lost
    // a race with another hub's reads what that hub wrote.
    const found = (await this.#c.get(key)) ?? ((await this.#c.set(key, STORE_LAYOUT, "NX")) === "OK" ? STORE_LAYOUT : await this.#c.get(key));
    if (found !== null && found !== STORE_LAYOUT) {
      throw new StoreLayoutError(
        `Redis keys under the prefix ${this.prefix} are of store layout ${found.slice(0, 16)}; this version of rxon reads layout ${STORE_LAYOUT}. Use another prefix (or drain the fleet on the old version first)`,
      );
    }
    this.#layoutChecked = true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    const sub = this.#sub;
    this.#sub = undefined;
    // The subscriber connection has no command timeout: bound QUIT here, or a Redis that stopped
    // answering (paused, partitioned) would hold the hub's shutdown until it came back.
    const within = this.#pingTimeoutMs;
    await Promise.all([sub === undefined ? undefined : quit(sub, within), this.#owned ? quit(this.redis, within) : undefined]);
  }
}

/** Quits politely, or drops the connection when Redis cannot be reached or does not answer within `timeoutMs`. */
async function quit(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === "end") return;
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("QUIT not answered")), timeoutMs);
      }),
    ]);
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

