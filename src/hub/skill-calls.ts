/**
 * `POST /skills/call` at the server root (rxon 1.0b15): a running handler asks the orchestrator
 * to run another skill and waits for its outcome. Authenticated like every worker route. The
 * child is a job like any other (queued, matched, leased, retried), with `parent_hash` and
 * `depth` set; chains deeper than the hub's limit are refused, and a call waits at most the
 * hub's skill-call timeout (the child is cancelled then). A worker holds at most
 * `maxSkillCallsPerWorker` calls at once (429 past it), which also bounds the children it has
 * waiting.
 *
 * Body: `{"skill_name": string, "params"?: object, "task_id"?: string}` (`task_id`: the calling
 * task, optional). Answer: `{"status", "data"?, "error"?}`.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, Header, Limit } from "../../generated/constants.js";
import { isValidIdentifier } from "../contracts/identifiers.js";
import { RxonError, ValidationError } from "../errors.js";
import { certIdentityOf } from "../listener/cert.js";
import { abandonBody, declaredLength, isJsonContentType, readBody, unsupportedMediaType } from "../listener/body.js";
import { errorAnswer, jsonText, sendError, sendJson } from "../listener/respond.js";
import { pathOf } from "../listener/routes.js";
import type { ListenerContext } from "../listener/types.js";
import { parseJson, type JsonValue } from "../wire/json.js";
import type { HubCore } from "./core.js";
import { isTerminal, jobIdOfTask, type JobParent, type JobTrace } from "./store.js";
import type { Submissions } from "./submission.js";
import type { Cancellation } from "./cancellation.js";
import { outcomeOf } from "./outcomes.js";
import { HeldShares } from "./held-shares.js";

/** Path of the skill-call route. */
export const SKILL_CALL_PATH = "/skills/call";

const BODY_TIMEOUT_MS = 30_000;

/** Serves `POST /skills/call`. */
export class SkillCalls {
  readonly #core: HubCore;
  readonly #submissions: Submissions;
  readonly #cancellation: Cancellation;
  /** Calls each worker holds open on this hub. */
  readonly #calls: HeldShares;

