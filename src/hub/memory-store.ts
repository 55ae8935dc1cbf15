/**
 * The embedded default store: plain maps in this process, every transition synchronous (so one
 * transition is trivially atomic). Records handed out are copies: callers see snapshots, as they
 * would from a remote store. What is due (deadlines, cancel grace, expiries, retention) is kept in
 * time-ordered structures, so sweeps cost what is due rather than what is stored.
 */
import type { SkillInfo, TaskError } from "../../generated/types.js";
import { ErrorCode, TaskStatus } from "../../generated/constants.js";
import { TimeHeap } from "./heap.js";
import { SkillQueue } from "./queue.js";
import {
  cursorSeq,
  isTerminal,
  jobCursor,
  jobIdOfTask,
  taskIdOf,
  type CancelVerdict,
  type HeartbeatUpdate,
  type HeartbeatVerdict,
  type HubSignal,
  type HubStore,
  type JobFilter,
  type JobRecord,
  type NewJob,
  type ClaimBestVerdict,
  type QueueEntry,
  type QueueInfo,
  type QueueLimits,
  type Settlement,
  type SettleVerdict,
  type SkillContract,
  type StorePolicy,
  type SubmitVerdict,
  type SweepResult,
  type TaskState,
  type TokenRecord,
  type WorkerGone,
  type WorkerRecord,
} from "./store.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock in epoch ms. Default `Date.now`. */
  now?: () => number;
}

interface Queue {
  readonly info: { name: string; skill: string; requirements: JobRecord["requirements"] };
  readonly q: SkillQueue;
}

type End = {
  state: Exclude<TaskState, "waiting_for_worker" | "running">;
  status: string;
  data?: Record<string, unknown>;
  error?: TaskError;
  endReason?: JobRecord["endReason"];
  resultWorkerId?: string;
  settled?: JobRecord["settled"];
};

const DEFAULT_POLICY: StorePolicy = { retentionMs: 600_000, maxRetained: 100_000, cancelGraceMs: 30_000 };

function copyJob(job: JobRecord): JobRecord {
  return { ...job };
}

