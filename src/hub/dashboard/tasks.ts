/**
 * The tasks page's data: a search over the jobs this hub has seen (newest first, one page at a
 * time), and one job's detail: the store's record (authoritative, also for jobs of other hubs
 * sharing the store) with the timeline gathered from events.
 */
import type { JobRecord } from "../store.js";
import type { TaskState } from "../types.js";
import { bounded, clip, preview } from "./bounded.js";
import type { TimelineEntry, TaskTracker, TrackedJob } from "./tracker.js";

/** Filters and page of a task search. */
export interface TaskQuery {
  offset: number;
  limit: number;
  /** Job id or task id, or a part of one. */
  q?: string;
  state?: string;
  skill?: string;
  worker?: string;
}

/** One task in a search result. */
export interface TaskRow {
  readonly jobId: string;
  readonly taskId: string;
  readonly type: string;
  readonly state: TaskState;
  readonly status: string | null;
  readonly workerId: string | null;
  readonly attempts: number;
  readonly submittedAt: number;
  readonly endedAt: number | null;
  readonly progress: number | null;
}

/** A page of search results. */
export interface TaskPage {
  readonly total: number;
  /** Jobs searched (what this hub remembers). */
  readonly known: number;
  readonly offset: number;
  readonly limit: number;
  readonly items: readonly TaskRow[];
}

/** One job with its record and timeline. */
export interface TaskDetail {
  readonly jobId: string;
  readonly job: Record<string, unknown> | null;
  readonly timeline: readonly TimelineEntry[];
}

const STATES: ReadonlySet<string> = new Set(["waiting_for_worker", "running", "finished", "failed", "cancelled"]);

function rowOf(j: TrackedJob): TaskRow {
  return {
    jobId: j.jobId,
    taskId: j.taskId,
    type: j.type,
    state: j.state,
    status: j.status ?? null,
    workerId: j.workerId ?? null,
    attempts: j.attempts,
    submittedAt: j.submittedAt,
    endedAt: j.endedAt ?? null,
    progress: j.progress ?? null,
  };
}

/** Searches the remembered jobs, newest first. */
export function searchTasks(tracker: TaskTracker, query: TaskQuery): TaskPage {
  const state = query.state !== undefined && STATES.has(query.state) ? query.state : undefined;
  const matches: TrackedJob[] = [];
  for (const j of tracker.jobs.values()) {
    if (state !== undefined && j.state !== state) continue;
    if (query.skill !== undefined && j.type !== query.skill) continue;
    if (query.worker !== undefined && j.workerId !== query.worker) continue;
    if (query.q !== undefined && !j.jobId.includes(query.q) && !j.taskId.includes(query.q)) continue;
    matches.push(j);
  }
  const end = matches.length - query.offset;
  const start = Math.max(0, end - query.limit);
  const items = end <= 0 ? [] : matches.slice(start, end).reverse().map(rowOf);
  return { total: matches.length, known: tracker.jobs.size, offset: query.offset, limit: query.limit, items };
}

/** A job from the store as the detail page shows it (inputs and outputs as short previews). */
export function jobView(job: JobRecord): Record<string, unknown> {
  return {
    jobId: job.jobId,
    taskId: job.taskId,
    type: job.type,
    state: job.state,
    status: job.status ?? null,
    priority: job.priority,
    attempts: job.attempts,
    maxRetries: job.maxRetries,
    workerId: job.workerId ?? null,
    resultWorkerId: job.resultWorkerId ?? null,
    submittedAt: job.submittedAt,
    dispatchedAt: job.dispatchedAt ?? null,
    finishedAt: job.finishedAt ?? null,
    cancelRequestedAt: job.cancelRequestedAt ?? null,
    deadline: job.deadline ?? null,
    progress: job.progress ?? null,
    endReason: job.endReason ?? null,
    error: job.error ? { code: clip(String(job.error.code), 64), message: clip(String(job.error.message ?? ""), 500) } : null,
    requirements: bounded(job.requirements, 4, 16, 100),
    params: preview(job.params, 1000) ?? null,
    data: preview(job.data, 1000) ?? null,
  };
}

/** One job's detail, or null when neither the store nor this hub's memory knows it. */
export async function taskDetail(getJob: (id: string) => Promise<JobRecord | undefined>, tracker: TaskTracker, jobId: string): Promise<TaskDetail | null> {
  const job = await getJob(jobId);
  const tracked = tracker.jobs.get(jobId);
  if (job === undefined && tracked === undefined) return null;
  return {
    jobId,
    job: job !== undefined ? jobView(job) : tracked !== undefined ? { ...rowOf(tracked), forgotten: true } : null,
    timeline: tracked?.timeline ?? [],
  };
}
