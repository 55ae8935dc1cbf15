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
import type { TaskContext, WorkerSkill } from "./types.js";

/** Why a task's signal fired. */
export type AbortKind = "cancelled" | "deadline" | "shutdown";

/** A task being run by the worker. */
export interface RunningTask {
  readonly task: Readonly<TaskPayload>;
  /** Aborts the handler's signal. */
  readonly controller: AbortController;
  /** Set by {@link abortTask} before the signal fires. */
  abortKind: AbortKind | undefined;
  /** Epoch milliseconds when the task was picked up. */
  readonly startedAt: number;
}

/** What a task came to, before it is wrapped into a TaskResult. */
export interface TaskOutcome {
  readonly status: string;
  readonly data?: Record<string, unknown>;
  readonly error?: TaskError;
}

const ABORT_MESSAGES: Record<AbortKind, [message: string, name: string]> = {
  cancelled: ["task cancelled by the orchestrator", "AbortError"],
  deadline: ["task deadline passed", "TimeoutError"],
  shutdown: ["worker is shutting down", "AbortError"],
};

/** Fires the task's signal once; the first reason wins. */
export function abortTask(run: RunningTask, kind: AbortKind): void {
  if (run.controller.signal.aborted) return;
  run.abortKind = kind;
  const [message, name] = ABORT_MESSAGES[kind];
  // DOMExceptions like those of AbortSignal.timeout(), so `signal.throwIfAborted()` reads naturally.
  run.controller.abort(new DOMException(message, name));
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

function abortedPromise(signal: AbortSignal): { promise: Promise<typeof ABORTED>; dispose(): void } {
  let onAbort: () => void = () => {};
  const promise = new Promise<typeof ABORTED>((resolve) => {
    if (signal.aborted) return resolve(ABORTED);
    onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Runs `run.task` with `skill` (undefined when the worker has no skill of that type) and returns
 * its outcome. The handler is raced against the signal: a handler that ignores its signal cannot
 * hold the result back; it is left to finish on its own and what it returns is dropped.
 */
export async function executeTask(run: RunningTask, skill: WorkerSkill | undefined, ctx: TaskContext, logger: Logger): Promise<TaskOutcome> {
  const task = run.task;
  if (skill === undefined) {
    // Retryable on purpose: the orchestrator mis-routed the task, another worker may well have the skill.
    return { status: TaskStatus.FAILURE, error: { code: ErrorCode.DEPENDENCY_MISSING_ERROR, message: `Skill '${String(task.type).slice(0, 128)}' is not offered by this worker` } };
  }
  const name = skill.info.name;
  if (run.controller.signal.aborted) return abortedOutcome(run.abortKind);

  const params = task.params ?? {};
  // Contracts in another dialect are not checked (PROTOCOL.md 9.3), as the orchestrator does.
  const input = validateParams(skill.info, params);
  if (!input.ok && input.reason !== "unsupported_dialect") {
    return {
      status: TaskStatus.FAILURE,
      error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Input does not match the contract of skill '${name}': ${issuesText(input.errors)}`, details: issuesDetails(input.errors) },
    };
  }

  let handled: Promise<Settled>;
  try {
    handled = Promise.resolve(skill.handler(params as never, ctx)).then(
      (value): Settled => ({ ok: true, value }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
  } catch (error) {
    handled = Promise.resolve({ ok: false, error });
  }
  const aborted = abortedPromise(run.controller.signal);
  const settled = await Promise.race([handled, aborted.promise]);
  aborted.dispose();
  if (settled === ABORTED) {
    void handled.then((late) => {
      if (!late.ok && !(late.error instanceof Error && (late.error.name === "AbortError" || late.error.name === "TimeoutError"))) {
        logger.debug({ err: late.error }, "aborted handler rejected after its result was decided");
      }
    });
    return abortedOutcome(run.abortKind);
  }
  if (!settled.ok) {
    // A handler that rejects because its signal fired was aborted, whatever it threw.
    if (run.controller.signal.aborted) return abortedOutcome(run.abortKind);
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
  const output = validateResult(skill.info, data ?? {});
  if (!output.ok && output.reason !== "unsupported_dialect") {
    return {
      status: TaskStatus.FAILURE,
      error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Local contract violation: output does not match schema. ${issuesText(output.errors)}`, details: issuesDetails(output.errors) },
    };
  }
  return data === undefined ? { status: TaskStatus.SUCCESS } : { status: TaskStatus.SUCCESS, data };
}