function copyWorker(w: WorkerRecord): WorkerRecord {
  return { ...w };
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/** In-memory {@link HubStore}. State is lost when the process ends. */
export class MemoryStore implements HubStore {
  /** Held in this process: reads cost no round trip. */
  readonly inProcess = true;
  readonly settleRemembers = true;
  readonly #now: () => number;
  #policy: StorePolicy = DEFAULT_POLICY;
  readonly #workers = new Map<string, WorkerRecord>();
  /** Worker ids in order for `listWorkers`, kept until the set of workers changes. */
  #sortedIds: string[] | undefined;
  readonly #expiries = new TimeHeap();
  /** When `expireWorkers` last ran with a pause length, and when the last pause it saw ended. */
  #sweptAt: number | undefined;
  #resumedAt = -Infinity;
  readonly #jobs = new Map<string, JobRecord>();
  /** Job ids and seqs in submission order, for listing newest first; forgotten ones are dropped in batches. */
  #orderIds: string[] = [];
  #orderSeqs: number[] = [];
  #orderGone = 0;
  readonly #queues = new Map<string, Queue>();
  readonly #queuesBySkill = new Map<string, Set<string>>();
  readonly #waitingBySkill = new Map<string, number>();
  readonly #waitingByOwner = new Map<string, number>();
  #waiting = 0;
  readonly #leases = new Map<string, Set<string>>();
  /** Jobs in state `running`. */
  #running = 0;
  readonly #deadlines = new TimeHeap();
  readonly #cancelDue = new TimeHeap();
  /** Ended jobs in end order from `#endedHead` on. */
  #ended: { at: number; jobId: string }[] = [];
  #endedHead = 0;
  readonly #idempotency = new Map<string, string>();
  readonly #contracts = new Map<string, Map<string, SkillInfo>>();
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #tokenExpiries = new TimeHeap();
  readonly #remembered = new Map<string, number>();
  readonly #rememberedExpiries = new TimeHeap();
  readonly #listeners = new Set<(s: HubSignal) => void>();
  #pending: HubSignal[] = [];
  #seq = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  configure(policy: StorePolicy): void {
    this.#policy = policy;
  }

  // ------------------------------------------------------------------ jobs

  submit(job: NewJob, limits: QueueLimits, handTo?: string): SubmitVerdict {
    const existing = this.#byIdempotency(job);
    if (existing !== undefined) return { kind: "existing", job: copyJob(existing) };
    if (limits.total !== undefined && this.#waiting >= limits.total) return { kind: "refused", scope: "total", limit: limits.total };
    if (limits.perSkill !== undefined && (this.#waitingBySkill.get(job.type) ?? 0) >= limits.perSkill) {
      return { kind: "refused", scope: "skill", limit: limits.perSkill };
    }
    if (limits.perOwner !== undefined && job.owner !== undefined && (this.#waitingByOwner.get(job.owner) ?? 0) >= limits.perOwner) {
      return { kind: "refused", scope: "owner", limit: limits.perOwner };
    }
    if (limits.classesPerSkill !== undefined && !this.#queues.has(job.queue) && (this.#queuesBySkill.get(job.type)?.size ?? 0) >= limits.classesPerSkill) {
      return { kind: "refused", scope: "classes", limit: limits.classesPerSkill };
    }
    const record = this.#create(job);
    if (record.deadline !== undefined) this.#deadlines.push(record.deadline, record.jobId);
    // Handed at once when nothing of its queue waits ahead of it and the worker is known.
    if (handTo !== undefined && !this.#queues.has(record.queue) && this.#workers.has(handTo)) {
      this.#take(record, handTo);
      return { kind: "created", job: copyJob(record) };
    }
    this.#enqueue(record);
    this.#emit({ type: "queued", queue: record.queue, skill: record.type });
    return { kind: "created", job: copyJob(record) };
  }

  reject(job: NewJob, error: TaskError): SubmitVerdict {
    const existing = this.#byIdempotency(job);
    if (existing !== undefined) return { kind: "existing", job: copyJob(existing) };
    const record = this.#create(job);
    this.#end(record, { state: "failed", status: TaskStatus.FAILURE, error, endReason: "rejected" });
    return { kind: "created", job: copyJob(record) };
  }

  #byIdempotency(job: NewJob): JobRecord | undefined {
    // A job id already known is that job: never a second record (and a ghost queue entry) for it.
    const same = this.#jobs.get(job.jobId);
    if (same !== undefined) return same;
    if (job.idempotencyKey === undefined) return undefined;
    const jobId = this.#idempotency.get(`${job.owner ?? ""}\u0000${job.idempotencyKey}`);
    return jobId === undefined ? undefined : this.#jobs.get(jobId);
  }

  #create(job: NewJob): JobRecord {
    // Object.assign, not `{ ...job, more }`: a spread followed by more properties gives every
    // record a hidden class of its own in V8 (about 450 bytes per queued task).
    const record: JobRecord = Object.assign({}, job, {
      taskId: taskIdOf(job.jobId, 0),
      generation: 0,
      attempts: 0,
      state: "waiting_for_worker" as const,
      seq: this.#seq++,
      submittedAt: this.#now(),
    });
    this.#jobs.set(record.jobId, record);
    this.#orderIds.push(record.jobId);
    this.#orderSeqs.push(record.seq);
    if (job.idempotencyKey !== undefined) this.#idempotency.set(`${job.owner ?? ""}\u0000${job.idempotencyKey}`, record.jobId);
    return record;
  }

  getJob(jobId: string): JobRecord | undefined {
    const job = this.#jobs.get(jobId);
    return job === undefined ? undefined : copyJob(job);
  }

  listJobs(filter: JobFilter, limit: number, cursor?: string): { jobs: JobRecord[]; cursor?: string } {
    const ids = this.#orderIds;
    let i = ids.length - 1;
    if (cursor !== undefined) {
      // Ids are in submission order, so the cursor's place is found by its seq (which stays
      // valid after its job is forgotten).
      const below = cursorSeq(cursor);
      if (below === undefined) return { jobs: [] };
      const seqs = this.#orderSeqs;
      let lo = 0;
      let hi = seqs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seqs[mid]! < below) lo = mid + 1;
        else hi = mid;
      }
      i = lo - 1;
    }
    const jobs: JobRecord[] = [];
    for (; i >= 0 && jobs.length < limit; i--) {
      // A forgotten job's id waits here until the next compaction.
      const j = this.#jobs.get(ids[i]!);
      if (j === undefined) continue;
      if (filter.state !== undefined && j.state !== filter.state) continue;
      if (filter.type !== undefined && j.type !== filter.type) continue;
      if (filter.workerId !== undefined && j.workerId !== filter.workerId) continue;
      if (filter.owner !== undefined && j.owner !== filter.owner) continue;
      jobs.push(copyJob(j));
    }
    return i >= 0 && jobs.length > 0 ? { jobs, cursor: jobCursor(jobs[jobs.length - 1]!) } : { jobs };
  }

  queuesOf(skill: string): QueueInfo[] {
    const out: QueueInfo[] = [];
    for (const name of this.#queuesBySkill.get(skill) ?? []) {
      const q = this.#queues.get(name)!;
      out.push({ ...q.info, length: q.q.size });
    }
    return out;
  }

  peek(queue: string, limit: number): QueueEntry[] {
    return this.#queues.get(queue)?.q.peek(limit) ?? [];
  }

  queueDepths(): Record<string, number> {
    return Object.fromEntries(this.#waitingBySkill);
  }

  queueLength(): number {
    return this.#waiting;
  }

  runningCount(): number {
    return this.#running;
  }

  claim(workerId: string, jobIds: readonly string[]): JobRecord | null {
    for (const jobId of jobIds) {
      const job = this.#jobs.get(jobId);
      if (job === undefined || job.state !== "waiting_for_worker") continue;
      this.#take(job, workerId);
      return copyJob(job);
    }
    return null;
  }

  /** Hands a waiting job to a worker: running, leased, one more attempt. */
  #take(job: JobRecord, workerId: string): void {
    this.#dequeue(job);
    job.state = "running";
    this.#running++;
    job.workerId = workerId;
    job.attempts++;
    job.dispatchedAt = this.#now();
    delete job.leaseMissingSince;
    let set = this.#leases.get(workerId);
    if (set === undefined) this.#leases.set(workerId, (set = new Set()));
    set.add(job.jobId);
    // A worker this store does not know would hold the lease forever: due for expiry now.
    if (!this.#workers.has(workerId)) this.#expiries.push(job.dispatchedAt, workerId);
  }

  claimBest(workerId: string, skills: readonly string[], runnable: readonly string[], skipped: readonly string[]): ClaimBestVerdict {
    let best: QueueEntry | undefined;
    let look = false;
    for (const skill of skills) {
      for (const name of this.#queuesBySkill.get(skill) ?? []) {
        if (runnable.includes(name)) {
          // Queues hold only waiting tasks, and only while they hold any.
          const head = this.#queues.get(name)!.q.first();
          if (head !== undefined && (best === undefined || head.priority > best.priority || (head.priority === best.priority && head.seq < best.seq))) best = head;
        } else if (!skipped.includes(name)) {
          look = true;
        }
      }
    }
    if (!look) {
      if (best === undefined) return { kind: "none" };
      const job = this.claim(workerId, [best.jobId]);
      if (job !== null) return { kind: "claimed", job };
    }
    return { kind: "look", queues: skills.flatMap((s) => this.queuesOf(s)) };
  }

  release(jobId: string, taskId: string): JobRecord | undefined {
    const job = this.#jobs.get(jobId);
    if (job === undefined || job.state !== "running" || job.taskId !== taskId) return undefined;
    this.#requeue(job, false, undefined, undefined);
    return copyJob(job);
  }

  settle(workerId: string, jobId: string, taskId: string, s: Settlement): SettleVerdict {
    if (s.remember !== undefined && !this.remember(s.remember.key, s.remember.ttlMs)) return { kind: "replay" };
    const job = this.#jobs.get(jobId);
    if (job === undefined) return { kind: "ignored", reason: "job_not_found" };
    const last = job.settled;
    if (last !== undefined && last.taskId === taskId && last.workerId === workerId && last.fingerprint === s.fingerprint) {
      return { kind: "duplicate", job: copyJob(job), transition: last.transition };
    }
    if (taskId !== job.taskId) return { kind: "ignored", reason: "stale_task", job: copyJob(job) };
    if (isTerminal(job.state)) {
      const reason = job.state === "cancelled" ? "job_cancelled" : job.endReason === "deadline" ? "deadline_exceeded" : "job_already_terminated";
      return { kind: "ignored", reason, job: copyJob(job) };
    }
    if (job.state !== "running" || job.workerId !== workerId) return { kind: "ignored", reason: "worker_mismatch", job: copyJob(job) };
    if (job.deadline !== undefined && this.#now() > job.deadline) {
      this.#end(job, { state: "failed", status: TaskStatus.FAILURE, error: timeoutError(), endReason: "deadline" });
      return { kind: "ignored", reason: "deadline_exceeded", job: copyJob(job), ended: true };
    }
    const settled = { taskId, workerId, transition: s.transition, ...(s.fingerprint !== undefined ? { fingerprint: s.fingerprint } : {}) };
    if (s.retry === true) {
      job.settled = settled;
      this.#requeue(job, true, s.error, workerId);
      return { kind: "accepted", job: copyJob(job), transition: s.transition };
    }
    const state = s.status === TaskStatus.CANCELLED ? "cancelled" : s.status === TaskStatus.FAILURE ? "failed" : "finished";
    this.#end(job, {
      state,
      status: s.status,
      resultWorkerId: workerId,
      settled,
      ...(s.data !== undefined ? { data: s.data } : {}),
      ...(s.error !== undefined ? { error: s.error } : {}),
      ...(state === "failed" ? { endReason: "error" as const } : {}),
    });
    return { kind: "accepted", job: copyJob(job), transition: s.transition };
  }

  progress(workerId: string, jobId: string, taskId: string | undefined, progress: number): boolean {
    const job = this.#jobs.get(jobId);
    if (job === undefined || job.state !== "running" || job.workerId !== workerId) return false;
    if (taskId !== undefined && taskId !== job.taskId) return false;
    job.progress = progress;
    return true;
  }

  cancel(jobId: string, owner?: string): CancelVerdict {
    const job = this.#jobs.get(jobId);
    if (job === undefined || (owner !== undefined && job.owner !== owner)) return { kind: "none" };
    if (isTerminal(job.state)) return { kind: "none", job: copyJob(job) };
    if (job.state === "waiting_for_worker") {
      this.#end(job, { state: "cancelled", status: TaskStatus.CANCELLED });
      return { kind: "ended", job: copyJob(job) };
    }
    if (job.cancelRequestedAt === undefined) {
      job.cancelRequestedAt = this.#now();
      this.#cancelDue.push(job.cancelRequestedAt + this.#policy.cancelGraceMs, jobId);
    }
    this.#emit({ type: "cancel", workerId: job.workerId!, jobId, taskId: job.taskId });
    return { kind: "requested", job: copyJob(job) };
  }

  /**
   * Entries of its due-time indexes (deadlines, cancel grace, worker expiries, tokens, replay
   * memory), stale ones included: what its sweeps hold besides the records themselves (diagnostics).
   */
  get dueEntries(): number {
    return this.#deadlines.size + this.#cancelDue.size + this.#expiries.size + this.#tokenExpiries.size + this.#rememberedExpiries.size;
  }

  sweep(limit: number): SweepResult {
    const now = this.#now();
    const deadline: JobRecord[] = [];
    const cancelled: JobRecord[] = [];
    let forgotten = 0;
    while (deadline.length < limit) {
      const due = this.#deadlines.popDue(now);
      if (due === undefined) break;
      const job = this.#jobs.get(due.id);
      if (job === undefined || isTerminal(job.state) || job.deadline !== due.at) continue;
      this.#end(job, { state: "failed", status: TaskStatus.FAILURE, error: timeoutError(), endReason: "deadline" });
      deadline.push(copyJob(job));
    }
    while (cancelled.length < limit) {
      const due = this.#cancelDue.popDue(now);
      if (due === undefined) break;
      const job = this.#jobs.get(due.id);
      if (job === undefined || job.state !== "running" || job.cancelRequestedAt === undefined) continue;
      this.#end(job, { state: "cancelled", status: TaskStatus.CANCELLED });
      cancelled.push(copyJob(job));
    }
    const { retentionMs, maxRetained } = this.#policy;
    while (forgotten < limit && this.#endedHead < this.#ended.length) {
      const head = this.#ended[this.#endedHead]!;
      if (this.#ended.length - this.#endedHead <= maxRetained && now - head.at < retentionMs) break;
      this.#endedHead++;
      const job = this.#jobs.get(head.jobId);
      if (job !== undefined && isTerminal(job.state)) {
        this.#jobs.delete(head.jobId);
        this.#orderGone++;
        if (job.idempotencyKey !== undefined) this.#idempotency.delete(`${job.owner ?? ""}\u0000${job.idempotencyKey}`);
        forgotten++;
      }
    }
    // A job's deadline entry stays until the deadline comes, however long before it the job ended
    // and was forgotten (a deadline may be days ahead): drop the stale ones once they are most.
    if (this.#deadlines.size >= 1024 + 2 * this.#jobs.size) {
      this.#deadlines.retain((e) => {
        const job = this.#jobs.get(e.id);
        return job !== undefined && !isTerminal(job.state) && job.deadline === e.at;
      });
    }
    // Forgotten jobs leave the listing order now and then, not one by one.
    if (this.#orderGone >= 1024 && this.#orderGone * 2 >= this.#orderIds.length) {
      const ids: string[] = [];
      const seqs: number[] = [];
      for (let k = 0; k < this.#orderIds.length; k++) {
        if (!this.#jobs.has(this.#orderIds[k]!)) continue;
        ids.push(this.#orderIds[k]!);
        seqs.push(this.#orderSeqs[k]!);
      }
      this.#orderIds = ids;
      this.#orderSeqs = seqs;
      this.#orderGone = 0;
    }
    // A head index, not shift(): compact now and then so the array does not grow without bound.
    if (this.#endedHead >= 1024 && this.#endedHead * 2 >= this.#ended.length) {
      this.#ended = this.#ended.slice(this.#endedHead);
      this.#endedHead = 0;
    }
    for (let e = this.#tokenExpiries.popDue(now); e !== undefined; e = this.#tokenExpiries.popDue(now)) {
      const t = this.#tokens.get(e.id);
      if (t !== undefined && t.expiresAt <= now) this.#tokens.delete(e.id);
    }
    return { deadline, cancelled, forgotten };
  }

  // ------------------------------------------------------------------ workers

  register(worker: WorkerRecord, contracts: readonly SkillContract[], options: { readonly keepLeases?: boolean } = {}): { previous?: WorkerRecord } {
    const now = this.#now();
    const previous = this.#workers.get(worker.id);
    const record: WorkerRecord = { ...worker, registeredAt: previous?.registeredAt ?? worker.registeredAt, lastSeenAt: now };
    if (previous?.drained === true && record.drained === undefined) record.drained = true;
    if (!this.#workers.has(worker.id)) this.#sortedIds = undefined;
    this.#workers.set(worker.id, record);
    this.#expiries.push(record.expiresAt, worker.id);
    for (const jobId of options.keepLeases === true ? [] : (this.#leases.get(worker.id) ?? [])) {
      const job = this.#jobs.get(jobId);
      if (job !== undefined && job.state === "running" && job.workerId === worker.id) job.leaseMissingSince ??= now;
    }
    for (const c of contracts) {
      let byKey = this.#contracts.get(c.skill);
      if (byKey === undefined) this.#contracts.set(c.skill, (byKey = new Map()));
      if (!byKey.has(c.key)) byKey.set(c.key, c.info);
    }
    this.#emit({ type: "worker", workerId: worker.id });
    return previous === undefined ? {} : { previous: copyWorker(previous) };
  }

  heartbeat(workerId: string, u: HeartbeatUpdate): HeartbeatVerdict | undefined {
    const worker = this.#workers.get(workerId);
    if (worker === undefined) return undefined;
    const now = this.#now();
    worker.status = u.status;
    if (u.usage !== undefined) worker.usage = u.usage;
    if (u.hotSkills !== undefined) worker.hotSkills = u.hotSkills;
    if (u.availableSkills !== undefined) worker.availableSkills = u.availableSkills;
    if (u.skills !== undefined) {
      worker.skills = u.skills;
      if (u.skillsHash !== undefined) worker.skillsHash = u.skillsHash;
    }
    worker.lastSeenAt = now;
    worker.expiresAt = now + u.ttlMs;
    this.#expiries.push(worker.expiresAt, workerId);

    const cancel: string[] = [];
    const released: JobRecord[] = [];
    const listed = u.currentTasks === undefined ? undefined : new Set(u.currentTasks);
    const leased = this.#leases.get(workerId);
    const seen = new Set<string>();
    for (const jobId of leased === undefined ? [] : [...leased]) {
      const job = this.#jobs.get(jobId);
      if (job === undefined || job.state !== "running" || job.workerId !== workerId) {
        leased!.delete(jobId);
        continue;
      }
      const byTask = listed?.has(job.taskId) === true;
      const byJob = listed?.has(job.jobId) === true;
      if (byTask) seen.add(job.taskId);
      if (byJob) seen.add(job.jobId);
      if (job.cancelRequestedAt !== undefined) {
        if (byTask || !byJob) cancel.push(job.taskId);
        if (byJob) cancel.push(job.jobId);
      }
      if (listed === undefined) continue;
      if (byTask || byJob) {
        delete job.leaseMissingSince;
      } else {
        job.leaseMissingSince ??= now;
        if (now - job.leaseMissingSince > u.leaseGraceMs) {
          this.#requeue(job, true, undefined, undefined);
          released.push(copyJob(job));
        }
      }
    }
    if (leased !== undefined && leased.size === 0) this.#leases.delete(workerId);
    for (const entry of listed ?? []) {
      if (seen.has(entry)) continue;
      const job = this.#jobs.get(entry) ?? this.#jobOfTask(entry);
      // Entries the hub does not know are not its business (another orchestrator's, or forgotten).
      if (job === undefined) continue;
      if (job.state !== "running" || job.workerId !== workerId || (entry !== job.jobId && entry !== job.taskId)) cancel.push(entry);
    }
    return { worker: copyWorker(worker), cancel, released };
  }

  #jobOfTask(taskId: string): JobRecord | undefined {
    const jobId = jobIdOfTask(taskId);
    return jobId === undefined ? undefined : this.#jobs.get(jobId);
  }

  touch(workerId: string, ttlMs: number): boolean {
    const worker = this.#workers.get(workerId);
    if (worker === undefined) return false;
    const now = this.#now();
    worker.lastSeenAt = now;
    worker.expiresAt = now + ttlMs;
    this.#expiries.push(worker.expiresAt, workerId);
    return true;
  }

  drain(workerId: string, drained: boolean): boolean {
    const worker = this.#workers.get(workerId);
    if (worker === undefined) return false;
    if (drained) worker.drained = true;
    else delete worker.drained;
    this.#emit({ type: "worker", workerId });
    return true;
  }

  removeWorker(workerId: string): WorkerGone | undefined {
    if (!this.#workers.has(workerId)) return undefined;
    return this.#forget(workerId);
  }

  expireWorkers(limit: number, pauseMs?: number): WorkerGone[] {
    const now = this.#now();
    if (pauseMs !== undefined && pauseMs > 0) {
      if (this.#sweptAt !== undefined && now - this.#sweptAt > pauseMs) this.#resumedAt = now;
      this.#sweptAt = now;
    }
    const resumed = this.#resumedAt;
    const gone: WorkerGone[] = [];
    while (gone.length < limit) {
      const due = this.#expiries.popDue(now);
      if (due === undefined) break;
      const worker = this.#workers.get(due.id);
      if (worker === undefined) {
        // Leases of a worker never registered (or forgotten before its claim): given back.
        if (this.#leases.has(due.id)) gone.push(this.#forget(due.id));
        continue;
      }
      if (worker.expiresAt > now) continue;
      // Its lifetime ended while nobody could hear it (a pause): once more, from the pause's end.
      const again = resumed + (worker.expiresAt - worker.lastSeenAt);
      if (worker.expiresAt <= resumed && again > now) {
        worker.expiresAt = again;
        this.#expiries.push(again, due.id);
        continue;
      }
      gone.push(this.#forget(due.id));
    }
    return gone;
  }

  #forget(workerId: string): WorkerGone {
    if (this.#workers.delete(workerId)) this.#sortedIds = undefined;
    const released: JobRecord[] = [];
    for (const jobId of this.#leases.get(workerId) ?? []) {
      const job = this.#jobs.get(jobId);
      if (job === undefined || job.state !== "running" || job.workerId !== workerId) continue;
      this.#requeue(job, true, undefined, undefined);
      released.push(copyJob(job));
    }
    this.#leases.delete(workerId);
    this.#emit({ type: "worker", workerId });
    return { workerId, released };
  }

  getWorker(workerId: string): WorkerRecord | undefined {
    const w = this.#workers.get(workerId);
    return w === undefined ? undefined : copyWorker(w);
  }

  listWorkers(limit?: number, cursor?: string): WorkerRecord[] {
    // Sorted once per change of the set of workers, not per page: paging through a fleet of
    // 100k (a metrics scrape) costs the pages, not a sort each.
    const ids = (this.#sortedIds ??= [...this.#workers.keys()].sort());
    let from = 0;
    if (cursor !== undefined) {
      // First id after the cursor (binary search).
      let lo = 0;
      let hi = ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ids[mid]! > cursor) hi = mid;
        else lo = mid + 1;
      }
      from = lo;
      if (from >= ids.length) return [];
    }
    const slice = limit === undefined ? ids.slice(from) : ids.slice(from, from + limit);
    return slice.map((id) => copyWorker(this.#workers.get(id)!));
  }

  countWorkers(): number {
    return this.#workers.size;
  }

  contractsOf(skill: string): SkillInfo[] {
    const byKey = this.#contracts.get(skill);
    return byKey === undefined ? [] : [...byKey.values()];
  }

  // ------------------------------------------------------------------ tokens and replay memory

  putToken(hash: string, token: TokenRecord): void {
    this.#tokens.set(hash, token);
    this.#tokenExpiries.push(token.expiresAt, hash);
  }

  getToken(hash: string): TokenRecord | undefined {
    const t = this.#tokens.get(hash);
    return t !== undefined && t.expiresAt > this.#now() ? t : undefined;
  }

  consumeToken(hash: string): TokenRecord | undefined {
    const t = this.getToken(hash);
    this.#tokens.delete(hash);
    return t;
  }

  remember(key: string, ttlMs: number): boolean {
    const now = this.#now();
    for (let e = this.#rememberedExpiries.popDue(now); e !== undefined; e = this.#rememberedExpiries.popDue(now)) {
      if ((this.#remembered.get(e.id) ?? Infinity) <= now) this.#remembered.delete(e.id);
    }
    const until = this.#remembered.get(key);
    if (until !== undefined && until > now) return false;
    this.#remembered.set(key, now + ttlMs);
    this.#rememberedExpiries.push(now + ttlMs, key);
    return true;
  }

  // ------------------------------------------------------------------ signals and lifecycle

  subscribe(listener: (signal: HubSignal) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(signal: HubSignal): void {
    this.#emit(signal);
  }

  now(): number {
    return this.#now();
  }

  ping(): void {}

  close(): void {
    this.#listeners.clear();
  }

  // ------------------------------------------------------------------ internals

  /**
   * Signals are delivered after the transition's caller has its answer (a microtask later), as a
   * remote store's would be: a caller always learns of its own transition before anyone reacts
   * to it (e.g. `task:submitted` before `task:dispatched`).
   */
  #emit(signal: HubSignal): void {
    if (this.#listeners.size === 0) return;
    this.#pending.push(signal);
    if (this.#pending.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    for (const signal of batch) {
      for (const l of this.#listeners) {
        try {
          l(signal);
        } catch {
          // A listener's failure is its own; the transition has happened.
        }
      }
    }
  }

  #enqueue(job: JobRecord): void {
    let q = this.#queues.get(job.queue);
    if (q === undefined) {
      q = { info: { name: job.queue, skill: job.type, requirements: job.requirements }, q: new SkillQueue() };
      this.#queues.set(job.queue, q);
      let names = this.#queuesBySkill.get(job.type);
      if (names === undefined) this.#queuesBySkill.set(job.type, (names = new Set()));
      names.add(job.queue);
    }
    q.q.push({ jobId: job.jobId, priority: job.priority, seq: job.seq });
    this.#waiting++;
    bump(this.#waitingBySkill, job.type, 1);
    if (job.owner !== undefined) bump(this.#waitingByOwner, job.owner, 1);
  }

  #dequeue(job: JobRecord): void {
    const q = this.#queues.get(job.queue);
    if (q === undefined || !q.q.remove(job.jobId, job.priority)) return;
    this.#waiting--;
    bump(this.#waitingBySkill, job.type, -1);
    if (job.owner !== undefined) bump(this.#waitingByOwner, job.owner, -1);
    if (q.q.size === 0) {
      this.#queues.delete(job.queue);
      const names = this.#queuesBySkill.get(job.type);
      names?.delete(job.queue);
      if (names?.size === 0) this.#queuesBySkill.delete(job.type);
    }
  }

  /** Called while `job` still has the state it leaves. */
  #unlease(job: JobRecord): void {
    if (job.state === "running") this.#running--;
    if (job.workerId === undefined) return;
    const set = this.#leases.get(job.workerId);
    set?.delete(job.jobId);
    if (set?.size === 0) this.#leases.delete(job.workerId);
  }

  #end(job: JobRecord, end: End): void {
    if (job.state === "waiting_for_worker") this.#dequeue(job);
    else if (job.state === "running") this.#unlease(job);
    job.state = end.state;
    job.status = end.status;
    job.finishedAt = this.#now();
    delete job.leaseMissingSince;
    if (end.data !== undefined) job.data = end.data;
    if (end.error !== undefined) job.error = end.error;
    if (end.endReason !== undefined) job.endReason = end.endReason;
    if (end.resultWorkerId !== undefined) job.resultWorkerId = end.resultWorkerId;
    if (end.settled !== undefined) job.settled = end.settled;
    this.#ended.push({ at: job.finishedAt, jobId: job.jobId });
    // With a copy of the record (as every answer), so no hub waiting for it reads it back.
    if (this.#listeners.size > 0) this.#emit({ type: "ended", jobId: job.jobId, job: copyJob(job) });
  }

  /**
   * Gives a running job back: ends it when a cancel is pending or (counted) retries are used up,
   * else queues it again under a new task id.
   */
  #requeue(job: JobRecord, counted: boolean, error: TaskError | undefined, resultWorkerId: string | undefined): void {
    if (job.cancelRequestedAt !== undefined) {
      this.#end(job, { state: "cancelled", status: TaskStatus.CANCELLED });
      return;
    }
    if (counted && job.attempts > job.maxRetries) {
      this.#end(job, {
        state: "failed",
        status: TaskStatus.FAILURE,
        error: error ?? { code: ErrorCode.TRANSIENT_ERROR, message: `Task failed after ${job.attempts} attempts (worker lost)` },
        endReason: error === undefined ? "lost" : "error",
        ...(resultWorkerId !== undefined ? { resultWorkerId } : {}),
      });
      return;
    }
    this.#unlease(job);
    if (!counted) job.attempts = Math.max(0, job.attempts - 1);
    job.generation++;
    job.taskId = taskIdOf(job.jobId, job.generation);
    job.state = "waiting_for_worker";
    delete job.workerId;
    delete job.dispatchedAt;
    delete job.leaseMissingSince;
    this.#enqueue(job);
    this.#emit({ type: "queued", queue: job.queue, skill: job.type });
  }
}

function timeoutError(): TaskError {
  return { code: ErrorCode.TIMEOUT_ERROR, message: "Task deadline exceeded" };
}

