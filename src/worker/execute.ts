/**
 * Running one task to an outcome: skill lookup, input contract, the handler raced against its
 * AbortSignal, output contract, and the mapping of whatever happened to exactly one
 * success/failure/cancelled outcome. Nothing here throws: a handler's exception is an outcome.
 */
import { ErrorCode, TaskStatus } from "../../generated/constants.js";
import type { TaskError, TaskPayload } from "../../generated/types.js";
import { validateParams, validateResult } from "../contracts/index.js";
import { isRxonError, ValidationError, type ValidationIssue } from "../errors.js";
import type { Logger } from "../logger.js";
import { canonicalize } from "../wire/canonical.js";
import type { TaskContext, WorkerSkill } from "./types.js";

/** Why a task's signal fired. */
export type AbortKind = "cancelled" | "deadline" | "shutdown";

const ABORT_MESSAGES: Record<AbortKind, [message: string, name: string]> = {
  cancelled: ["task cancelled by the orchestrator", "AbortError"],
  deadline: ["task deadline passed", "TimeoutError"],
  shutdown: ["worker is shutting down", "AbortError"],
};

/** What a task's signal carries: DOMExceptions like those of AbortSignal.timeout(), so `signal.throwIfAborted()` reads naturally. */
function abortReason(kind: AbortKind): DOMException {
  const [message, name] = ABORT_MESSAGES[kind];
  return new DOMException(message, name);
}

/**
 * A task being run by the worker. Its AbortSignal is made on first read: most handlers never look
 * at it, and a signal (an EventTarget) costs more to make than the rest of a task's bookkeeping.
 * Whether the task was aborted is known without it ({@link aborted}).
 */
export class RunningTask {
  /** Set by {@link abortTask}, once: why the task was aborted. */
  abortKind: AbortKind | undefined = undefined;
  /** Called once when the task is aborted: ends the race of an asynchronous handler against its abort. */
  onAbort: (() => void) | undefined = undefined;
  /**
   * True while an asynchronous handler has not settled. Still true after the task ended: the
   * handler ignored its abort and runs on, its slot free again and what it returns dropped.
   */
  handlerRunning = false;
  /** Called once when a handler that was still running after its task ended settles at last. */
  onHandlerEnd: (() => void) | undefined = undefined;
  /** Named already in a warning that the event loop was blocked while it ran. */
  blockReported = false;
  #controller: AbortController | undefined = undefined;

  constructor(
    readonly task: Readonly<TaskPayload>,
    /** Epoch milliseconds when the task was picked up. */
    readonly startedAt: number,
    /** The same moment on the worker's monotonic time (see `elapsedNow`), to measure the run with. */
    readonly startedTick: number = startedAt,
  ) {}

  /** True once the task was aborted (its signal, if made, has fired). */
  get aborted(): boolean {
    return this.abortKind !== undefined;
  }

  /** The handler's signal: fires on cancel, deadline or shutdown (made already fired after an abort). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.abortKind !== undefined) this.#controller.abort(abortReason(this.abortKind));
    }
    return this.#controller.signal;
  }

  /** Aborts the task once; the first reason wins. */
  abort(kind: AbortKind): void {
    if (this.abortKind !== undefined) return;
    this.abortKind = kind;
    this.#controller?.abort(abortReason(kind));
    const onAbort = this.onAbort;
    this.onAbort = undefined;
    onAbort?.();
  }
}

/** What a task came to, before it is wrapped into a TaskResult. */
export interface TaskOutcome {
  readonly status: string;
  readonly data?: Record<string, unknown>;
  readonly error?: TaskError;
}

/** Fires the task's signal once; the first reason wins. */
export function abortTask(run: RunningTask, kind: AbortKind): void {
  run.abort(kind);
}

/** The outcome of a task whose signal fired before its handler finished. */
export function abortedOutcome(kind: AbortKind | undefined): TaskOutcome {
  if (kind === "deadline") {
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.TIMEOUT_ERROR, message: "Task deadline passed before the handler finished" } };
  }
  if (kind === "shutdown") {
    // A failure, not `cancelled`: orchestrators end a cancelled job for good (the Python one whatever
    // the code), while a transient failure is re-queued and runs elsewhere.
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.TRANSIENT_ERROR, message: "Worker shut down before the task finished" } };
  }
  return { status: TaskStatus.CANCELLED };
}

const MAX_ISSUES = 10;

function issuesText(errors: readonly ValidationIssue[]): string {
  const first = errors[0];
  return first ? `${first.path || "/"} ${first.message}` : "no details";
}

function issuesDetails(errors: readonly ValidationIssue[]): Record<string, unknown> {
  return { errors: errors.slice(0, MAX_ISSUES).map((e) => ({ path: e.path, message: e.message })) };
}

/**
 * Maps a handler's exception to a TaskError. Protocol errors keep their code and message (the
 * author chose them for the wire); anything else becomes INTERNAL_ERROR with a fixed message, since
 * arbitrary exception texts can carry paths, hosts or secrets. The real error goes to the log.
 */
export function errorOutcome(err: unknown, skillName: string, logger: Logger): TaskOutcome {
  if (isRxonError(err)) {
    const error: TaskError = { code: err.code, message: err.message };
    if (err instanceof ValidationError && err.errors.length > 0) error.details = issuesDetails(err.errors);
    else if (Object.keys(err.details).length > 0) error.details = { ...err.details };
    logger.info({ code: err.code, err }, "skill failed");
    return { status: TaskStatus.FAILURE, error };
  }
  logger.error({ err }, "skill threw an unexpected error");
  const timeout = err instanceof Error && err.name === "TimeoutError";
  return {
    status: TaskStatus.FAILURE,
    error: timeout
      ? { code: ErrorCode.TIMEOUT_ERROR, message: `Skill '${skillName}' timed out` }
      : { code: ErrorCode.INTERNAL_ERROR, message: `Skill '${skillName}' failed with an unexpected error` },
  };
}

