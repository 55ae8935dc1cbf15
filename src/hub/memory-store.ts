/**
 * The embedded default store: plain maps in this process. Every method answers synchronously.
 */
import { SkillQueue } from "./queue.js";
import type { HubStore, JobRecord, QueueEntry, TokenRecord, WorkerRecord } from "./store.js";

/** In-memory {@link HubStore}. State is lost when the process ends. */
export class MemoryStore implements HubStore {
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly taskIndex = new Map<string, string>();
  private readonly jobTasks = new Map<string, string[]>();
  private readonly queues = new Map<string, SkillQueue>();
  /** jobId → queue it sits in, with its priority (to find and remove it). */
  private readonly queued = new Map<string, { queue: string; priority: number }>();
  private readonly leases = new Map<string, Set<string>>();
  private readonly tokens = new Map<string, TokenRecord>();

  getWorker(id: string): WorkerRecord | undefined {
    return this.workers.get(id);
  }
  putWorker(worker: WorkerRecord): void {
    this.workers.set(worker.id, worker);
  }
  deleteWorker(id: string): boolean {
    return this.workers.delete(id);
  }
  listWorkers(): WorkerRecord[] {
    return [...this.workers.values()];
  }
  countWorkers(): number {
    return this.workers.size;
  }

  getJob(jobId: string): JobRecord | undefined {
    return this.jobs.get(jobId);
  }
  putJob(job: JobRecord): void {
    this.jobs.set(job.jobId, job);
  }
  deleteJob(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) return;
    this.jobs.delete(jobId);
    for (const taskId of this.jobTasks.get(jobId) ?? []) this.taskIndex.delete(taskId);
    this.jobTasks.delete(jobId);
    const q = this.queued.get(jobId);
    if (q) this.removeFromQueue(q.queue, jobId);
  }
  jobIdOfTask(taskId: string): string | undefined {
    return this.taskIndex.get(taskId);
  }
  indexTask(taskId: string, jobId: string): void {
    this.taskIndex.set(taskId, jobId);
    const list = this.jobTasks.get(jobId);
    if (list === undefined) this.jobTasks.set(jobId, [taskId]);
    else list.push(taskId);
  }
  listOpenJobs(): JobRecord[] {
    const out: JobRecord[] = [];
    for (const job of this.jobs.values()) if (job.state === "waiting_for_worker" || job.state === "running") out.push(job);
    return out;
  }

  enqueue(queue: string, entry: QueueEntry): void {
    if (this.queued.has(entry.jobId)) return;
    let q = this.queues.get(queue);
    if (q === undefined) {
      q = new SkillQueue();
      this.queues.set(queue, q);
    }
    q.push(entry);
    this.queued.set(entry.jobId, { queue, priority: entry.priority });
  }
  peekQueue(queue: string, limit: number): QueueEntry[] {
    const q = this.queues.get(queue);
    return q === undefined ? [] : q.peek(limit);
  }
  removeFromQueue(queue: string, jobId: string): boolean {
    const where = this.queued.get(jobId);
    if (where === undefined || where.queue !== queue) return false;
    const q = this.queues.get(queue);
    if (q === undefined || !q.remove(jobId, where.priority)) return false;
    this.queued.delete(jobId);
    if (q.size === 0) this.queues.delete(queue);
    return true;
  }
  queueLength(queue?: string): number {
    if (queue !== undefined) return this.queues.get(queue)?.size ?? 0;
    return this.queued.size;
  }

  addLease(workerId: string, jobId: string): void {
    let set = this.leases.get(workerId);
    if (set === undefined) {
      set = new Set();
      this.leases.set(workerId, set);
    }
    set.add(jobId);
  }
  removeLease(workerId: string, jobId: string): void {
    const set = this.leases.get(workerId);
    if (set === undefined) return;
    set.delete(jobId);
    if (set.size === 0) this.leases.delete(workerId);
  }
  leasesOf(workerId: string): string[] {
    const set = this.leases.get(workerId);
    return set === undefined ? [] : [...set];
  }

  putToken(hash: string, token: TokenRecord): void {
    this.tokens.set(hash, token);
  }
  getToken(hash: string): TokenRecord | undefined {
    return this.tokens.get(hash);
  }
  deleteToken(hash: string): void {
    this.tokens.delete(hash);
  }
  purgeTokens(now: number): void {
    for (const [hash, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(hash);
  }
}
