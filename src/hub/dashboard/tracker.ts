/**
 * The dashboard's memory of tasks, built from hub events: a bounded index of recent jobs with
 * their timelines (submitted, dispatched, progress, requeued, ignored results, end), which
 * tasks wait per skill and since when, which run on which worker, and the throughput series.
 * Everything is bounded: old finished jobs are forgotten first, timelines keep their first and
 * latest entries.
 */
import type { HubEvents, TaskOutcome, TaskState } from "../types.js";
import type { DashboardSource } from "./source.js";
import { ThroughputSeries, type Outcome } from "./series.js";

/** One step of a task's life. */
export interface TimelineEntry {
  /** Epoch ms. */
  readonly t: number;
  readonly kind: "submitted" | "dispatched" | "progress" | "requeued" | "ignored" | "cancel_requested" | "completed";
  readonly taskId?: string;
  readonly workerId?: string;
  readonly attempt?: number;
  readonly progress?: number;
  readonly message?: string;
  readonly reason?: string;
  readonly status?: string;
  readonly error?: { code: string; message: string };
}

/** What the dashboard remembers of one job. */
export interface TrackedJob {
  readonly jobId: string;
  taskId: string;
  /** Task type (skill); empty when the job was first seen after its submission (another hub). */
  type: string;
  state: TaskState;
  workerId: string | undefined;
  attempts: number;
  submittedAt: number;
  /** When it (re-)entered its queue, while waiting. */
  queuedAt: number;
  endedAt: number | undefined;
  status: string | undefined;
  progress: number | undefined;
  timeline: TimelineEntry[];
}

/** Options of {@link TaskTracker}. */
export interface TaskTrackerOptions {
  /** Jobs remembered (finished ones are forgotten first). Default 200 000. */
  maxJobs?: number;
  /** Timeline entries kept per job. Default 40. */
  maxTimeline?: number;
  /** Seconds of throughput history. Default 600. */
  seriesSeconds?: number;
  /** Clock, epoch ms. */
  now?: () => number;
}

const TERMINAL: ReadonlySet<TaskState> = new Set(["finished", "failed", "cancelled"]);

