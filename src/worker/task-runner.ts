/**
 * One task from pick-up to delivered result: deadline timer, progress reporter, execution,
 * the TaskResult, delivery, counters and events. The worker decides when a task may start; this
 * decides what happens to it, and guarantees that exactly one result is attempted.
 */
import { randomUUID } from "node:crypto";
import { ErrorCode, EventType, TaskStatus } from "../../generated/constants.js";
import type { TaskPayload, TaskResult } from "../../generated/types.js";
import { ProtocolError, RxonError } from "../errors.js";
import type { Logger } from "../logger.js";
import { verifyTaskSignature } from "../security/task-signature.js";
import { linkSignals, WAKE } from "../transport/abort.js";
import { receivedForm } from "../transport/received.js";
import type { SkillCallOptions, SkillCallOutcome } from "../transport/types.js";
import type { PollOptions, WorkerTransport } from "../transport/types.js";
import type { TypedEmitter } from "./emitter.js";
import { abortTask, errorOutcome, executeTask, type RunningTask, type TaskOutcome } from "./execute.js";
import { withFields } from "./log.js";
import { ProgressReporter } from "./progress.js";
import type { RateLimitHold } from "./rate-limit.js";
import { deliverResult, type DeliveryOutcome } from "./results.js";
import { traceTask, UNTRACED, type TaskTracing } from "./trace.js";
import type { TaskContext, WorkerClock, WorkerEvents, WorkerSkill } from "./types.js";
import { elapsedNow } from "./clock.js";

/** Counters the runner updates. */
export interface TaskCounters {
  succeeded: number;
  failed: number;
  cancelled: number;
  ignored: number;
  lost: number;
}

/** What a {@link TaskRunner} needs from its worker. */
export interface TaskRunnerSettings {
  readonly workerId: string;
  readonly transport: WorkerTransport;
  readonly skills: ReadonlyMap<string, WorkerSkill>;
  readonly clock: WorkerClock;
  readonly logger: Logger;
  readonly emitter: TypedEmitter<WorkerEvents>;
  readonly counters: TaskCounters;
  readonly resultAttempts: number;
  readonly progressIntervalMs: number;
  /** Bound of the final progress flush. */
  readonly flushTimeoutMs: number;
  /** Aborted at the end of shutdown: pending deliveries and events give up. */
  readonly signal: AbortSignal;
  /** The worker's shared wait after 429s (results wait through it too). */
  readonly rateLimit?: RateLimitHold;
  /** The orchestrator's task-signing secret: tasks must carry a valid `sig`. */
  readonly orchestratorKey?: string;
  /**
   * Asked before a result goes out: poll options when its answer may carry the worker's next task
   * (the task's slot is the one the worker would poll for next), else undefined.
   */
  readonly nextPoll?: () => PollOptions | undefined;
}

const round4 = (seconds: number): number => Math.round(seconds * 10_000) / 10_000;

/** `policy.allowed_skills` of a task; undefined without one, and an empty list when it is not an array (nothing allowed). */
function allowedSkills(task: Readonly<TaskPayload>): readonly unknown[] | undefined {
  const allowed: unknown = (task.policy as { allowed_skills?: unknown } | undefined)?.allowed_skills;
  if (allowed === undefined) return undefined;
  return Array.isArray(allowed) ? allowed : [];
}

/** Longest part of a refusal's text copied into the failure sent instead of the result. */
const MAX_REASON_CHARS = 200;

/**
 * The failure sent in place of a result that cannot go out as it is: one with no JSON form, found
 * while encoding it (a handler's output is checked before, so this is e.g. an RxonError's
 * `details`), or one whose content the orchestrator refused (400 or 422: invalid, e.g. data
 * clients could not be shown; 413: too large). Neither gets better by running the task again, so
 * the codes end it. Undefined for any other end of a delivery.
 */
function unsendable(delivery: DeliveryOutcome): TaskOutcome | undefined {
  if (delivery.kind === "invalid") {
    const issue = delivery.error.errors[0];
    const where = issue !== undefined ? ` ${issue.path || "/"} ${issue.message}`.slice(0, MAX_REASON_CHARS) : "";
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Local contract violation: result cannot be sent as JSON.${where}` } };
  }
  if (delivery.kind !== "lost" || !(delivery.error instanceof ProtocolError)) return undefined;
  const status = delivery.error.status;
  if (status === 413) {
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.LIMIT_EXCEEDED_ERROR, message: "Result is larger than the orchestrator accepts (HTTP 413)" } };
  }
  if (status === 400 || status === 422) {
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Result refused by the orchestrator as invalid (HTTP ${status})` } };
  }
  return undefined;
}

/** Runs tasks for one worker. */
export class TaskRunner {
  constructor(private readonly s: TaskRunnerSettings) {}

