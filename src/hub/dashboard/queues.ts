/**
 * The queues page's data: depth per skill (now and over time), the longest waiting task of each
 * queue, and the queued tasks no connected worker can run, grouped by requirement with the
 * reason. Requirements are read from the store once per job and remembered by group, with a
 * budget of reads per refresh, so a queue of 100 000 tasks is analysed over a few refreshes
 * instead of in one long stall.
 */
import type { JobRecord } from "../store.js";
import { explain, groupKey, indexFleet, type BlockReason } from "./explain.js";
import type { DepthSample, DepthSeries } from "./series.js";
import type { DashboardSource } from "./source.js";
import type { TaskTracker } from "./tracker.js";

/** One queue (skill). */
export interface QueueRow {
  readonly skill: string;
  readonly depth: number;
  /** Longest waiting task: job id and when it entered the queue (epoch ms). */
  readonly oldest: { jobId: string; since: number } | null;
  /** Connected workers offering the skill. */
  readonly workers: number;
  /** Queued tasks of this skill no connected worker can run (among those analysed). */
  readonly blocked: number;
}

/** Queued tasks sharing a requirement that nobody meets. */
export interface BlockedGroup {
  readonly skill: string;
  readonly count: number;
  readonly reason: BlockReason;
  readonly detail: string;
  /** A few of its job ids. */
  readonly jobIds: readonly string[];
}

/** The queues page. */
export interface QueuesView {
  readonly at: number;
  /** Queued tasks over all queues. */
  readonly total: number;
  readonly queues: readonly QueueRow[];
  /** Queues not listed (beyond the row limit). */
  readonly moreQueues: number;
  readonly history: readonly DepthSample[];
  readonly blocked: {
    /** Tasks no connected worker can run. */
    readonly total: number;
    /** Queued tasks whose requirements were not read yet (analysed on the next refreshes). */
    readonly pending: number;
    readonly groups: readonly BlockedGroup[];
  };
}

/** Options of {@link QueueAnalyzer}. */
export interface QueueAnalyzerOptions {
  /** Job records read from the store per refresh. Default 5000. */
  readBudget?: number;
  /** Distinct requirement groups remembered. Default 1000. */
  maxGroups?: number;
  /** Queue rows listed. Default 200. */
  maxRows?: number;
  /** Shortest time between two analyses, ms (answers in between are the last one). Default 1000. */
  minIntervalMs?: number;
  now?: () => number;
}

interface Known {
  readonly skill: string;
  /** Group key, or null when the group limit was reached. */
  readonly key: string | null;
}

/** Builds (and caches for a moment) the queues view. */
export class QueueAnalyzer {
  readonly #source: DashboardSource;
  readonly #tracker: TaskTracker;
  readonly #depthSeries: DepthSeries;
  readonly #known = new Map<string, Known>();
  readonly #samples = new Map<string, JobRecord>();
  readonly #readBudget: number;
  readonly #maxGroups: number;
  readonly #maxRows: number;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  #last: QueuesView | undefined;
  #running: Promise<QueuesView> | undefined;

  constructor(source: DashboardSource, tracker: TaskTracker, depthSeries: DepthSeries, options: QueueAnalyzerOptions = {}) {
    this.#source = source;
    this.#tracker = tracker;
    this.#depthSeries = depthSeries;
    this.#readBudget = options.readBudget ?? 5000;
    this.#maxGroups = options.maxGroups ?? 1000;
    this.#maxRows = options.maxRows ?? 200;
    this.#minIntervalMs = options.minIntervalMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Queue depths by skill: the store's own count when it has one, else from the events seen. */
  async depths(): Promise<Record<string, number>> {
    if (this.#source.queueDepths !== undefined) return this.#source.queueDepths();
    return this.#tracker.depths();
  }

  /** The current view (recomputed at most once per `minIntervalMs`; concurrent callers share one run). */
  view(): Promise<QueuesView> {
    const last = this.#last;
    if (last !== undefined && this.#now() - last.at < this.#minIntervalMs) return Promise.resolve(last);
    this.#running ??= this.#compute().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #compute(): Promise<QueuesView> {
    const [workers, depths] = await Promise.all([this.#source.listWorkers(), this.depths()]);
    const fleet = indexFleet(workers);
    const waiting = this.#tracker.waiting;

    // Forget jobs that left their queue.
    for (const [jobId, k] of this.#known) if (!waiting.get(k.skill)?.has(jobId)) this.#known.delete(jobId);

    let budget = this.#readBudget;
    let pending = 0;
    const counts = new Map<string, { skill: string; count: number; jobIds: string[] }>();
    for (const [skill, jobs] of waiting) {
      for (const jobId of jobs.keys()) {
        let k = this.#known.get(jobId);
        if (k === undefined) {
          if (budget <= 0) {
            pending++;
            continue;
          }
          budget--;
          const job = await this.#source.getJob(jobId);
          if (job === undefined || job.state !== "waiting_for_worker") continue;
          let key: string | null = groupKey(job);
          if (!this.#samples.has(key)) {
            if (this.#samples.size >= this.#maxGroups) key = null;
            else this.#samples.set(key, job);
          }
          k = { skill, key };
          this.#known.set(jobId, k);
        }
        if (k.key === null) continue;
        let c = counts.get(k.key);
        if (c === undefined) counts.set(k.key, (c = { skill, count: 0, jobIds: [] }));
        c.count++;
        if (c.jobIds.length < 5) c.jobIds.push(jobId);
      }
    }
    // Groups with no queued job left are dropped, so the group limit is about the present.
    for (const key of this.#samples.keys()) if (!counts.has(key)) this.#samples.delete(key);

    const groups: BlockedGroup[] = [];
    const blockedBySkill = new Map<string, number>();
    let blockedTotal = 0;
    for (const [key, c] of counts) {
      const sample = this.#samples.get(key);
      if (sample === undefined) continue;
      const why = explain(sample, fleet, this.#source.dispatchableStatuses);
      if (why === null) continue;
      blockedTotal += c.count;
      blockedBySkill.set(c.skill, (blockedBySkill.get(c.skill) ?? 0) + c.count);
      groups.push({ skill: c.skill, count: c.count, reason: why.reason, detail: why.detail, jobIds: c.jobIds });
    }
    groups.sort((a, b) => b.count - a.count || (a.skill < b.skill ? -1 : 1));

    const skills = new Set([...Object.keys(depths), ...waiting.keys()]);
    const rows: QueueRow[] = [];
    let total = 0;
    for (const skill of skills) {
      const depth = depths[skill] ?? waiting.get(skill)?.size ?? 0;
      total += depth;
      let oldest: QueueRow["oldest"] = null;
      const w = waiting.get(skill);
      if (w !== undefined) for (const [jobId, since] of w) {
        oldest = { jobId, since };
        break;
      }
      rows.push({ skill, depth, oldest, workers: fleet.bySkill.get(skill)?.length ?? 0, blocked: blockedBySkill.get(skill) ?? 0 });
    }
    rows.sort((a, b) => b.depth - a.depth || (a.skill < b.skill ? -1 : 1));
    const view: QueuesView = {
      at: this.#now(),
      total,
      queues: rows.slice(0, this.#maxRows),
      moreQueues: Math.max(0, rows.length - this.#maxRows),
      history: this.#depthSeries.samples(),
      blocked: { total: blockedTotal, pending, groups: groups.slice(0, 50) },
    };
    this.#last = view;
    return view;
  }
}