  constructor(core: HubCore, submissions: Submissions, cancellation: Cancellation) {
    this.#core = core;
    this.#submissions = submissions;
    this.#cancellation = cancellation;
    this.#calls = new HeldShares(core.settings.maxSkillCallsPerWorker, "maxSkillCallsPerWorker", {
      reason: "too_many_skill_calls",
      holderField: "worker_id",
      logMessage: "hub: refused a skill call, the worker holds its share",
      errorMessage: (max) => `Too many skill calls: this worker holds ${max}, the most allowed; try again later`,
      logger: core.logger,
    });
  }

  /** Answers the request and resolves true when it is a skill call; false (touching nothing) otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (pathOf(req.url).path !== SKILL_CALL_PATH) return false;
    try {
      if (req.method !== "POST") {
        abandonBody(req);
        sendJson(res, 405, JSON.stringify({ error: "Method not allowed", code: ErrorCode.INVALID_INPUT_ERROR }), { Allow: "POST" });
        return true;
      }
      const answer = await this.#call(req, res);
      if (!res.headersSent && !res.destroyed) sendJson(res, 200, jsonText(answer));
    } catch (err) {
      const answer = errorAnswer(err);
      if (answer.internal) this.#core.logger.error({ err }, "hub: skill call failed");
      if (!req.complete) abandonBody(req);
      if (!res.headersSent && !res.destroyed) sendError(res, answer);
    }
    return true;
  }

  async #call(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown>> {
    const core = this.#core;
    const header = (name: string): string | null => {
      const v = req.headers[name.toLowerCase()];
      return typeof v === "string" ? v : null;
    };
    const controller = new AbortController();
    res.once("close", () => controller.abort());
    const ctx: ListenerContext = {
      token: header(Header.WORKER_TOKEN),
      workerIdHint: header(Header.WORKER_ID),
      protocolVersion: header(Header.VERSION),
      certIdentity: certIdentityOf(req.socket),
      transport: "http",
      rawRequest: req,
      rawBody: null,
      signal: controller.signal,
    };
    // Authenticate, and take the worker's share, before reading the body.
    const workerId = await core.authenticate("skill_call", ctx);
    const release = this.#calls.take(workerId);
    try {
      return await this.#run(req, controller, workerId);
    } finally {
      release();
    }
  }

  /** The call of an authenticated worker holding a share: read, submit the child, wait for it. */
  async #run(req: IncomingMessage, controller: AbortController, workerId: string): Promise<Record<string, unknown>> {
    const core = this.#core;
    declaredLength(req, Limit.MAX_BODY_BYTES);
    if (!isJsonContentType(req, true)) throw unsupportedMediaType();
    const body = parseJson(await readBody(req, Limit.MAX_BODY_BYTES, BODY_TIMEOUT_MS), { maxBytes: Limit.MAX_BODY_BYTES });
    const { skill, params, callerTaskId } = callOf(body);
    const { parent, trace } = await this.#parentOf(workerId, callerTaskId);
    if (parent.depth > core.settings.maxCallDepth) {
      throw new RxonError(`Skill call refused: the chain would be ${parent.depth} deep, more than the limit of ${core.settings.maxCallDepth}`, {
        status: 422,
        code: ErrorCode.PERMANENT_ERROR,
        details: { reason: "call_depth" },
      });
    }
    // The child joins the caller's trace.
    const handle = await this.#submissions.submit({ type: skill, params, ...(trace !== undefined ? { traceparent: trace.traceparent, ...(trace.tracestate !== undefined ? { tracestate: trace.tracestate } : {}) } : {}) }, parent);
    core.logger.info({ worker_id: workerId, job_id: handle.jobId, skill, depth: parent.depth }, "hub: skill call submitted");
    const timeout = AbortSignal.timeout(core.settings.skillCallTimeoutMs);
    const stop = AbortSignal.any([timeout, controller.signal]);
    try {
      const outcome = await handle.result({ signal: stop });
      return { status: outcome.status, ...(outcome.data !== undefined ? { data: outcome.data } : {}), ...(outcome.error !== undefined ? { error: outcome.error } : {}) };
    } catch {
      // Timed out or the caller left: the child is not wanted any more.
      await this.#cancellation.cancel(handle.jobId);
      const job = await core.store.getJob(handle.jobId);
      if (job !== undefined && isTerminal(job.state) && !controller.signal.aborted) {
        const o = outcomeOf(job);
        return { status: o.status, ...(o.data !== undefined ? { data: o.data } : {}), ...(o.error !== undefined ? { error: o.error } : {}) };
      }
      return { status: "failure", error: { code: ErrorCode.TIMEOUT_ERROR, message: `Skill call '${skill}' did not finish within ${core.settings.skillCallTimeoutMs} ms` } };
    }
  }

  /**
   * The calling job: the task named in the body when it runs on this worker, else the deepest job
   * the worker runs (so a chain is bounded even when callers do not say who they are).
   */
  async #parentOf(workerId: string, callerTaskId: string | undefined): Promise<{ parent: JobParent; trace?: JobTrace }> {
    const store = this.#core.store;
    let best: { jobId: string; taskId: string; depth: number; trace?: JobTrace } | undefined;
    const named = callerTaskId !== undefined ? jobIdOfTask(callerTaskId) : undefined;
    if (named !== undefined) {
      const job = await store.getJob(named);
      if (job !== undefined && job.workerId === workerId && job.state === "running") {
        best = { jobId: job.jobId, taskId: job.taskId, depth: job.parent?.depth ?? 0, ...(job.trace !== undefined ? { trace: job.trace } : {}) };
      }
    }
    if (best === undefined) {
      const { jobs } = await store.listJobs({ workerId, state: "running" }, 1000);
      for (const job of jobs) {
        const depth = job.parent?.depth ?? 0;
        if (best === undefined || depth > best.depth) best = { jobId: job.jobId, taskId: job.taskId, depth, ...(job.trace !== undefined ? { trace: job.trace } : {}) };
      }
    }
    if (best === undefined) return { parent: { jobId: "", depth: 1 } };
    const parent = { jobId: best.jobId, depth: best.depth + 1, hash: createHash("sha256").update(`${best.jobId}\u0000${best.taskId}`).digest("hex") };
    return best.trace !== undefined ? { parent, trace: best.trace } : { parent };
  }
}

function callOf(body: JsonValue): { skill: string; params: Record<string, unknown>; callerTaskId?: string } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ValidationError("Request body must be a JSON object", [{ path: "", message: "must be an object" }]);
  }
  const { skill_name: skill, params, task_id: taskId } = body as Record<string, JsonValue>;
  if (!isValidIdentifier(skill, 128)) {
    throw new ValidationError("skill_name must be a skill name", [{ path: "/skill_name", message: "must be a skill name" }]);
  }
  if (params !== undefined && (params === null || typeof params !== "object" || Array.isArray(params))) {
    throw new ValidationError("params must be an object", [{ path: "/params", message: "must be an object" }]);
  }
  return {
    skill,
    params: (params ?? {}) as Record<string, unknown>,
    ...(typeof taskId === "string" && taskId.length <= 256 ? { callerTaskId: taskId } : {}),
  };
}
