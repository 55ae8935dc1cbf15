/**
 * Dispatch decisions that need no state: can this worker run this task, and what the worker
 * receives. Matching itself (skills, versions, resources, artifacts, params contract) is the
 * matching module's; this file only maps hub records onto it.
 */
import type { SkillInfo, TaskPayload, TaskError } from "../../generated/types.js";
import { ErrorCode } from "../../generated/constants.js";
import { matchWorker, findSkill, paramsSatisfy, type WorkerRequirement, type WorkerRecord as MatchWorker } from "../matching/requirement.js";
import { schemaKey } from "../contracts/schema-key.js";
import { signTask } from "../security/task-signature.js";
import type { JobRecord, TaskRequirements, WorkerRecord } from "./store.js";

/** Error codes a task is re-run after (up to its retry limit); all others end it. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.TRANSIENT_ERROR,
  ErrorCode.TIMEOUT_ERROR,
  ErrorCode.RESOURCE_EXHAUSTED_ERROR,
  ErrorCode.INTERNAL_ERROR,
  ErrorCode.DEPENDENCY_MISSING_ERROR,
]);

/**
 * Content key of a JSON-able value (the contracts' schema key: sorted keys, SHA-256), shortened.
 * Inputs here are already bounded by the body limits; the key's own bounds sit above them.
 */
function contentKey(value: unknown): string {
  return schemaKey(value, 128, 1 << 23).slice(0, 32);
}

/** Most contract verdicts a queue name carries; a skill with more contracts leaves the rest to a check per task. */
export const MAX_QUEUE_VERDICTS = 8;

/**
 * Queue of a task: its skill, its requirement class and, when known, which input contracts of the
 * skill accept its params (`verdicts`, by {@link contractKeyOf}). Tasks that need the same thing
 * wait in one queue, so a worker looks at the head of each queue it can serve instead of scanning
 * past tasks it cannot run; and a worker whose contract has a verdict in the name is decided for
 * the whole queue, without reading any task's params.
 *
 * Form: `skill:class` or `skill:class:key+,key-,...` (keys sorted; `+` accepts, `-` refuses).
 */
export function queueNameOf(skill: string, requirements: TaskRequirements, verdicts?: ReadonlyMap<string, boolean>): string {
  const base = Object.keys(requirements).length === 0 ? `${skill}:*` : `${skill}:${contentKey(requirements)}`;
  if (verdicts === undefined || verdicts.size === 0) return base;
  const parts = [...verdicts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, ok]) => `${k}${ok ? "+" : "-"}`);
  return `${base}:${parts.join(",")}`;
}

/** The contract verdicts a queue name carries (see {@link queueNameOf}); empty when it carries none. */
export function queueVerdicts(name: string): ReadonlyMap<string, boolean> {
  const out = new Map<string, boolean>();
  const first = name.indexOf(":");
  const second = first < 0 ? -1 : name.indexOf(":", first + 1);
  if (second < 0) return out;
  for (const part of name.slice(second + 1).split(",")) {
    const sign = part.charAt(part.length - 1);
    if (part.length > 1 && (sign === "+" || sign === "-")) out.set(part.slice(0, -1), sign === "+");
  }
  return out;
}

const contractKeys = new WeakMap<SkillInfo, string | null>();

/**
 * Content key of a skill's input contract: its `input_schema` and `schema_dialect` (what a params
 * check depends on), memoized per skill object; undefined for a schema too large or deep to key
 * (such a contract gets no verdict: its tasks are checked one by one).
 */
export function contractKeyOf(skill: SkillInfo): string | undefined {
  let key = contractKeys.get(skill);
  if (key === undefined) {
    try {
      key = contentKey([skill.input_schema ?? null, skill.schema_dialect ?? null]);
    } catch {
      key = null;
    }
    contractKeys.set(skill, key);
  }
  return key ?? undefined;
}

/**
 * Profile of a worker: a content key of everything matching looks at, and nothing else (of its
 * capabilities only `extra` is matched; hostnames and addresses would make every worker a class
 * of its own).
 */
export function profileOf(worker: Pick<WorkerRecord, "skills" | "resources" | "installedArtifacts" | "installedSoftware" | "capabilities" | "hotSkills">): string {
  return contentKey([worker.skills, worker.resources ?? null, worker.installedArtifacts ?? null, worker.installedSoftware ?? null, worker.capabilities?.extra ?? null, worker.hotSkills ?? null]);
}

/** The matching module's requirement for a task class (without params). */
export function classRequirement(skill: string, r: TaskRequirements): WorkerRequirement {
  const req: WorkerRequirement = { skill };
  if (r.skillVersion !== undefined) req.skillVersion = r.skillVersion;
  if (r.skillType !== undefined) req.skillType = r.skillType;
  if (r.resources !== undefined) req.resources = r.resources;
  if (r.artifacts !== undefined) req.artifacts = r.artifacts;
  if (r.software !== undefined) req.software = r.software;
  if (r.extra !== undefined) req.extra = r.extra;
  return req;
}

/** Can a worker of this view run tasks of this class (everything but params)? */
export function canRunClass(view: MatchWorker, skill: string, requirements: TaskRequirements): boolean {
  return matchWorker(view, classRequirement(skill, requirements));
}

/** Do `params` satisfy the view's contract of `skill`? */
export function acceptsParams(view: MatchWorker, skill: string, params: Record<string, unknown>): boolean {
  const s = findSkill(view.supported_skills, skill);
  return s !== undefined && paramsSatisfy(s, params);
}

/** The matching module's requirement for a job (its class and its params). */
export function requirementOf(job: JobRecord): WorkerRequirement {
  return { ...classRequirement(job.type, job.requirements), params: job.params };
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

/** The worker's skill for a task type. */
export function skillFor(worker: WorkerRecord, type: string): SkillInfo | undefined {
  return findSkill(worker.skills, type);
}

/** What the hub adds to every dispatched task. */
export interface PayloadExtras {
  /** Signs the task (`sig`) with this orchestrator secret. */
  readonly orchestratorKey?: string;
  /** `policy.allowed_skills`. */
  readonly allowedSkills?: readonly string[];
}

/** The task as sent to the worker. */
export function payloadFor(job: JobRecord, nowMs: number, extras: PayloadExtras = {}): TaskPayload {
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
  if (job.trace !== undefined) {
    p.tracing_context = { traceparent: job.trace.traceparent, ...(job.trace.tracestate !== undefined ? { tracestate: job.trace.tracestate } : {}) };
  }
  if (job.parent !== undefined) p.depth = job.parent.depth;
  if (job.parent?.hash !== undefined) p.parent_hash = job.parent.hash;
  if (extras.allowedSkills !== undefined) p.policy = { allowed_skills: [...extras.allowedSkills] };
  return extras.orchestratorKey !== undefined ? signTask(p, extras.orchestratorKey) : p;
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
