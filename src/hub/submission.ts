/**
 * The submissions room: checks a task before it exists (type, params and metadata the wire can
 * carry, trace context, params some known contract accepts), then one store transition records
 * and queues it, answering an earlier job for a repeated idempotency key and refusing past the
 * queue limits.
 */
import { randomUUID } from "node:crypto";
import { ErrorCode } from "../../generated/constants.js";
import type { SkillInfo, TaskError } from "../../generated/types.js";
import { isValidIdentifier } from "../contracts/identifiers.js";
import { validateParams } from "../contracts/validate.js";
import { RateLimitError, ValidationError, type ValidationIssue } from "../errors.js";
import { parseTraceparent } from "../tracing/context.js";
import { canonicalize } from "../wire/canonical.js";
import type { HubCore } from "./core.js";
import { paramsSatisfy } from "../matching/requirement.js";
import { contractKeyOf, MAX_QUEUE_VERDICTS, queueNameOf } from "./dispatch.js";
import { isPromise } from "./flow.js";
import { RecentMap } from "../recent.js";
import type { HandOff } from "./dispatcher.js";
import type { Outcomes } from "./outcomes.js";
import { taskIdOf, type JobParent, type JobRecord, type NewJob, type SubmitVerdict } from "./store.js";
import type { SubmitOptions, TaskHandle } from "./types.js";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/;
/** How long cached contracts of a skill are trusted before a refusal is confirmed against the store. */
const CONTRACTS_FRESH_MS = 1000;
/** Skills whose contracts are kept at hand (the most recently submitted ones; any other is read). */
const CONTRACTS_KEPT = 4096;

/** A job being made: its queue is named after the contract check. */
type Draft = { -readonly [K in keyof NewJob]: NewJob[K] };

/** Seconds a client is told to wait when the queues are full. */
export const QUEUE_FULL_RETRY_MS = 1000;

/** Submits tasks. */
export class Submissions {
  readonly #core: HubCore;
  readonly #outcomes: Outcomes;
  readonly #contracts = new RecentMap<string, { at: number; list: readonly SkillInfo[] }>(CONTRACTS_KEPT);

  /** Told of each queue a submission goes to, before the transition (set by the hub). */
  onQueue: (job: NewJob, paramsSize: number) => void = () => {};
  /** A held poll to hand the job to in the submit step, if one can run it (set by the hub). */
  handOff: (job: NewJob) => HandOff | undefined = () => undefined;

  constructor(core: HubCore, outcomes: Outcomes) {
    this.#core = core;
    this.#outcomes = outcomes;
  }

  /** Checks, records and queues a task; see {@link Hub.submit}. */
  async submit(options: SubmitOptions, parent?: JobParent, follow = true): Promise<TaskHandle> {
    const core = this.#core;
    if (core.closed) throw new ValidationError("Hub is closed");
    const [job, paramsSize] = this.#newJob(options, parent);
    const { rejection, verdicts } = await this.#contractCheck(job);
    job.queue = queueNameOf(job.type, job.requirements, verdicts);
    if (rejection !== undefined) {
      const verdict = await core.store.reject(job, rejection);
      if (verdict.kind === "refused") throw new Error("unreachable: reject never refuses");
      if (verdict.kind === "existing") sameTask(job, verdict.job, options.maxRetries !== undefined);
      if (verdict.kind === "created") {
        core.counters.submitted++;
        core.counters.rejected++;
        core.events.emit("task:submitted", { jobId: verdict.job.jobId, taskId: verdict.job.taskId, type: verdict.job.type });
        this.#outcomes.completed(verdict.job);
      }
      return follow ? this.#outcomes.handle(verdict.job) : this.#outcomes.snapshot(verdict.job);
    }
    if (follow) this.#outcomes.expect(job.jobId, taskIdOf(job.jobId, 0));
    this.onQueue(job, paramsSize);
    // A poll held here that can run the job gets it in the same store step when nothing waits
    // ahead of it: no queue entry, signal or claim of its own.
    const hand = this.handOff(job);
    let verdict: SubmitVerdict;
    try {
      // Not awaited when the store answers at once: `task:submitted` is then announced before
      // the store's signals (a held poll claiming the task) are heard.
      const answer = core.store.submit(job, core.settings.queueLimits, hand?.workerId);
      verdict = isPromise(answer) ? await answer : answer;
    } catch (err) {
      this.#outcomes.forget(job.jobId);
      hand?.done(undefined);
      throw err;
    }
    if (verdict.kind !== "created") {
      this.#outcomes.forget(job.jobId);
      hand?.done(undefined);
    }
    if (verdict.kind === "existing") sameTask(job, verdict.job, options.maxRetries !== undefined);
    if (verdict.kind === "refused") {
      core.counters.throttled++;
      core.logger.warn({ type: job.type, scope: verdict.scope, limit: verdict.limit }, "hub: submission refused, queue full");
      throw new RateLimitError(queueFullMessage(verdict.scope, verdict.limit, job.type), QUEUE_FULL_RETRY_MS, {
        details: { reason: "queue_full", scope: verdict.scope },
      });
    }
    if (verdict.kind === "created") {
      core.counters.submitted++;
      core.events.emit("task:submitted", { jobId: verdict.job.jobId, taskId: verdict.job.taskId, type: verdict.job.type });
      hand?.done(verdict.job);
    }
    return follow ? this.#outcomes.handle(verdict.job) : this.#outcomes.snapshot(verdict.job);
  }