  /** Runs `run.task` to a delivered (or given up) result; never throws. Resolves with the next task when the result's answer carried one. */
  async run(run: RunningTask): Promise<TaskPayload | undefined> {
    const { s } = this;
    const task = run.task;
    // Made on first use: most tasks log nothing and report no progress.
    const logger = new TaskLogger(s.logger, task);
    s.emitter.emit("task:start", { task });
    // The deadline is the orchestrator's time: read on this machine's clock, shifted by the offset
    // the transport measured, so a clock that is off does not end tasks early (or late).
    const deadline = typeof task.deadline === "number" && Number.isFinite(task.deadline) ? task.deadline * 1000 - (s.transport.clockOffsetMs ?? 0) : undefined;
    let finished: AbortController | undefined;
    if (deadline !== undefined && deadline <= s.clock.now()) {
      abortTask(run, "deadline");
    } else if (deadline !== undefined) {
      const timer = (finished = new AbortController());
      void s.clock.sleep(deadline - s.clock.now(), timer.signal).then(() => {
        if (!timer.signal.aborted) abortTask(run, "deadline");
      });
    }
    const tracing = traceTask(task, s.workerId);
    let progress: ProgressReporter | undefined;
    // Progress reported after the result was decided is dropped, as the reporter's flush() does.
    let progressClosed = false;
    const runner = this;
    // Optional members are added after the literal: spreading them in costs more than the rest.
    const ctx: { -readonly [K in keyof TaskContext]: TaskContext[K] } = {
      // A getter: the task's AbortSignal is made only for a handler that reads it.
      get signal() {
        return run.signal;
      },
      taskId: task.task_id,
      jobId: task.job_id,
      // Methods that do not use `this`, so a destructured `progress` or `callSkill` works too.
      progress(fraction, message) {
        if (progressClosed) return;
        progress ??= new ProgressReporter((p, m) => runner.sendProgress(task, p, m, tracing), s.progressIntervalMs, s.clock, logger);
        progress.report(fraction, message);
      },
      get logger() {
        return logger.fields();
      },
      workerId: s.workerId,
      task,
      callSkill(name, params, options) {
        return runner.callSkill(run, name, params, options);
      },
    };
    if (tracing.trace !== undefined) ctx.trace = tracing.trace;
    if (deadline !== undefined) ctx.deadline = deadline;
    let outcome: TaskOutcome;
    try {
      const refusal = this.refusal(task);
      if (refusal !== undefined) logger.warn({ code: refusal.error?.code, reason: refusal.error?.message }, "task refused");
      // Untraced: no span to make active, so no closure to hand it either.
      if (refusal !== undefined) outcome = refusal;
      else if (tracing === UNTRACED) outcome = await executeTask(run, s.skills.get(task.type), ctx, logger);
      else outcome = await tracing.span.run(() => executeTask(run, s.skills.get(task.type), ctx, logger));
    } catch (err) {
      outcome = errorOutcome(err, String(task.type), logger);
    } finally {
      finished?.abort(WAKE);
    }
    tracing.span.setAttribute("rxon.task.status", outcome.status);
    tracing.span.end(outcome.error);
    progressClosed = true;
    if (progress !== undefined) await progress.flush(s.flushTimeoutMs);
    const sending = tracing.span.child("rxon.result", { kind: "producer" });
    const next = await this.report(run, outcome, logger, tracing);
    sending.end();
    return next;
  }

  /**
   * Why a task must not run, as its failure outcome: a missing or wrong orchestrator signature
   * (when a key is configured), or a `policy.allowed_skills` that does not list the task's type.
   * A refused task still gets its (signed) result: silence would leave the job hanging.
   */
  private refusal(task: Readonly<TaskPayload>): TaskOutcome | undefined {
    const key = this.s.orchestratorKey;
    // Checked on the JSON as received when the transport kept it (decoding added defaults).
    if (key !== undefined && !verifyTaskSignature(receivedForm(task) ?? task, key)) {
      const present = typeof task.sig === "string" || typeof task.orchestrator_signature === "string";
      return { status: TaskStatus.FAILURE, error: { code: ErrorCode.INTEGRITY_MISMATCH_ERROR, message: present ? "Task signature does not match" : "Task is not signed by the orchestrator" } };
    }
    const allowed = allowedSkills(task);
    if (allowed !== undefined && !allowed.includes(task.type)) {
      return { status: TaskStatus.FAILURE, error: { code: ErrorCode.PERMANENT_ERROR, message: `Skill '${String(task.type).slice(0, 128)}' is not allowed by the task's policy` } };
    }
    return undefined;
  }

  /** `ctx.callSkill`: the transport's skill call, aborted with the task as well. */
  private async callSkill(run: RunningTask, name: string, params: Record<string, unknown> | undefined, options: SkillCallOptions = {}): Promise<SkillCallOutcome> {
    const transport = this.s.transport;
    if (transport.callSkill === undefined) throw new RxonError("This worker's transport cannot call skills");
    // The policy lists the skills a task may run: its own type and any it calls.
    const allowed = allowedSkills(run.task);
    if (allowed !== undefined && !allowed.includes(name)) {
      throw new RxonError(`Skill '${String(name).slice(0, 128)}' is not allowed by the task's policy`, { code: ErrorCode.PERMANENT_ERROR });
    }
    const linked = linkSignals(run.signal, options.signal);
    try {
      return await transport.callSkill(name, params ?? {}, { ...options, taskId: run.task.task_id, signal: linked.signal });
    } finally {
      linked.dispose();
    }
  }

