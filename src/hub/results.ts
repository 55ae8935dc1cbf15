/**
 * The results room: a worker's result is checked (sender, contract, showable data), turned into a
 * settlement, and applied to its job in one store transition that also checks the attempt, the
 * lease and the deadline. An exact re-send of an applied result is answered as the first time.
 */
import { createHash } from "node:crypto";
import { ErrorCode, TaskStatus } from "../../generated/constants.js";
import type { ResultResponse, SkillInfo, TaskResult } from "../../generated/types.js";
import { validateResult } from "../contracts/validate.js";
import { AuthError, ValidationError } from "../errors.js";
import type { ListenerContext } from "../listener/types.js";
import { replayRefusal } from "../security/verifier.js";
import { canonicalize } from "../wire/canonical.js";
import type { HubCore } from "./core.js";
import { normalizeError, skillFor, TRANSIENT_CODES } from "./dispatch.js";
import { isPromise } from "./flow.js";
import type { Outcomes } from "./outcomes.js";
import { isReplay } from "./registry.js";
import { isTerminal, type IgnoreReason, type Settlement } from "./store.js";

const IGNORED_TEXT: Record<IgnoreReason, (jobId: string, taskId: string) => string> = {
  job_not_found: (j) => `Job ${j} not found (expired or deleted).`,
  stale_task: (j, t) => `Result ignored: task_id ${t} is no longer active for job ${j}.`,
  job_cancelled: (j) => `Job ${j} has already ended (cancelled).`,
  deadline_exceeded: (j) => `Job ${j} missed its deadline.`,
  job_already_terminated: (j) => `Job ${j} has already ended.`,
  worker_mismatch: (_j, t) => `Task ${t} is not assigned to this worker.`,
};

/** Applies workers' results. */
export class Results {
  readonly #core: HubCore;
  readonly #outcomes: Outcomes;

  constructor(core: HubCore, outcomes: Outcomes) {
    this.#core = core;
    this.#outcomes = outcomes;
  }