  /** The job to record (its queue named by `submit` once the contracts have ruled), and the size of its params' canonical text. */
  #newJob(options: SubmitOptions, parent: JobParent | undefined): [Draft, number] {
    const core = this.#core;
    if (options === null || typeof options !== "object") throw new ValidationError("Submit options must be an object", [{ path: "", message: "must be an object" }]);
    if (!isValidIdentifier(options.type, 128)) {
      throw new ValidationError("Task type must be a skill name (letters, digits, _ and -, at most 128)", [{ path: "/type", message: "must be a skill name" }]);
    }
    const params = options.params ?? {};
    if (params === null || typeof params !== "object" || Array.isArray(params)) {
      throw new ValidationError("Task params must be an object", [{ path: "/params", message: "must be an object" }]);
    }
    if (options.metadata !== undefined && (options.metadata === null || typeof options.metadata !== "object" || Array.isArray(options.metadata))) {
      throw new ValidationError("Task metadata must be an object", [{ path: "/metadata", message: "must be an object" }]);
    }
    const issues: ValidationIssue[] = [];
    const paramsSize = sendable(params, "/params", issues);
    if (options.metadata !== undefined) sendable(options.metadata, "/metadata", issues);
    if (options.idempotencyKey !== undefined && (typeof options.idempotencyKey !== "string" || !IDEMPOTENCY_KEY.test(options.idempotencyKey))) {
      issues.push({ path: "/idempotencyKey", message: "must be 1 to 256 visible ASCII characters" });
    }
    if (options.traceparent !== undefined && parseTraceparent(options.traceparent) === undefined) {
      issues.push({ path: "/traceparent", message: "must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)" });
    }
    if (options.tracestate !== undefined && (typeof options.tracestate !== "string" || options.tracestate.length > 512 || /[^\x20-\x7e]/.test(options.tracestate))) {
      issues.push({ path: "/tracestate", message: "must be at most 512 visible ASCII characters" });
    }
    if (issues.length > 0) {
      const first = issues[0]!;
      throw new ValidationError(`Invalid task: ${first.path} ${first.message}`, issues.slice(0, 20));
    }
    const now = core.now();
    const deadline = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline ?? (options.timeoutMs !== undefined ? now + options.timeoutMs : undefined);
    if (deadline !== undefined && !Number.isFinite(deadline)) throw new ValidationError("Deadline must be a finite time", [{ path: "/deadline", message: "not finite" }]);
    const requirements = options.requirements ?? {};
    const job: Draft = {
      jobId: `job-${randomUUID()}`,
      type: options.type,
      queue: "",
      params,
      requirements,
      priority: options.priority ?? 0,
      maxRetries: options.maxRetries ?? core.settings.maxRetries,
      ...(deadline !== undefined ? { deadline } : {}),
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
      ...(options.owner !== undefined ? { owner: options.owner } : {}),
      ...(options.idempotencyKey !== undefined ? { idempotencyKey: options.idempotencyKey } : {}),
      ...(options.traceparent !== undefined ? { trace: { traceparent: options.traceparent, ...(options.tracestate !== undefined ? { tracestate: options.tracestate } : {}) } } : {}),
      ...(parent !== undefined ? { parent } : {}),
    };
    return [job, paramsSize];
  }

  /**
   * Params no known contract of the skill accepts are refused at once (nobody could ever run
   * them). Contracts are the distinct ones of the fleet, not one per worker, so the check costs
   * the same with ten workers or a hundred thousand. The verdict of each contract checked (up to
   * {@link MAX_QUEUE_VERDICTS}) goes into the task's queue name, so a worker whose contract has a
   * verdict there takes from the queue without its params being checked again.
   */
  async #contractCheck(job: NewJob): Promise<{ rejection?: TaskError; verdicts: Map<string, boolean> }> {
    const known = this.#core.settings.knownSkills.get(job.type);
    const verdicts = new Map<string, boolean>();
    // Every contract is checked once, also when the fresh list below repeats the cached one: the
    // first ones checked are in `verdicts`, those past its cap here.
    let pastVerdicts: Set<string> | undefined;
    let first: ValidationIssue[] | undefined;
    let accepted = false;
    const check = (skill: SkillInfo): void => {
      const key = skill.input_schema === undefined ? undefined : contractKeyOf(skill);
      if (key !== undefined) {
        if (verdicts.has(key) || pastVerdicts?.has(key) === true) return;
        if (verdicts.size >= MAX_QUEUE_VERDICTS) (pastVerdicts ??= new Set()).add(key);
      }
      const r = validateParams(skill, job.params);
      if (key !== undefined && verdicts.size < MAX_QUEUE_VERDICTS) verdicts.set(key, paramsSatisfy(skill, job.params, r));
      if (r.ok || r.reason !== "invalid") accepted = true;
      else first ??= [...r.errors];
    };
    const checkAll = (list: readonly SkillInfo[]): void => {
      for (const skill of list) {
        // Past the verdicts a name carries, only whether anyone accepts still matters.
        if (accepted && verdicts.size >= MAX_QUEUE_VERDICTS) return;
        check(skill);
      }
    };
    if (known !== undefined) check(known);
    let contracts = await this.#contractsOf(job.type, false);
    checkAll(contracts);
    if (accepted || (known === undefined && contracts.length === 0)) return { verdicts };
    contracts = await this.#contractsOf(job.type, true);
    checkAll(contracts);
    if (accepted || (known === undefined && contracts.length === 0)) return { verdicts };
    const errors = (first ?? []).slice(0, 20);
    const top = errors[0];
    return {
      rejection: {
        code: ErrorCode.INVALID_INPUT_ERROR,
        message: `Params do not match the input schema of skill '${job.type}'${top ? `: ${top.path || "/"} ${top.message}` : ""}`,
        details: { errors },
      },
      verdicts,
    };
  }

  async #contractsOf(skill: string, fresh: boolean): Promise<readonly SkillInfo[]> {
    const now = this.#core.now();
    const cached = this.#contracts.get(skill);
    if (!fresh && cached !== undefined && now - cached.at < CONTRACTS_FRESH_MS) return cached.list;
    const list = await this.#core.store.contractsOf(skill);
    this.#contracts.set(skill, { at: now, list });
    return list;
  }
}

