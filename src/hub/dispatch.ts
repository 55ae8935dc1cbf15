/**
 * Dispatch decisions that need no state: can this worker run this task, and what the worker
 * receives. Matching itself (skills, versions, resources, artifacts, params contract) is the
 * matching module's; this file only maps hub records onto it.
 */
import type { SkillInfo, TaskPayload, TaskError } from "../../generated/types.js";
import { ErrorCode } from "../../generated/constants.js";
import { matchWorker, findSkill, type WorkerRequirement, type WorkerRecord as MatchWorker } from "../matching/requirement.js";
import type { JobRecord, WorkerRecord } from "./store.js";

/** Error codes a task is re-run after (up to its retry limit); all others end it. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.TRANSIENT_ERROR,
  ErrorCode.TIMEOUT_ERROR,
  ErrorCode.RESOURCE_EXHAUSTED_ERROR,
  ErrorCode.INTERNAL_ERROR,
  ErrorCode.DEPENDENCY_MISSING_ERROR,
]);

/** The matching module's requirement for a job. */
export function requirementOf(job: JobRecord): WorkerRequirement {
  const r = job.requirements;
  const req: WorkerRequirement = { skill: job.type, params: job.params };
  if (r.skillVersion !== undefined) req.skillVersion = r.skillVersion;
  if (r.skillType !== undefined) req.skillType = r.skillType;
  if (r.resources !== undefined) req.resources = r.resources;
  if (r.artifacts !== undefined) req.artifacts = r.artifacts;
  if (r.software !== undefined) req.software = r.software;
  if (r.extra !== undefined) req.extra = r.extra;
  return req;
}

/** The worker as the matching module sees it (status is checked by the hub itself). */
export function matchView(worker: WorkerRecord): MatchWorker {
  return {
    worker_id: worker.id,
    supported_skills: worker.skills,
    hot_skills: worker.hotSkills,
    resources: worker.resources,
    installed_artifacts: worker.installedArtifacts,
    installed_software: worker.installedSoftware,
    capabilities: worker.capabilities,
  };
}

/** Can `worker` run `job` (skill, version, resources, artifacts, software, extras, params contract)? */
export function canRun(view: MatchWorker, job: JobRecord): boolean {
  return matchWorker(view, requirementOf(job));
}

/** The worker's skill for a task type. */
export function skillFor(worker: WorkerRecord, type: string): SkillInfo | undefined {
  return findSkill(worker.skills, type);
}

/** The task as sent to the worker. */
export function payloadFor(job: JobRecord, nowMs: number): TaskPayload {
  const p: TaskPayload = {
    job_id: job.jobId,
    task_id: job.taskId,
    type: job.type,
    params: job.params,
    priority: job.priority,
    timestamp: Math.floor(nowMs / 1000),
  };
  if (job.deadline !== undefined) p.deadline = job.deadline / 1000;
  if (job.requirements.skillVersion !== undefined) p.skill_version = job.requirements.skillVersion;
  if (job.requirements.skillType !== undefined) p.skill_type = job.requirements.skillType;
  if (job.metadata !== undefined) p.metadata = job.metadata;
  return p;
}

/** A result's error as a TaskError (a string or a missing code is TRANSIENT_ERROR, as in the reference). */
export function normalizeError(error: unknown): TaskError {
  if (typeof error === "string") return { code: ErrorCode.TRANSIENT_ERROR, message: error };
  if (error !== null && typeof error === "object") {
    const e = error as Partial<TaskError>;
    const out: TaskError = {
      code: typeof e.code === "string" && e.code !== "" ? e.code : ErrorCode.TRANSIENT_ERROR,
      message: typeof e.message === "string" ? e.message : "",
    };
    if (e.details !== undefined) out.details = e.details;
    return out;
  }
  return { code: ErrorCode.TRANSIENT_ERROR, message: "Task failed without an error" };
}
