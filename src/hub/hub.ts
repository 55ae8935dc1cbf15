/**
 * The reference hub: a small orchestrator on top of the listener. It keeps a worker registry with
 * heartbeat expiry, per-skill priority queues, leases, results checked for ownership and contract,
 * cancellation over the WebSocket and in heartbeat replies, and a client API (`submit`).
 *
 * State lives in a {@link HubStore}; what stays in this process is only what cannot be shared
 * anyway: held polls, open WebSocket channels, result promises and derived indexes.
 */
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import { ErrorCode, IgnoredReason, ProtocolVersion, TaskStatus, WorkerStatus } from "../../generated/constants.js";
import type {
  Heartbeat,
  HeartbeatResponse,
  RegisterResponse,
  ResultResponse,
  SkillInfo,
  TaskError,
  TaskPayload,
  TaskResult,
  TokenRefreshRequest,
  TokenResponse,
  EventResponse,
  WorkerEventPayload,
  WorkerRegistration,
} from "../../generated/types.js";
import { validateParams, validateResult } from "../contracts/validate.js";
import { AuthError, isRxonError, ValidationError } from "../errors.js";
import type { CommandChannel, HandlerArgs, ListenerContext } from "../listener/types.js";
import { silentLogger, type Logger } from "../logger.js";
import type { WorkerRecord as MatchWorker } from "../matching/requirement.js";
import { MessageVerifier, type MessageKind } from "../security/index.js";
import { HubAuth } from "./auth.js";
import { canRun, matchView, normalizeError, payloadFor, skillFor, TRANSIENT_CODES } from "./dispatch.js";
import { MemoryStore } from "./memory-store.js";
import type { Awaitable, HubStore, JobRecord, WorkerRecord } from "./store.js";
import type { HubEvents, HubOptions, HubStats, ListenOptions, SubmitOptions, TaskHandle, TaskOutcome, TaskState } from "./types.js";
import { PollWaiters, type Waiter } from "./waiters.js";
import { isPromise, runFlow, wait, type Flow } from "./flow.js";
import { serve, type HubServer } from "./server.js";
import { ClientApi } from "./client-api.js";

/** Queue entries looked at per skill and poll before giving up on finding a match. */
const SCAN_LIMIT = 64;
/** Protocol versions spoken without a mismatch warning (1.0b13 to 1.0b15 differ only in optional fields). */
const SUPPORTED_VERSIONS: ReadonlySet<string> = new Set(Object.values(ProtocolVersion));
const DEFAULT_DISPATCHABLE = ["idle", "active", "busy", "full"];

/** In-process side of a job: its promise and a mirror of its state for `handle.status`. */
interface LocalJob {
  state: TaskState;
  taskId: string;
  outcome?: TaskOutcome;
  resolve: (o: TaskOutcome) => void;
  promise: Promise<TaskOutcome>;
}

type Counters = { -readonly [K in keyof HubStats]: number };