/**
 * An idempotency key names one task: a submission that finds the job of its key must ask for the
 * same task (type, params, requirements, priority, metadata, and `maxRetries` when it gives one;
 * not the deadline, which a retry computes anew), else it is refused with 422 instead of being
 * answered with a job that is not what it asked for.
 */
function sameTask(job: Draft, existing: JobRecord, maxRetriesGiven: boolean): void {
  const task = (j: Draft | JobRecord, maxRetries: number): string =>
    canonicalize({ type: j.type, params: j.params, requirements: j.requirements, priority: j.priority, metadata: j.metadata ?? null, maxRetries });
  if (task(job, maxRetriesGiven ? job.maxRetries : existing.maxRetries) === task(existing, existing.maxRetries)) return;
  throw new ValidationError("Idempotency-Key was already used for a different task", [{ path: "/idempotencyKey", message: "already used for a different task" }], {
    status: 422,
    details: { reason: "idempotency_key_reused" },
  });
}

/** Why a submission was refused by a queue limit, for the client. */
function queueFullMessage(scope: "total" | "skill" | "owner" | "classes", limit: number, type: string): string {
  if (scope === "classes") return `Queue full: at most ${limit} distinct requirement classes may have tasks waiting for skill '${type}'`;
  return `Queue full: at most ${limit} waiting tasks ${scope === "total" ? "in all" : scope === "skill" ? `for skill '${type}'` : "for this client"}`;
}

/**
 * Records, under `base`, where a value cannot travel in canonical JSON (huge numbers, lone
 * surrogates, too deep...); returns the length of its canonical text (0 when it cannot travel).
 */
function sendable(value: unknown, base: string, issues: ValidationIssue[]): number {
  try {
    // As the worker receives it: one level down in the task payload.
    return canonicalize({ [base.slice(1)]: value }).length;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    for (const e of err.errors.slice(0, 20)) issues.push({ path: e.path, message: e.message });
    if (err.errors.length === 0) issues.push({ path: base, message: err.message });
    return 0;
  }
}