  async result(result: TaskResult, ctx: ListenerContext): Promise<ResultResponse> {
    const core = this.#core;
    const id = await core.authenticate("result", ctx, result.worker_id);
    let replayed: unknown;
    let remember: Settlement["remember"];
    try {
      // Hubs sharing the store record the message in the settle itself: one round trip, not two.
      remember = await core.verifyForSettle("result", ctx, id, true);
    } catch (err) {
      if (!isReplay(err)) throw err;
      replayed = err;
    }
    if (result.worker_id !== undefined && result.worker_id !== id) {
      const err = new AuthError(`Forbidden: Authenticated worker '${id}' cannot submit results for another worker.`, {
        details: { reason: "sender_mismatch" },
      });
      core.refused("result", id, err);
      throw err;
    }
    if (replayed !== undefined) return this.#replayed(result, id, replayed);
    // Data a client could not be shown is refused here (400), before anything is read or changed.
    const status = result.status ?? TaskStatus.SUCCESS;
    const fingerprint = fingerprintOf(result, status !== TaskStatus.CANCELLED && status !== TaskStatus.FAILURE);
    const settlement: Settlement = { ...(await this.#settlementOf(result, id)), fingerprint, ...(remember !== undefined ? { remember } : {}) };
    // Not awaited when the store answers at once: the end is then announced (and waiting
    // handles resolved from the record) before the store's "ended" signal is heard.
    const answer = core.store.settle(id, result.job_id, result.task_id, settlement);
    const verdict = isPromise(answer) ? await answer : answer;
    switch (verdict.kind) {
      case "accepted": {
        const job = verdict.job;
        if (isTerminal(job.state)) this.#outcomes.completed(job);
        else {
          core.counters.retried++;
          this.#outcomes.observe(job);
          core.events.emit("task:requeued", { jobId: job.jobId, taskId: job.taskId, workerId: id, reason: settlement.error?.code ?? "retry" });
        }
        return { status: "accepted", transition: verdict.transition };
      }
      case "duplicate":
        return { status: "accepted", transition: verdict.transition };
      case "replay":
        return this.#replayed(result, id, replayRefusal());
      case "ignored": {
        if (verdict.ended === true && verdict.job !== undefined) this.#outcomes.completed(verdict.job);
        const reason = verdict.reason;
        core.logger.info({ worker_id: id, job_id: result.job_id, task_id: result.task_id, reason }, "hub: result ignored");
        core.events.emit("result:ignored", { workerId: id, jobId: result.job_id, taskId: result.task_id, reason });
        return { status: "ignored", reason, message: IGNORED_TEXT[reason](result.job_id.slice(0, 128), result.task_id.slice(0, 128)) };
      }
    }
  }

  /**
   * The same signed message again (seen by this hub's verifier or, through the store, by another
   * hub): its answer was lost. Answered as the first time when it was applied, refused as a replay
   * otherwise.
   */
  async #replayed(result: TaskResult, id: string, replayed: unknown): Promise<ResultResponse> {
    const job = await this.#core.store.getJob(result.job_id);
    const s = job?.settled;
    if (s !== undefined && s.taskId === result.task_id && s.workerId === id && s.fingerprint === fingerprintOf(result, false)) return { status: "accepted", transition: s.transition };
    this.#core.refused("result", id, replayed);
    throw replayed;
  }

  /** The worker's skill for the result's job, from the store's records of both. */
  async #skillFromStore(result: TaskResult, workerId: string): Promise<SkillInfo | undefined> {
    const [worker, job] = await Promise.all([this.#core.store.getWorker(workerId), this.#core.store.getJob(result.job_id)]);
    return worker !== undefined && job !== undefined ? skillFor(worker, job.type) : undefined;
  }

  /** What a result means for its job, decided before the transition (contracts need the worker's skill). */
  async #settlementOf(result: TaskResult, workerId: string): Promise<Settlement> {
    const status = result.status ?? TaskStatus.SUCCESS;
    const handed = this.#core.handedOut.take(result.task_id, workerId);
    if (status === TaskStatus.CANCELLED) return { status, transition: "cancelled_handled" };
    if (status === TaskStatus.FAILURE) {
      const error = normalizeError(result.error);
      return { status, error, retry: TRANSIENT_CODES.has(error.code), transition: "failure_handled" };
    }
    const data = result.data ?? {};
    // The output contract is the worker's skill for the job's type (the result does not name it):
    // remembered when this hub handed the task out, read from the store otherwise.
    const skill = handed?.skill ?? (await this.#skillFromStore(result, workerId));
    if (status === TaskStatus.SUCCESS) {
      const check = skill !== undefined ? validateResult(skill, data) : { ok: true as const };
      if (!check.ok && check.reason === "invalid") {
        const top = check.errors[0];
        return {
          status: TaskStatus.FAILURE,
          error: {
            code: ErrorCode.CONTRACT_VIOLATION_ERROR,
            message: `Contract violation: result data does not match output_schema.${top ? ` ${top.path || "/"} ${top.message}` : ""}`,
            details: { errors: check.errors.slice(0, 20) },
          },
          transition: "failure_handled",
        };
      }
      return { status, data, transition: "success_transition" };
    }
    if (skill?.output_statuses?.includes(status)) return { status, data, transition: "success_transition" };
    return {
      status: TaskStatus.FAILURE,
      error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Unhandled result status '${status.slice(0, 64)}'` },
      transition: "unhandled_status_failure",
    };
  }
}

/**
 * Content hash of what a result says (status, data, error), to tell a re-send from a different
 * result. The data is canonicalized where clients see it (inside `outcome.data` of a task's view),
 * so the same pass checks it can be shown: with `mustShow`, data that cannot is refused to the
 * worker (400 `unsendable_result`).
 */
function fingerprintOf(result: TaskResult, mustShow: boolean): string {
  const status = result.status ?? TaskStatus.SUCCESS;
  let text: string;
  try {
    text = canonicalize({ outcome: { data: result.data ?? {} }, status, error: result.error ?? null });
  } catch {
    // Something cannot be written; whether it is the data (the first refusal may name `error`).
    if (mustShow) {
      try {
        canonicalize({ outcome: { data: result.data ?? {} } });
      } catch (err) {
        const issues = err instanceof ValidationError ? err.errors.map((e) => ({ path: e.path.replace(/^\/outcome/, ""), message: e.message })) : [];
        throw new ValidationError(`Result data cannot be represented on the wire${issues[0] ? `: ${issues[0].path} ${issues[0].message}` : ""}`, issues.slice(0, 20), {
          details: { reason: "unsendable_result" },
        });
      }
    }
    text = `${status}\u0000unrepresentable`;
  }
  return createHash("sha256").update(text).digest("base64url").slice(0, 22);
}