/** The reference orchestrator. Use {@link Hub.handler} with a listener, or {@link Hub.listen}. */
export class Hub extends EventEmitter<HubEvents> {
  readonly store: HubStore;
  readonly logger: Logger;
  /**
   * The HTTP client API (`/_client/tasks`: submit, status, wait, cancel), enabled by
   * `clientTokens`. `hub.listen()` mounts it; in your own server call `clientApi.handle(req, res)`.
   */
  readonly clientApi: ClientApi;
  readonly #auth: HubAuth;
  readonly #verifier: MessageVerifier | undefined;
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #maxHoldMs: number;
  readonly #maxRetries: number;
  readonly #cancelGraceMs: number;
  readonly #retentionMs: number;
  readonly #maxRetained: number;
  readonly #dispatchable: ReadonlySet<string>;
  readonly #knownSkills = new Map<string, SkillInfo>();
  readonly #waiters = new PollWaiters();
  readonly #channels = new Map<string, CommandChannel>();
  readonly #pendingCancels = new Map<string, Set<string>>();
  readonly #local = new Map<string, LocalJob>();
  /** skill name → worker id → that worker's skill (for the contract pre-check at submit). */
  readonly #catalog = new Map<string, Map<string, SkillInfo>>();
  readonly #views = new Map<string, MatchWorker>();
  /** Ended jobs in end order, from `#finishedHead` on (retention); see {@link Hub.sweep}. */
  #finished: { jobId: string; at: number }[] = [];
  #finishedHead = 0;
  readonly #counters: Counters = {
    workers: 0,
    queued: 0,
    running: 0,
    waitingPolls: 0,
    submitted: 0,
    dispatched: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    retried: 0,
    rejected: 0,
    refused: 0,
  };
  #seq = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;
  #closed = false;
  readonly #servers: HubServer[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: HubOptions = {}) {
    super();
    this.store = options.store ?? new MemoryStore();
    this.logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 60_000;
    this.#ttlMs = options.workerTtlMs ?? 2 * this.#heartbeatMs;
    this.#maxHoldMs = options.maxPollHoldMs ?? 30_000;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#cancelGraceMs = options.cancelGraceMs ?? 30_000;
    this.#retentionMs = options.retentionMs ?? 600_000;
    this.#maxRetained = options.maxRetained ?? 100_000;
    this.#dispatchable = new Set(options.dispatchableStatuses ?? DEFAULT_DISPATCHABLE);
    for (const s of options.skills ?? []) this.#knownSkills.set(s.name, s);
    this.#auth = new HubAuth(options.auth ?? {}, this.store, this.#now);
    if (this.#auth.verifySignatures) {
      this.#verifier = new MessageVerifier({ keys: (id) => this.#auth.keysFor(id), clock: this.#now });
    }
    this.clientApi = new ClientApi(this, { ...options.clientApi, ...(options.clientTokens !== undefined ? { tokens: options.clientTokens } : {}), logger: this.logger });
    const sweepMs = options.sweepIntervalMs ?? Math.max(10, Math.min(1000, this.#ttlMs / 4));
    this.#sweeper = setInterval(() => void this.sweep(), sweepMs);
    this.#sweeper.unref();
  }

  /** True when no credentials are configured (anyone may act as any worker). */
  get insecure(): boolean {
    return this.#auth.open;
  }

  /** The listener handler: pass it to `new RxonListener({ handler: hub.handler })`. */
  readonly handler = (...args: HandlerArgs): Promise<unknown> => this.#handle(args);

  // ---------------------------------------------------------------- client API

  /** Submits a task; returns its handle at once (queueing happens right after). */
  submit(options: SubmitOptions): TaskHandle {
    if (this.#closed) throw new ValidationError("Hub is closed");
    if (typeof options?.type !== "string" || options.type === "") {
      throw new ValidationError("Task type must be a non-empty string", [{ path: "/type", message: "required" }]);
    }
    const params = options.params ?? {};
    if (params === null || typeof params !== "object" || Array.isArray(params)) {
      throw new ValidationError("Task params must be an object", [{ path: "/params", message: "must be an object" }]);
    }
    const now = this.#now();
    const deadline =
      options.deadline instanceof Date ? options.deadline.getTime() : options.deadline ?? (options.timeoutMs !== undefined ? now + options.timeoutMs : undefined);
    const jobId = `job-${randomUUID()}`;
    const job: JobRecord = {
      jobId,
      taskId: `task-${randomUUID()}`,
      type: options.type,
      params,
      requirements: options.requirements ?? {},
      priority: options.priority ?? 0,
      maxRetries: options.maxRetries ?? this.#maxRetries,
      attempts: 0,
      state: "waiting_for_worker",
      seq: this.#seq++,
      submittedAt: now,
      ...(deadline !== undefined ? { deadline } : {}),
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    };
    let resolve!: (o: TaskOutcome) => void;
    const promise = new Promise<TaskOutcome>((r) => (resolve = r));
    const local: LocalJob = { state: "waiting_for_worker", taskId: job.taskId, resolve, promise };
    this.#local.set(jobId, local);
    this.#counters.submitted++;
    this.#enqueueNew(job).catch((err: unknown) => {
      this.logger.error({ err, jobId }, "hub: could not queue task");
      void this.#finish(job, { status: TaskStatus.FAILURE, error: { code: ErrorCode.INTERNAL_ERROR, message: "Could not queue the task" } });
    });
    return {
      jobId,
      get taskId() {
        return local.taskId;
      },
      get status() {
        return local.state;
      },
      result: () => local.promise,
      cancel: () => this.cancel(jobId),
    };
  }

  /** Cancels a job: a queued one ends at once, a running one is told to stop. */
  async cancel(jobId: string): Promise<void> {
    const job = await this.store.getJob(jobId);
    if (job === undefined || isTerminal(job.state)) return;
    if (job.state === "waiting_for_worker") {
      await this.store.removeFromQueue(job.type, jobId);
      await this.#finish(job, { status: TaskStatus.CANCELLED });
      return;
    }
    job.cancelRequestedAt ??= this.#now();
    await this.store.putJob(job);
    if (job.workerId !== undefined) await this.#sendCancel(job.workerId, job);
  }

  /** Counters and gauges. */
  async stats(): Promise<HubStats> {
    const workers = await this.store.countWorkers();
    const queued = await this.store.queueLength();
    let running = 0;
    for (const l of this.#local.values()) if (l.state === "running") running++;
    return { ...this.#counters, workers, queued, running, waitingPolls: this.#waiters.size };
  }

  /** Serves the hub over HTTP (or HTTPS with `tls`); resolves with the URL once listening. */
  async listen(options: ListenOptions = {}): Promise<HubServer> {
    if (this.#closed) throw new ValidationError("Hub is closed");
    const server = await serve(this.handler, options, this.logger, this.clientApi);
    this.#servers.push(server);
    return server;
  }

  /** Stops servers and timers, ends held polls, closes command channels, ends unfinished tasks as failed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.releaseAll();
    this.clientApi.close();
    await Promise.all(this.#servers.splice(0).map((s) => s.close()));
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#waiters.releaseAll();
    for (const ch of this.#channels.values()) ch.close(1001, "Server shutdown");
    this.#channels.clear();
    for (const [jobId, local] of [...this.#local]) {
      this.#local.delete(jobId);
      local.state = "failed";
      const outcome: TaskOutcome = {
        status: TaskStatus.FAILURE,
        error: { code: ErrorCode.TRANSIENT_ERROR, message: "Hub closed" },
        jobId,
        taskId: local.taskId,
        attempts: 0,
        durationMs: 0,
      };
      local.outcome = outcome;
      local.resolve(outcome);
    }
  }

  // ---------------------------------------------------------------- handler

  async #handle(args: HandlerArgs): Promise<unknown> {
    switch (args[0]) {
      case "register":
        return this.#register(args[1], args[2]);
      case "poll":
        return this.#poll(args[1], args[2]);
      case "result":
        return this.#result(args[1], args[2]);
      case "heartbeat":
        return this.#heartbeat(args[1], args[2]);
      case "event":
        return this.#event(args[1], args[2]);
      case "sts_token":
        return this.#stsToken(args[2]);
      case "sts_refresh":
        return this.#stsRefresh(args[1], args[2]);
      case "websocket_auth":
        await this.#authenticate("websocket_auth", args[2]);
        return true;
      case "websocket":
        return this.#websocket(args[1]);
    }
  }

  async #authenticate(action: string, ctx: ListenerContext, claimedId?: string | null): Promise<string> {
    try {
      return await this.#auth.authenticate(ctx, claimedId);
    } catch (err) {
      this.#refused(action, ctx.workerIdHint ?? claimedId ?? null, err);
      throw err;
    }
  }

  async #verify(kind: MessageKind, ctx: ListenerContext, workerId: string): Promise<void> {
    if (this.#verifier === undefined) return;
    try {
      await this.#verifier.verify(ctx.rawBody, { workerId, kind });
    } catch (err) {
      this.#refused(kind, workerId, err);
      throw err;
    }
  }

  #refused(action: string, workerId: string | null, err: unknown): void {
    const reason = isRxonError(err) && typeof err.details.reason === "string" ? err.details.reason : "refused";
    const message = err instanceof Error ? err.message : String(err);
    this.#counters.refused++;
    this.logger.warn({ action, workerId, reason }, `hub: refused ${action}: ${message}`);
    this.emit("message:refused", { action, workerId, reason, message });
  }

  async #register(reg: WorkerRegistration, ctx: ListenerContext): Promise<RegisterResponse> {
    const id = await this.#authenticate("register", ctx, reg.worker_id);
    if (reg.worker_id !== id) {
      const err = new AuthError("Immediate sender ID mismatch", { details: { reason: "sender_mismatch" } });
      this.#refused("register", id, err);
      throw err;
    }
    await this.#verify("register", ctx, id);
    const now = this.#now();
    const previous = await this.store.getWorker(id);
    const worker: WorkerRecord = {
      id,
      status: WorkerStatus.IDLE,
      workerType: reg.worker_type ?? "generic",
      skills: reg.supported_skills ?? [],
      registeredAt: previous?.registeredAt ?? now,
      lastSeenAt: now,
      expiresAt: now + this.#ttlMs,
      ...(reg.skills_hash !== undefined ? { skillsHash: reg.skills_hash } : {}),
      ...(reg.resources !== undefined ? { resources: reg.resources } : {}),
      ...(reg.installed_software !== undefined ? { installedSoftware: reg.installed_software } : {}),
      ...(reg.installed_artifacts !== undefined ? { installedArtifacts: reg.installed_artifacts } : {}),
      ...(reg.capabilities !== undefined ? { capabilities: reg.capabilities } : {}),
      ...(reg.hot_skills !== undefined ? { hotSkills: reg.hot_skills } : {}),
      ...(reg.available_skills !== undefined ? { availableSkills: reg.available_skills } : {}),
    };
    await this.store.putWorker(worker);
    this.#indexWorker(worker);
    // Polls parked before this (re-)registration saw the old record: let them poll again.
    this.#waiters.release(id);
    this.logger.info({ workerId: id, skills: worker.skills.map((s) => s.name) }, "hub: worker registered");
    this.emit("worker:registered", { workerId: id, skills: worker.skills.map((s) => s.name) });
    const response: RegisterResponse = { status: "registered", version: ProtocolVersion.CURRENT };
    if (ctx.protocolVersion !== null && !SUPPORTED_VERSIONS.has(ctx.protocolVersion)) {
      response.warning = `Protocol version mismatch! Orchestrator: ${ProtocolVersion.CURRENT}, Worker: ${ctx.protocolVersion.slice(0, 32)}.`;
    }
    return response;
  }

  async #poll(pathId: string, ctx: ListenerContext): Promise<TaskPayload | null> {
    const id = await this.#authenticate("poll", ctx, pathId);
    const holdMs = Math.min(this.#maxHoldMs, ctx.pollTimeout !== undefined && ctx.pollTimeout > 0 ? ctx.pollTimeout * 1000 : this.#maxHoldMs);
    const worker = await this.store.getWorker(id);
    if (worker === undefined || !this.#dispatchable.has(worker.status)) {
      // Unknown or draining: nothing to hand out; hold (so clients do not spin) until released.
      await this.#park(id, [], holdMs, ctx.signal);
      return null;
    }
    await this.#touch(worker);
    const skills = this.#pollSkills(worker, ctx.availableSkills);
    // With a synchronous store the claim and the parking happen in one turn, so no task can be
    // queued in between; otherwise the parked poll looks at the queues once more.
    const claimed = this.#claimFor(worker, skills);
    const wentAsync = isPromise(claimed);
    let job = wentAsync ? await claimed : claimed;
    if (job === null) job = await this.#park(id, skills, holdMs, ctx.signal, wentAsync);
    if (job === null) return null;
    if (ctx.signal.aborted) {
      // The client left while the task was being handed over: put it back untouched.
      await this.#requeue(job, "poll_aborted", false);
      return null;
    }
    return payloadFor(job, this.#now());
  }

  #pollSkills(worker: WorkerRecord, available: readonly string[] | undefined): string[] {
    const names = worker.skills.map((s) => s.name);
    return available === undefined ? names : names.filter((n) => available.includes(n));
  }

  /** Parks a poll; resolves with an assigned job, or null on timeout, abort or release. */
  #park(workerId: string, skills: readonly string[], holdMs: number, signal: AbortSignal, recheck = false): Promise<JobRecord | null> {
    if (this.#closed || signal.aborted || holdMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      let done = false;
      const waiter: Waiter = {
        workerId,
        skills,
        get done() {
          return done;
        },
        settle: (job) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.#timers.delete(timer);
          signal.removeEventListener("abort", onAbort);
          this.#waiters.remove(waiter);
          resolve(job);
        },
      };
      const onAbort = (): void => waiter.settle(null);
      const timer = setTimeout(() => waiter.settle(null), holdMs);
      this.#timers.add(timer);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(waiter);
      // A task queued between this poll's (asynchronous) look at the queues and now found no
      // parked poll to offer itself to: look once more, now that later tasks will be offered here.
      if (recheck && skills.length > 0) this.#recheck(waiter, 0);
    });
  }

  /** Finds and claims the best queued task `worker` can run; null when there is none. */
  #claimFor(worker: WorkerRecord, skills: readonly string[]): Awaitable<JobRecord | null> {
    return runFlow(this.#claimFlow(worker, skills));
  }

  *#claimFlow(worker: WorkerRecord, skills: readonly string[]): Flow<JobRecord | null> {
    const view = this.#viewOf(worker);
    for (let attempt = 0; attempt < 4; attempt++) {
      const best = yield* this.#bestFlow(view, skills);
      if (best === null) return null;
      if (yield* wait(this.store.removeFromQueue(best.type, best.jobId))) {
        yield* this.#assignFlow(best, worker.id);
        return best;
      }
    }
    return null;
  }

  /** The best queued task `view` can run, unclaimed; null when there is none. */
  *#bestFlow(view: MatchWorker, skills: readonly string[]): Flow<JobRecord | null> {
    let best: JobRecord | null = null;
    for (const skill of skills) {
      const entries = yield* wait(this.store.peekQueue(skill, SCAN_LIMIT));
      for (const e of entries) {
        if (best !== null && (e.priority < best.priority || (e.priority === best.priority && e.seq > best.seq))) break;
        const job = yield* wait(this.store.getJob(e.jobId));
        if (job === undefined || job.state !== "waiting_for_worker") continue;
        if (canRun(view, job)) {
          best = job;
          break;
        }
      }
    }
    return best;
  }

  *#assignFlow(job: JobRecord, workerId: string): Flow<void> {
    job.state = "running";
    job.workerId = workerId;
    job.attempts++;
    job.dispatchedAt = this.#now();
    yield* wait(this.store.putJob(job));
    yield* wait(this.store.addLease(workerId, job.jobId));
    const local = this.#local.get(job.jobId);
    if (local) local.state = "running";
    this.#counters.dispatched++;
    this.emit("task:dispatched", { jobId: job.jobId, taskId: job.taskId, workerId, attempt: job.attempts });
  }

  /**
   * Gives a taken poll (removed from the waiters by the caller) the best queued task it can run.
   * When there is none the poll is parked again, and looks at the queues once more if this went
   * asynchronous (a task queued meanwhile would not have been offered to it).
   */
  *#serveFlow(w: Waiter, depth: number): Flow<void> {
    const lookup = this.store.getWorker(w.workerId);
    const worker = yield* wait(lookup);
    if (worker === undefined || !this.#dispatchable.has(worker.status)) {
      w.settle(null); // gone or draining meanwhile: its next poll finds out
      return;
    }
    const claimed = this.#claimFor(worker, w.skills);
    const job = yield* wait(claimed);
    if (job === null) {
      if (w.done || this.#closed) return;
      this.#waiters.add(w);
      if (isPromise(lookup) || isPromise(claimed)) this.#recheck(w, depth + 1);
      return;
    }
    if (w.done) {
      // The poll ended while the task was being assigned: the task goes back.
      yield this.#requeue(job, "poll_ended", false);
      return;
    }
    w.settle(job);
  }

  /** Takes a parked poll and serves it if there is work (see {@link Hub.#park}); bounded re-parking. */
  #recheck(w: Waiter, depth: number): void {
    if (w.done || this.#closed || !this.#waiters.take(w)) return;
    if (depth >= 4) {
      w.settle(null); // keeps losing its task to others: the worker polls again
      return;
    }
    try {
      const r = runFlow(this.#serveFlow(w, depth));
      if (isPromise(r)) r.catch((err: unknown) => this.#serveFailed(w, err));
    } catch (err) {
      this.#serveFailed(w, err);
    }
  }

  #serveFailed(w: Waiter, err: unknown): void {
    this.logger.error({ err, workerId: w.workerId }, "hub: could not serve a parked poll");
    w.settle(null);
  }

  async #enqueueNew(job: JobRecord): Promise<void> {
    const rejection = this.#contractRejection(job);
    await this.store.putJob(job);
    await this.store.indexTask(job.taskId, job.jobId);
    this.emit("task:submitted", { jobId: job.jobId, taskId: job.taskId, type: job.type });
    if (rejection !== undefined) {
      this.#counters.rejected++;
      await this.#finish(job, { status: TaskStatus.FAILURE, error: rejection });
      return;
    }
    await this.store.enqueue(job.type, { jobId: job.jobId, priority: job.priority, seq: job.seq });
    await this.#offer(job);
  }

  /** Params no known contract of the skill accepts are refused at once (nobody could ever run them). */
  #contractRejection(job: JobRecord): TaskError | undefined {
    const known = this.#knownSkills.get(job.type);
    const byWorker = this.#catalog.get(job.type);
    if (known === undefined && byWorker === undefined) return undefined;
    // Stops at the first contract that accepts (usually the first): no per-submit work that
    // grows with the number of registered workers.
    let first: { path: string; message: string }[] | undefined;
    const accepts = (skill: SkillInfo): boolean => {
      const r = validateParams(skill, job.params);
      if (r.ok || r.reason !== "invalid") return true;
      first ??= [...r.errors];
      return false;
    };
    if (known !== undefined && accepts(known)) return undefined;
    if (byWorker !== undefined) for (const skill of byWorker.values()) if (accepts(skill)) return undefined;
    const errors: { path: string; message: string }[] = first ?? [];
    const top = errors[0];
    return {
      code: ErrorCode.INVALID_INPUT_ERROR,
      message: `Params do not match the input schema of skill '${job.type}'${top ? `: ${top.path || "/"} ${top.message}` : ""}`,
      details: { errors },
    };
  }

  /**
   * Wakes parked polls that can run a freshly queued job. A woken poll gets the best queued task
   * it can run, which is not necessarily this job (older or higher-priority tasks come first), so
   * polls are woken until this job has been handed out or no parked poll can take it.
   */
  #offer(job: JobRecord): Awaitable<void> {
    if (!this.#waiters.hasSkill(job.type)) return;
    return runFlow(this.#offerFlow(job));
  }

  *#offerFlow(job: JobRecord): Flow<void> {
    for (const w of this.#waiters.forSkill(job.type)) {
      if (job.state !== "waiting_for_worker") return;
      // Decide and take the poll before anything asynchronous: concurrent offers must not pile
      // onto the same polls (the in-process view of a parked worker is kept current by register,
      // heartbeat and expiry, which also release its polls when it stops being dispatchable).
      const view = this.#views.get(w.workerId);
      if (w.done || view === undefined || !canRun(view, job) || !this.#waiters.take(w)) continue;
      yield* this.#serveFlow(w, 0);
    }
  }

  /**
   * Puts a dispatched job back in its queue with a new task id (so a late result of the old
   * attempt is `stale_task`), or ends it when its retries are used up or a cancel is pending.
   */
  async #requeue(job: JobRecord, reason: string, countsAsRetry: boolean, error?: TaskError): Promise<void> {
    const previousWorker = job.workerId;
    if (previousWorker !== undefined) {
      await this.store.removeLease(previousWorker, job.jobId);
      this.#pendingCancels.get(previousWorker)?.delete(job.taskId);
    }
    if (job.cancelRequestedAt !== undefined) {
      await this.#finish(job, { status: TaskStatus.CANCELLED });
      return;
    }
    if (!countsAsRetry) job.attempts = Math.max(0, job.attempts - 1);
    else if (job.attempts > job.maxRetries) {
      await this.#finish(job, {
        status: TaskStatus.FAILURE,
        error: error ?? { code: ErrorCode.TRANSIENT_ERROR, message: `Task failed after ${job.attempts} attempts (${reason})` },
        ...(error === undefined ? { endReason: "lost" as const } : {}),
      });
      return;
    }
    if (countsAsRetry) this.#counters.retried++;
    job.taskId = `task-${randomUUID()}`;
    job.state = "waiting_for_worker";
    delete job.workerId;
    delete job.dispatchedAt;
    await this.store.putJob(job);
    await this.store.indexTask(job.taskId, job.jobId);
    const local = this.#local.get(job.jobId);
    if (local) {
      local.state = "waiting_for_worker";
      local.taskId = job.taskId;
    }
    this.emit("task:requeued", { jobId: job.jobId, taskId: job.taskId, workerId: previousWorker, reason });
    await this.store.enqueue(job.type, { jobId: job.jobId, priority: job.priority, seq: job.seq });
    await this.#offer(job);
  }

  async #result(result: TaskResult, ctx: ListenerContext): Promise<ResultResponse> {
    const id = await this.#authenticate("result", ctx, result.worker_id);
    await this.#verify("result", ctx, id);
    if (result.worker_id !== undefined && result.worker_id !== id) {
      const err = new AuthError(`Forbidden: Authenticated worker '${id}' cannot submit results for another worker.`, {
        details: { reason: "sender_mismatch" },
      });
      this.#refused("result", id, err);
      throw err;
    }
    const worker = await this.store.getWorker(id);
    if (worker !== undefined) await this.#touch(worker);
    const job = await this.store.getJob(result.job_id);
    if (job === undefined) return this.#ignored(id, result, IgnoredReason.JOB_NOT_FOUND, `Job ${result.job_id} not found (expired or deleted).`);
    if (result.task_id !== job.taskId) {
      return this.#ignored(id, result, IgnoredReason.STALE_TASK, `Result ignored: task_id ${result.task_id} is no longer active for job ${job.jobId}.`);
    }
    if (isTerminal(job.state)) {
      const reason =
        job.state === "cancelled"
          ? IgnoredReason.JOB_CANCELLED
          : job.endReason === "deadline"
            ? IgnoredReason.DEADLINE_EXCEEDED
            : IgnoredReason.JOB_ALREADY_TERMINATED;
      return this.#ignored(id, result, reason, `Job ${job.jobId} has already ended (${job.state}).`);
    }
    if (job.workerId !== id) {
      return this.#ignored(id, result, IgnoredReason.WORKER_MISMATCH, `Task ${job.taskId} is not assigned to worker ${id}.`);
    }
    if (job.deadline !== undefined && this.#now() > job.deadline) {
      await this.#finish(job, { status: TaskStatus.FAILURE, error: timeoutError(), endReason: "deadline" });
      return this.#ignored(id, result, IgnoredReason.DEADLINE_EXCEEDED, `Job ${job.jobId} missed its deadline.`);
    }

    const status = result.status ?? TaskStatus.SUCCESS;
    const skill = worker !== undefined ? skillFor(worker, job.type) : undefined;
    if (status === TaskStatus.SUCCESS) {
      const check = skill !== undefined ? validateResult(skill, result.data ?? {}) : { ok: true as const };
      if (!check.ok && check.reason === "invalid") {
        const top = check.errors[0];
        await this.#finish(job, {
          status: TaskStatus.FAILURE,
          workerId: id,
          error: {
            code: ErrorCode.CONTRACT_VIOLATION_ERROR,
            message: `Contract violation: result data does not match output_schema.${top ? ` ${top.path || "/"} ${top.message}` : ""}`,
            details: { errors: [...check.errors] },
          },
        });
        return { status: "accepted", transition: "failure_handled" };
      }
      await this.#finish(job, { status, workerId: id, data: result.data ?? {} });
      return { status: "accepted", transition: "success_transition" };
    }
    if (status === TaskStatus.CANCELLED) {
      await this.#finish(job, { status, workerId: id });
      return { status: "accepted", transition: "cancelled_handled" };
    }
    if (status === TaskStatus.FAILURE) {
      const error = normalizeError(result.error);
      if (TRANSIENT_CODES.has(error.code) && job.cancelRequestedAt === undefined) {
        await this.#requeue(job, error.code, true, error);
      } else {
        await this.#finish(job, { status, workerId: id, error });
      }
      return { status: "accepted", transition: "failure_handled" };
    }
    if (skill?.output_statuses?.includes(status)) {
      await this.#finish(job, { status, workerId: id, data: result.data ?? {} });
      return { status: "accepted", transition: "success_transition" };
    }
    await this.#finish(job, {
      status: TaskStatus.FAILURE,
      workerId: id,
      error: { code: ErrorCode.CONTRACT_VIOLATION_ERROR, message: `Unhandled result status '${status.slice(0, 64)}'` },
    });
    return { status: "accepted", transition: "unhandled_status_failure" };
  }

  #ignored(workerId: string, result: TaskResult, reason: ResultResponse["reason"] & string, message: string): ResultResponse {
    this.logger.info({ workerId, jobId: result.job_id, taskId: result.task_id, reason }, "hub: result ignored");
    this.emit("result:ignored", { workerId, jobId: result.job_id, taskId: result.task_id, reason });
    return { status: "ignored", reason, message };
  }

  async #finish(
    job: JobRecord,
    end: { status: string; data?: Record<string, unknown>; error?: TaskError; workerId?: string; endReason?: JobRecord["endReason"] },
  ): Promise<void> {
    if (isTerminal(job.state)) return;
    const now = this.#now();
    const state: TaskState =
      end.status === TaskStatus.CANCELLED ? "cancelled" : end.status === TaskStatus.FAILURE ? "failed" : "finished";
    if (job.workerId !== undefined) {
      await this.store.removeLease(job.workerId, job.jobId);
      this.#pendingCancels.get(job.workerId)?.delete(job.taskId);
    }
    if (job.state === "waiting_for_worker") await this.store.removeFromQueue(job.type, job.jobId);
    job.state = state;
    job.finishedAt = now;
    job.status = end.status;
    if (end.data !== undefined) job.data = end.data;
    if (end.error !== undefined) job.error = end.error;
    if (end.workerId !== undefined) job.resultWorkerId = end.workerId;
    if (end.endReason !== undefined) job.endReason = end.endReason;
    else if (state === "failed") job.endReason = "error";
    await this.store.putJob(job);
    this.#finished.push({ jobId: job.jobId, at: now });
    if (state === "finished") this.#counters.succeeded++;
    else if (state === "failed") this.#counters.failed++;
    else this.#counters.cancelled++;
    const outcome: TaskOutcome = {
      status: end.status,
      jobId: job.jobId,
      taskId: job.taskId,
      attempts: job.attempts,
      durationMs: now - job.submittedAt,
      ...(end.data !== undefined ? { data: end.data } : {}),
      ...(end.error !== undefined ? { error: end.error } : {}),
      ...(end.workerId !== undefined ? { workerId: end.workerId } : {}),
    };
    const local = this.#local.get(job.jobId);
    if (local) {
      this.#local.delete(job.jobId);
      local.state = state;
      local.taskId = job.taskId;
      local.outcome = outcome;
      local.resolve(outcome);
    }
    this.emit("task:completed", outcome);
  }

  async #heartbeat(hb: Heartbeat | null, ctx: ListenerContext): Promise<HeartbeatResponse> {
    const id = await this.#authenticate("heartbeat", ctx, hb?.worker_id);
    const worker = await this.store.getWorker(id);
    if (hb === null) {
      if (worker === undefined) return { status: "ok", require_full_sync: true };
      await this.#touch(worker);
      return { status: "ttl_refreshed" };
    }
    await this.#verify("heartbeat", ctx, id);
    if (hb.worker_id !== id) {
      const err = new AuthError("Heartbeat worker_id does not match the authenticated worker", { details: { reason: "sender_mismatch" } });
      this.#refused("heartbeat", id, err);
      throw err;
    }
    // Unknown (expired or never registered): tell it to register again (PROTOCOL.md 11: 21).
    if (worker === undefined) return { status: "ok", require_full_sync: true };
    const response: HeartbeatResponse = { status: "ok" };
    const wasDispatchable = this.#dispatchable.has(worker.status);
    worker.status = hb.status;
    if (hb.usage !== undefined) worker.usage = hb.usage;
    if (hb.hot_skills !== undefined) worker.hotSkills = hb.hot_skills;
    if (hb.available_skills !== undefined) worker.availableSkills = hb.available_skills;
    if (hb.supported_skills !== undefined) {
      worker.skills = hb.supported_skills;
      if (hb.skills_hash !== undefined) worker.skillsHash = hb.skills_hash;
      this.#indexWorker(worker);
    } else if (hb.skills_hash !== undefined && hb.skills_hash !== "") {
      if (hb.skills_hash !== worker.skillsHash || worker.skills.length === 0) response.require_full_sync = true;
    }
    await this.#touch(worker);

    const cancels = new Set(this.#pendingCancels.get(id) ?? []);
    this.#pendingCancels.delete(id);
    if (hb.current_tasks !== undefined) {
      for (const taskId of hb.current_tasks) {
        if (cancels.has(taskId)) continue;
        const jobId = await this.store.jobIdOfTask(taskId);
        if (jobId === undefined) continue;
        const job = await this.store.getJob(jobId);
        // Running here but no longer ours (ended, cancelled, re-queued after a missed lease).
        if (job === undefined || job.taskId !== taskId || job.workerId !== id || isTerminal(job.state) || job.cancelRequestedAt !== undefined) {
          cancels.add(taskId);
        }
      }
    }
    if (cancels.size > 0) response.cancel_task_ids = [...cancels];

    if (hb.status === WorkerStatus.OFFLINE) {
      await this.#expire(worker, "offline");
    } else if (wasDispatchable && !this.#dispatchable.has(hb.status)) {
      this.#waiters.release(id);
    }
    return response;
  }

  async #event(event: WorkerEventPayload, ctx: ListenerContext): Promise<EventResponse> {
    const id = await this.#authenticate("event", ctx, event.worker_id);
    await this.#verify("event", ctx, id);
    if (event.worker_id !== id) {
      const err = new AuthError("Immediate sender ID mismatch", { details: { reason: "sender_mismatch" } });
      this.#refused("event", id, err);
      throw err;
    }
    const worker = await this.store.getWorker(id);
    if (worker !== undefined) await this.#touch(worker);
    if (event.event_type === "progress") {
      let jobId = event.target_job_id;
      const taskId = event.target_task_id ?? event.origin_task_id;
      if (jobId === undefined && taskId !== undefined) jobId = await this.store.jobIdOfTask(taskId);
      const job = jobId !== undefined ? await this.store.getJob(jobId) : undefined;
      if (job !== undefined && job.workerId === id && job.state === "running") {
        const raw = event.payload.progress;
        const progress = typeof raw === "number" && Number.isFinite(raw) ? raw : 0;
        const message = typeof event.payload.message === "string" ? event.payload.message : "";
        job.progress = progress;
        await this.store.putJob(job);
        this.emit("task:progress", { jobId: job.jobId, taskId: job.taskId, workerId: id, progress, message });
      }
    }
    return { status: "event_accepted" };
  }

  async #stsToken(ctx: ListenerContext): Promise<TokenResponse> {
    // An access token cannot mint more tokens: only long-term credentials (or a certificate) can.
    const id = await this.#authenticate("sts_token", ctx);
    return this.#auth.issue(id);
  }

  async #stsRefresh(body: TokenRefreshRequest, ctx: ListenerContext): Promise<TokenResponse> {
    try {
      return await this.#auth.refresh(body.refresh_token, ctx.workerIdHint ?? body.worker_id ?? null);
    } catch (err) {
      if (err instanceof AuthError) this.#refused("sts_refresh", ctx.workerIdHint ?? body.worker_id ?? null, err);
      throw err;
    }
  }

  async #websocket(channel: CommandChannel): Promise<void> {
    const id = channel.workerId;
    const old = this.#channels.get(id);
    if (old !== undefined && old !== channel) old.close(1008, "New connection established");
    this.#channels.set(id, channel);
    // Cancels requested while it was away.
    for (const jobId of (await this.store.leasesOf(id)) ?? []) {
      const job = await this.store.getJob(jobId);
      if (job?.cancelRequestedAt !== undefined && job.workerId === id) void this.#push(channel, job);
    }
    await channel.closed;
    if (this.#channels.get(id) === channel) this.#channels.delete(id);
  }

  async #sendCancel(workerId: string, job: JobRecord): Promise<void> {
    let set = this.#pendingCancels.get(workerId);
    if (set === undefined) {
      set = new Set();
      this.#pendingCancels.set(workerId, set);
    }
    set.add(job.taskId);
    const channel = this.#channels.get(workerId);
    if (channel?.isOpen) await this.#push(channel, job);
  }

  async #push(channel: CommandChannel, job: JobRecord): Promise<void> {
    try {
      await channel.send({ command: "cancel_task", task_id: job.taskId, job_id: job.jobId });
    } catch (err) {
      this.logger.warn({ err, workerId: channel.workerId }, "hub: could not push cancel command");
    }
  }

  // ---------------------------------------------------------------- housekeeping

  async #touch(worker: WorkerRecord): Promise<void> {
    const now = this.#now();
    worker.lastSeenAt = now;
    worker.expiresAt = now + this.#ttlMs;
    await this.store.putWorker(worker);
  }

  #indexWorker(worker: WorkerRecord): void {
    this.#views.set(worker.id, matchView(worker));
    for (const byWorker of this.#catalog.values()) byWorker.delete(worker.id);
    for (const s of worker.skills) {
      let byWorker = this.#catalog.get(s.name);
      if (byWorker === undefined) {
        byWorker = new Map();
        this.#catalog.set(s.name, byWorker);
      }
      byWorker.set(worker.id, s);
    }
  }

  #unindexWorker(id: string): void {
    this.#views.delete(id);
    for (const [name, byWorker] of this.#catalog) {
      byWorker.delete(id);
      if (byWorker.size === 0) this.#catalog.delete(name);
    }
  }

  #viewOf(worker: WorkerRecord): MatchWorker {
    let view = this.#views.get(worker.id);
    if (view === undefined || view.supported_skills !== worker.skills) {
      view = matchView(worker);
      this.#views.set(worker.id, view);
    }
    return view;
  }

  /** Forgets a worker and re-queues the tasks it held (its leases). */
  async #expire(worker: WorkerRecord, reason: string): Promise<void> {
    await this.store.deleteWorker(worker.id);
    this.#unindexWorker(worker.id);
    this.#waiters.release(worker.id);
    this.#pendingCancels.delete(worker.id);
    const requeued: string[] = [];
    for (const jobId of await this.store.leasesOf(worker.id)) {
      const job = await this.store.getJob(jobId);
      await this.store.removeLease(worker.id, jobId);
      if (job === undefined || job.workerId !== worker.id || isTerminal(job.state)) continue;
      requeued.push(jobId);
      await this.#requeue(job, "worker_lost", true);
    }
    this.logger.warn({ workerId: worker.id, reason, requeued: requeued.length }, "hub: worker gone");
    this.emit("worker:expired", { workerId: worker.id, requeued });
  }

  /** One housekeeping pass: expired workers, deadlines, cancel grace, retention, tokens. */
  async sweep(): Promise<void> {
    if (this.#sweeping || this.#closed) return;
    this.#sweeping = true;
    try {
      const now = this.#now();
      for (const w of await this.store.listWorkers()) if (w.expiresAt <= now) await this.#expire(w, "heartbeat_timeout");
      for (const job of await this.store.listOpenJobs()) {
        if (job.deadline !== undefined && now > job.deadline) {
          const workerId = job.workerId;
          await this.#finish(job, { status: TaskStatus.FAILURE, error: timeoutError(), endReason: "deadline" });
          if (workerId !== undefined) await this.#sendCancel(workerId, job);
        } else if (job.cancelRequestedAt !== undefined && now - job.cancelRequestedAt > this.#cancelGraceMs) {
          await this.#finish(job, { status: TaskStatus.CANCELLED });
        }
      }
      // A head index, not shift(): with a hundred thousand retained jobs each shift() would move
      // the whole array.
      while (this.#finishedHead < this.#finished.length) {
        const head = this.#finished[this.#finishedHead]!;
        if (this.#finished.length - this.#finishedHead <= this.#maxRetained && now - head.at < this.#retentionMs) break;
        this.#finishedHead++;
        if (this.#finishedHead >= 1024 && this.#finishedHead * 2 >= this.#finished.length) {
          this.#finished = this.#finished.slice(this.#finishedHead);
          this.#finishedHead = 0;
        }
        await this.store.deleteJob(head.jobId);
      }
      await this.store.purgeTokens(now);
    } catch (err) {
      this.logger.error({ err }, "hub: sweep failed");
    } finally {
      this.#sweeping = false;
    }
  }
}

function isTerminal(state: TaskState): boolean {
  return state === "finished" || state === "failed" || state === "cancelled";
}

function timeoutError(): TaskError {
  return { code: ErrorCode.TIMEOUT_ERROR, message: "Task deadline exceeded" };
}