const ABORTED = Symbol("aborted");

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}

/**
 * Waits for an asynchronous handler's value or the task's abort, whichever comes first. A handler
 * that rejects after its result was decided is only logged (unless it rejects because of the abort).
 */
function race(run: RunningTask, pending: PromiseLike<unknown>, logger: Logger): Promise<Settled | typeof ABORTED> {
  return new Promise((resolve) => {
    let decided = false;
    const decide = (settled: Settled | typeof ABORTED): void => {
      if (decided) return;
      decided = true;
      run.onAbort = undefined;
      resolve(settled);
    };
    run.handlerRunning = true;
    const settled = (): void => {
      run.handlerRunning = false;
      const onEnd = run.onHandlerEnd;
      run.onHandlerEnd = undefined;
      onEnd?.();
    };
    Promise.resolve(pending).then(
      (value) => {
        settled();
        decide({ ok: true, value });
      },
      (error: unknown) => {
        settled();
        if (decided && !(error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError"))) {
          logger.debug({ err: error }, "aborted handler rejected after its result was decided");
        }
        decide({ ok: false, error });
      },
    );
    if (run.aborted) decide(ABORTED);
    else run.onAbort = () => decide(ABORTED);
  });
}

/**
 * Runs `run.task` with `skill` (undefined when the worker has no skill of that type) and returns
 * its outcome. The handler is raced against the task's abort: a handler that ignores its signal
 * cannot hold the result back; it is left to finish on its own and what it returns is dropped.
 */
export async function executeTask(run: RunningTask, skill: WorkerSkill | undefined, ctx: TaskContext, logger: Logger): Promise<TaskOutcome> {
  const task = run.task;
  if (skill === undefined) {
    // Retryable on purpose: the orchestrator mis-routed the task, another worker may well have the skill.
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.DEPENDENCY_MISSING_ERROR, message: `Skill '${String(task.type).slice(0, 128)}' is not offered by this worker` } };
  }
  const name = skill.info.name;
  if (run.aborted) return abortedOutcome(run.abortKind);

  const params = task.params ?? {};
  // Contracts in another dialect are not checked (PROTOCOL.md 9.3), as the orchestrator does.
  const input = validateParams(skill.info, params);
  if (!input.ok && input.reason !== "unsupported_dialect") {
    return {
      status: TaskStatus.FAILURE,
      error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Input does not match the contract of skill '${name}': ${issuesText(input.errors)}`, details: issuesDetails(input.errors) },
    };
  }

  let settled: Settled | typeof ABORTED;
  try {
    const returned: unknown = skill.handler(params as never, ctx);
    // A plain value needs no race: only an abort while the handler ran can beat it.
    if (isThenable(returned)) settled = await race(run, returned, logger);
    else settled = run.aborted ? ABORTED : { ok: true, value: returned };
  } catch (error) {
    settled = { ok: false, error };
  }
  if (settled === ABORTED) return abortedOutcome(run.abortKind);
  if (!settled.ok) {
    // A handler that rejects because its signal fired was aborted, whatever it threw.
    if (run.aborted) return abortedOutcome(run.abortKind);
    return errorOutcome(settled.error, name, logger);
  }

  const value = settled.value;
  if (value !== undefined && value !== null && (typeof value !== "object" || Array.isArray(value))) {
    return {
      status: TaskStatus.FAILURE,
      error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Local contract violation: skill '${name}' returned ${Array.isArray(value) ? "an array" : `a ${typeof value}`}, not an object` },
    };
  }
  const data = (value ?? undefined) as Record<string, unknown> | undefined;
  // First: it reads every member (a getter or proxy that throws is found here), and says more
  // about a Date than the contract would ("must be string").
  const unwritable = data === undefined ? undefined : unwritableOutput(data, logger);
  if (unwritable !== undefined) {
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Local contract violation: output cannot be sent as JSON. ${unwritable}` } };
  }
  const output = validateResult(skill.info, data ?? {});
  if (!output.ok && output.reason !== "unsupported_dialect") {
    return {
      status: TaskStatus.FAILURE,
      error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Local contract violation: output does not match schema. ${issuesText(output.errors)}`, details: issuesDetails(output.errors) },
    };
  }
  return data === undefined ? { status: TaskStatus.SUCCESS } : { status: TaskStatus.SUCCESS, data };
}

/**
 * Why `data` has no JSON form (`<pointer> <reason>`), or undefined when it has one. Checked here as
 * the hub checks submitted params, because encoding a message works on a copy of it, which would
 * turn a class instance (a Date, a Map) into `{}` and let the task succeed without its data.
 */
function unwritableOutput(data: Record<string, unknown>, logger: Logger): string | undefined {
  try {
    canonicalize(data);
    return undefined;
  } catch (err) {
    if (err instanceof ValidationError) {
      const issue = err.errors[0];
      return issue !== undefined ? `${issue.path || "/"} ${issue.message}`.slice(0, 200) : "no details";
    }
    // A getter or a proxy threw while being read: its text may carry anything, so it is only logged.
    logger.error({ err }, "reading the handler's output threw");
    return "reading it threw";
  }
}