  private resultFor(run: RunningTask, outcome: TaskOutcome, tracing: TaskTracing): TaskResult {
    const task = run.task;
    const result: TaskResult = { job_id: task.job_id, task_id: task.task_id, worker_id: this.s.workerId, status: outcome.status };
    if (typeof task.origin_worker_id === "string") result.origin_worker_id = task.origin_worker_id;
    if (outcome.data !== undefined) result.data = outcome.data;
    if (outcome.error !== undefined) result.error = outcome.error;
    result.costs = { execution_time_seconds: round4(Math.max(0, elapsedNow(this.s.clock) - run.startedTick) / 1000) };
    // The orchestrator's time, like every other timestamp the worker sends.
    result.picked_up_at = Math.floor((run.startedAt + (this.s.transport.clockOffsetMs ?? 0)) / 1000);
    // TaskResult has no trace field of its own; metadata is free-form and merged into the job's.
    const carrier = tracing.carrier;
    if (carrier !== undefined) result.metadata = { tracing_context: { ...carrier } };
    return result;
  }

  private async report(run: RunningTask, outcome: TaskOutcome, logger: Logger, tracing: TaskTracing): Promise<TaskPayload | undefined> {
    const { s } = this;
    let result = this.resultFor(run, outcome, tracing);
    const options = { attempts: s.resultAttempts, clock: s.clock, logger, signal: s.signal, ...(s.rateLimit !== undefined ? { rateLimit: s.rateLimit } : {}), ...(s.nextPoll !== undefined ? { next: s.nextPoll } : {}) };
    let delivery = await deliverResult(s.transport, result, options);
    const instead = unsendable(delivery);
    if (instead !== undefined) {
      // One result must still go out, and saying why ends the task: a lost result would run the
      // task again once its lease lapsed, to fail the same way each time.
      logger.error({ err: "error" in delivery ? delivery.error : undefined, code: instead.error?.code }, "result cannot be sent; reporting a failure instead");
      // An orchestrator that read the refused result keeps its (job, task, second) against
      // replays: a second result within the same second would be refused as one.
      if (delivery.kind === "lost") await s.clock.sleep(1_000, s.signal);
      result = this.resultFor(run, instead, tracing);
      delivery = await deliverResult(s.transport, result, options);
    }
    const status = result.status;
    if (status === TaskStatus.SUCCESS) s.counters.succeeded++;
    else if (status === TaskStatus.CANCELLED) s.counters.cancelled++;
    else s.counters.failed++;
    if (delivery.kind === "ignored") {
      s.counters.ignored++;
      logger.info({ reason: delivery.reason }, "result ignored by the orchestrator");
    } else if (delivery.kind !== "delivered") {
      s.counters.lost++;
      logger.error({ err: delivery.error, status }, "result lost");
      s.emitter.emit("error", { error: delivery.error, where: "result" });
    }
    s.emitter.emit("task:done", { task: run.task, result, delivered: delivery.kind === "delivered" });
    return delivery.kind === "delivered" ? delivery.next : undefined;
  }

  private sendProgress(task: Readonly<TaskPayload>, progress: number, message: string, tracing: TaskTracing): Promise<boolean> {
    const id = this.s.workerId;
    return this.s.transport.emitEvent(
      {
        event_id: randomUUID(),
        worker_id: id,
        origin_worker_id: id,
        event_type: EventType.PROGRESS,
        payload: { progress, message },
        origin_task_id: task.task_id,
        target_job_id: task.job_id,
        target_task_id: task.task_id,
        ...(tracing.carrier !== undefined ? { trace_context: { ...tracing.carrier } } : {}),
      },
      { signal: this.s.signal },
    );
  }
}

/**
 * A task's logger (entries carry `task_id` and `job_id`), made on the first entry: most tasks log
 * nothing, and the fields logger costs a handful of closures.
 */
class TaskLogger implements Logger {
  #fields: Logger | undefined;

  constructor(
    private readonly base: Logger,
    private readonly task: Readonly<TaskPayload>,
  ) {}

  /** The logger with the task's fields (what handlers get as `ctx.logger`). */
  fields(): Logger {
    return (this.#fields ??= withFields(this.base, { task_id: this.task.task_id, job_id: this.task.job_id }));
  }

  debug(fieldsOrMessage: object | string, message?: string): void {
    this.fields().debug(fieldsOrMessage, message);
  }

  info(fieldsOrMessage: object | string, message?: string): void {
    this.fields().info(fieldsOrMessage, message);
  }

  warn(fieldsOrMessage: object | string, message?: string): void {
    this.fields().warn(fieldsOrMessage, message);
  }

  error(fieldsOrMessage: object | string, message?: string): void {
    this.fields().error(fieldsOrMessage, message);
  }
}