/** Hub events folded into job, queue and worker views. */
export class TaskTracker {
  readonly jobs = new Map<string, TrackedJob>();
  /** skill → job id → when it entered the queue (insertion order = longest waiting first). */
  readonly waiting = new Map<string, Map<string, number>>();
  /** worker id → job ids running there. */
  readonly running = new Map<string, Set<string>>();
  readonly throughput: ThroughputSeries;
  /** Bumped whenever the fleet changes (a registration or an expiry). */
  fleetVersion = 0;
  /** Bumped whenever any task changes. */
  taskVersion = 0;
  readonly #finished = new Set<string>();
  readonly #maxJobs: number;
  readonly #maxTimeline: number;
  readonly #now: () => number;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(options: TaskTrackerOptions = {}) {
    this.#maxJobs = Math.max(1, options.maxJobs ?? 200_000);
    this.#maxTimeline = Math.max(4, options.maxTimeline ?? 40);
    this.#now = options.now ?? Date.now;
    this.throughput = new ThroughputSeries(options.seriesSeconds ?? 600);
  }

  /** Starts following a source's events. */
  attach(source: DashboardSource): void {
    this.#unsubscribe.push(
      source.subscribe("task:submitted", (e) => this.submitted(e)),
      source.subscribe("task:dispatched", (e) => this.dispatched(e)),
      source.subscribe("task:requeued", (e) => this.requeued(e)),
      source.subscribe("task:progress", (e) => this.progressed(e)),
      source.subscribe("task:completed", (o) => this.completed(o)),
      source.subscribe("result:ignored", (e) => this.ignored(e)),
      source.subscribe("worker:registered", () => void this.fleetVersion++),
      source.subscribe("worker:expired", (e) => this.expired(e)),
    );
  }

  /** Stops following events. */
  detach(): void {
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  /** Tasks waiting per skill, from the events seen. */
  depths(): Record<string, number> {
    const out: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const [skill, m] of this.waiting) if (m.size > 0) out[skill] = m.size;
    return out;
  }

  /** Notes a cancel asked from the dashboard in the job's timeline. */
  cancelRequested(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job !== undefined && !TERMINAL.has(job.state)) this.#push(job, { t: this.#now(), kind: "cancel_requested" });
  }

  /** A new task: remembered, queued under its skill. */
  submitted(e: HubEvents["task:submitted"][0]): void {
    const now = this.#now();
    const job = this.#job(e.jobId, e.taskId, e.type, now);
    this.#push(job, { t: now, kind: "submitted", taskId: e.taskId });
    this.#enqueue(job, now);
    this.taskVersion++;
  }

  /** A task handed to a worker: out of its queue, running there. */
  dispatched(e: HubEvents["task:dispatched"][0]): void {
    const now = this.#now();
    const job = this.#job(e.jobId, e.taskId, "", now);
    this.#dequeue(job);
    job.state = "running";
    job.taskId = e.taskId;
    job.workerId = e.workerId;
    job.attempts = e.attempt;
    let set = this.running.get(e.workerId);
    if (set === undefined) this.running.set(e.workerId, (set = new Set()));
    set.add(job.jobId);
    this.#push(job, { t: now, kind: "dispatched", taskId: e.taskId, workerId: e.workerId, attempt: e.attempt });
    this.taskVersion++;
  }

  /** A task back in its queue (lost worker, transient failure): behind the tasks already waiting. */
  requeued(e: HubEvents["task:requeued"][0]): void {
    const now = this.#now();
    const job = this.#job(e.jobId, e.taskId, "", now);
    this.#unrun(job);
    job.taskId = e.taskId;
    job.workerId = undefined;
    this.#push(job, { t: now, kind: "requeued", taskId: e.taskId, ...(e.workerId !== undefined ? { workerId: e.workerId } : {}), reason: e.reason });
    this.#enqueue(job, now);
    this.taskVersion++;
  }

  /** A progress report of a running task. */
  progressed(e: HubEvents["task:progress"][0]): void {
    const job = this.jobs.get(e.jobId);
    if (job === undefined) return;
    job.progress = e.progress;
    this.#push(job, { t: this.#now(), kind: "progress", workerId: e.workerId, progress: e.progress, message: e.message.slice(0, 200) });
    this.taskVersion++;
  }

  /** A result the hub ignored (late, stale, wrong worker...), kept in the task's timeline. */
  ignored(e: HubEvents["result:ignored"][0]): void {
    const job = this.jobs.get(e.jobId);
    if (job === undefined) return;
    this.#push(job, { t: this.#now(), kind: "ignored", taskId: e.taskId, workerId: e.workerId, reason: e.reason });
    this.taskVersion++;
  }

  /** A task that ended: counted in the throughput series, out of queues and workers. */
  completed(o: TaskOutcome): void {
    const now = this.#now();
    this.throughput.record(now, outcomeOf(o.status), o.durationMs);
    const job = this.jobs.get(o.jobId);
    if (job !== undefined) {
      this.#dequeue(job);
      this.#unrun(job);
      job.state = o.status === "cancelled" ? "cancelled" : o.status === "failure" ? "failed" : "finished";
      job.status = o.status;
      job.endedAt = now;
      job.attempts = o.attempts;
      if (o.workerId !== undefined) job.workerId = o.workerId;
      this.#push(job, {
        t: now,
        kind: "completed",
        taskId: o.taskId,
        status: o.status,
        ...(o.workerId !== undefined ? { workerId: o.workerId } : {}),
        ...(o.error !== undefined ? { error: { code: String(o.error.code).slice(0, 64), message: String(o.error.message ?? "").slice(0, 500) } } : {}),
      });
      this.#finished.add(job.jobId);
    }
    this.taskVersion++;
  }

  /** A worker gone: it runs nothing any more (its tasks come back as `requeued` events). */
  expired(e: HubEvents["worker:expired"][0]): void {
    this.fleetVersion++;
    this.running.delete(e.workerId);
  }

  #job(jobId: string, taskId: string, type: string, now: number): TrackedJob {
    let job = this.jobs.get(jobId);
    if (job === undefined) {
      job = {
        jobId,
        taskId,
        type,
        state: "waiting_for_worker",
        workerId: undefined,
        attempts: 0,
        submittedAt: now,
        queuedAt: now,
        endedAt: undefined,
        status: undefined,
        progress: undefined,
        timeline: [],
      };
      this.jobs.set(jobId, job);
      this.#bound();
    } else if (job.type === "" && type !== "") job.type = type;
    return job;
  }

  #enqueue(job: TrackedJob, now: number): void {
    job.state = "waiting_for_worker";
    job.queuedAt = now;
    if (job.type === "") return;
    let m = this.waiting.get(job.type);
    if (m === undefined) this.waiting.set(job.type, (m = new Map()));
    m.delete(job.jobId);
    m.set(job.jobId, now);
  }

  #dequeue(job: TrackedJob): void {
    const m = this.waiting.get(job.type);
    if (m === undefined) return;
    m.delete(job.jobId);
    if (m.size === 0) this.waiting.delete(job.type);
  }

  #unrun(job: TrackedJob): void {
    if (job.workerId === undefined) return;
    const set = this.running.get(job.workerId);
    if (set === undefined) return;
    set.delete(job.jobId);
    if (set.size === 0) this.running.delete(job.workerId);
  }

  #push(job: TrackedJob, entry: TimelineEntry): void {
    const tl = job.timeline;
    if (tl.length >= this.#maxTimeline) {
      // Keep the submission and the latest steps; the oldest progress report goes first.
      const i = tl.findIndex((x, k) => k > 0 && x.kind === "progress");
      tl.splice(i > 0 ? i : 1, 1);
    }
    tl.push(entry);
  }

  /** Forgets finished jobs first, then the oldest ones, until within the limit. */
  #bound(): void {
    while (this.jobs.size > this.#maxJobs) {
      let victim: string | undefined;
      for (const id of this.#finished) {
        victim = id;
        break;
      }
      if (victim === undefined) for (const id of this.jobs.keys()) {
        victim = id;
        break;
      }
      if (victim === undefined) return;
      const job = this.jobs.get(victim);
      this.#finished.delete(victim);
      this.jobs.delete(victim);
      if (job !== undefined) {
        this.#dequeue(job);
        this.#unrun(job);
      }
    }
  }
}

/** The chart's outcome class of a result status. */
export function outcomeOf(status: string): Outcome {
  return status === "success" || status === "failure" || status === "cancelled" ? status : "other";
}
