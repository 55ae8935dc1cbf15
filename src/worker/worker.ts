/**
 * The worker runtime: registers, heartbeats, long-polls for work when a slot is free, runs skills
 * and reports exactly one result per task. Every loop waits through a backoff and stops on one
 * AbortSignal, so `stop()` leaves no timer, socket or promise behind.
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import { Command, ErrorCode, EventType, TaskStatus, WorkerStatus } from "../../generated/constants.js";
import type { Heartbeat, SkillInfo, TaskPayload, TaskResult, WorkerCommand, WorkerRegistration } from "../../generated/types.js";
import { AuthError, isRxonError, ProtocolError, RateLimitError, RxonError, ValidationError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { WorkerTransport } from "../transport/types.js";
import { hashPayload } from "../wire/canonical.js";
import { Backoff } from "./backoff.js";
import { systemClock } from "./clock.js";
import { TypedEmitter, type Unsubscribe } from "./emitter.js";
import { abortTask, errorOutcome, executeTask, type RunningTask, type TaskOutcome } from "./execute.js";
import { withFields } from "./log.js";
import { ProgressReporter } from "./progress.js";
import { deliverResult } from "./results.js";
import { openTransport } from "./transport.js";
import type { StopOptions, TaskContext, WorkerClock, WorkerEvents, WorkerOptions, WorkerSkill, WorkerState, WorkerStats } from "./types.js";
import { UsageSampler } from "./usage.js";

const IDENTIFIER = /^[A-Za-z0-9_-]+$/;
/** Bound of the last steps of a shutdown (final progress, final heartbeat), so stop() always ends. */
const FLUSH_TIMEOUT_MS = 5_000;

interface Counters {
  succeeded: number;
  failed: number;
  cancelled: number;
  ignored: number;
  lost: number;
  registrations: number;
}

function positive(value: number | undefined, fallback: number, what: string, integer = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ValidationError(`Invalid ${what}: ${String(value)}`, [{ path: `/${what}`, message: `must be a positive ${integer ? "integer" : "number"}` }]);
  }
  return value;
}

/** True for answers meaning "the orchestrator does not know this worker (any more)". */
function unknownWorker(err: unknown): boolean {
  if (err instanceof AuthError) return true;
  if (err instanceof ProtocolError && (err.status === 401 || err.status === 403 || err.status === 404)) return true;
  const text = err instanceof Error ? err.message.toLowerCase() : "";
  return isRxonError(err) && (text.includes("not found") || text.includes("unauthorized"));
}

/**
 * A worker process's connection to one orchestrator. Create it with skills from `defineSkill`,
 * then `start()`; `drain()` finishes the work in hand, `stop()` shuts down within a grace period.
 */
export class Worker {
  /** This worker's id. */
  readonly workerId: string;
  /** The transport the worker talks through. */
  readonly transport: WorkerTransport;

  private readonly skills = new Map<string, WorkerSkill>();
  private readonly catalogue: SkillInfo[];
  private readonly skillNames: string[];
  private readonly skillsHash: string;
  private readonly options: WorkerOptions;
  private readonly concurrency: number;
  private readonly heartbeatIntervalMs: number;
  private readonly pollTimeoutSeconds: number;
  private readonly resultAttempts: number;
  private readonly progressIntervalMs: number;
  private readonly logger: Logger;
  private readonly clock: WorkerClock;
  private readonly emitter: TypedEmitter<WorkerEvents>;
  private readonly usage: UsageSampler;

  /** Aborted by stop(): ends every loop and pending wait. */
  private readonly life = new AbortController();
  /** Aborted by drain() and stop(): ends polling only. */
  private readonly intake = new AbortController();
  private currentState: WorkerState = "new";
  private readonly running = new Map<string, RunningTask>();
  private readonly taskPromises = new Set<Promise<void>>();
  private readonly counters: Counters = { succeeded: 0, failed: 0, cancelled: 0, ignored: 0, lost: 0, registrations: 0 };
  private registration: Promise<boolean> | undefined;
  private fullSync = true;
  private needsRegistration = false;
  private heartbeatRequested = false;
  private heartbeatWake: AbortController | undefined;
  private slotWake: AbortController | undefined;
  private readonly loops: Promise<void>[] = [];
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    if (typeof options.workerId !== "string" || !IDENTIFIER.test(options.workerId)) {
      throw new ValidationError(`Invalid worker_id: '${String(options.workerId).slice(0, 64)}'. Must be alphanumeric, underscores, or hyphens only.`, [{ path: "/workerId", message: "not an identifier" }]);
    }
    this.options = options;
    this.workerId = options.workerId;
    this.concurrency = positive(options.concurrency, 1, "concurrency", true);
    this.heartbeatIntervalMs = positive(options.heartbeatIntervalMs, 15_000, "heartbeatIntervalMs");
    this.pollTimeoutSeconds = positive(options.pollTimeoutSeconds, 30, "pollTimeoutSeconds");
    this.resultAttempts = positive(options.resultAttempts, 4, "resultAttempts", true);
    this.progressIntervalMs = options.progressIntervalMs === undefined ? 100 : Math.max(0, options.progressIntervalMs);
    this.logger = withFields(options.logger ?? silentLogger, { worker_id: this.workerId });
    this.clock = options.clock ?? systemClock;
    this.emitter = new TypedEmitter<WorkerEvents>(this.logger);
    this.usage = new UsageSampler(options.usage, this.logger, this.clock);

    for (const [i, skill] of (options.skills ?? []).entries()) {
      const name: unknown = skill?.info?.name;
      if (typeof name !== "string" || !IDENTIFIER.test(name)) {
        throw new ValidationError(`Invalid skill name at index ${i}: '${String(name).slice(0, 64)}'. Must be alphanumeric, underscores, or hyphens only.`, [{ path: `/skills/${i}/info/name`, message: "not an identifier" }]);
      }
      if (typeof skill.handler !== "function") throw new ValidationError(`Skill '${name}' has no handler`, [{ path: `/skills/${i}/handler`, message: "not a function" }]);
      if (this.skills.has(name)) throw new ValidationError(`Duplicate skill '${name}'`, [{ path: `/skills/${i}/info/name`, message: "duplicate" }]);
      this.skills.set(name, skill);
    }
    this.catalogue = [...this.skills.values()].map((s) => s.info);
    this.skillNames = [...this.skills.keys()];
    // Throws a ValidationError when a SkillInfo has no canonical form: better now than at registration.
    this.skillsHash = hashPayload(this.catalogue);
    this.transport = openTransport(options, this.logger);
  }

  /** The worker's lifecycle state. */
  get state(): WorkerState {
    return this.currentState;
  }

  /** Counters since the worker started. */
  get stats(): WorkerStats {
    return { ...this.counters, inFlight: this.running.size };
  }

  /** SHA-256 of the canonical JSON of the skill catalogue, as sent in `skills_hash`. */
  get catalogueHash(): string {
    return this.skillsHash;
  }

  /** Subscribes to an event; returns a function that unsubscribes. Listener errors are logged. */
  on<K extends keyof WorkerEvents>(event: K, listener: (payload: WorkerEvents[K]) => void): Unsubscribe {
    return this.emitter.on(event, listener);
  }

  /** Removes a listener added with {@link on}. */
  off<K extends keyof WorkerEvents>(event: K, listener: (payload: WorkerEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  /**
   * Registers (retrying with backoff until it succeeds or the worker is stopped), then starts
   * heartbeats, polling and the command channel. Resolves once registered, or when stopped first.
   * Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (this.stopPromise !== undefined) return Promise.reject(new RxonError("worker was stopped; create a new one"));
    if (this.startPromise !== undefined) return this.startPromise;
    this.setState("starting");
    this.startPromise = this.run();
    return this.startPromise;
  }

  /**
   * Stops taking work (the next heartbeat, sent at once, says `draining`) and resolves once every
   * task in hand has finished and its result was sent. The worker keeps heartbeating until `stop()`.
   */
  async drain(): Promise<void> {
    this.beginDrain();
    await this.whenIdle();
  }

  /**
   * Shuts down: drains for up to `graceMs`, aborts what still runs (results `cancelled`), sends a
   * final `offline` heartbeat and closes the transport. Idempotent.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.stopPromise ??= this.shutdown(options.graceMs ?? 10_000);
    return this.stopPromise;
  }

  /** Aborts one running task as if the orchestrator had cancelled it; false if it is not running. */
  cancelTask(taskId: string): boolean {
    const run = this.running.get(taskId);
    if (run === undefined) return false;
    abortTask(run, "cancelled");
    return true;
  }

  /** Stops with a short grace period (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop({ graceMs: 0 });
  }

  // --- lifecycle -------------------------------------------------------------------------------

  private setState(state: WorkerState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emitter.emit("state", { state });
  }

  private async run(): Promise<void> {
    try {
      await this.transport.connect();
    } catch (err) {
      // Calls connect lazily too; registration retries below cover a hub that is not up yet.
      this.logger.debug({ err }, "transport connect failed; registration will retry");
    }
    this.registration = this.registerUntilDone();
    if (!(await this.registration)) return;
    if (this.currentState === "starting") this.setState("running");
    this.loops.push(this.guard("heartbeat", () => this.heartbeatLoop()));
    this.loops.push(this.guard("poll", () => this.pollLoop()));
    if (this.options.commands !== false) this.loops.push(this.guard("commands", () => this.commandLoop()));
  }

  /** A loop that throws is a bug; log it rather than leaving an unhandled rejection. */
  private async guard(where: string, loop: () => Promise<void>): Promise<void> {
    try {
      await loop();
    } catch (err) {
      this.reportError(err, where);
    }
  }

  private reportError(err: unknown, where: string): void {
    this.logger.error({ err, where }, "worker loop failed");
    this.emitter.emit("error", { error: err, where });
  }

  private beginDrain(): void {
    if (this.currentState === "new" || this.currentState === "starting" || this.currentState === "running") this.setState("draining");
    if (!this.intake.signal.aborted) {
      this.intake.abort();
      this.requestHeartbeat();
    }
  }

  private async whenIdle(): Promise<void> {
    while (this.taskPromises.size > 0) await Promise.allSettled([...this.taskPromises]);
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.beginDrain();
    if (this.taskPromises.size > 0 && graceMs > 0) await this.within(graceMs, this.whenIdle());
    this.setState("stopping");
    for (const run of this.running.values()) abortTask(run, "shutdown");
    // Aborted tasks still report `cancelled`; give those results a bounded chance to go out.
    await this.within(FLUSH_TIMEOUT_MS, this.whenIdle());
    this.life.abort();
    await this.startPromise;
    await Promise.allSettled(this.loops);
    await this.whenIdle();
    if (this.counters.registrations > 0) await this.sendOffline();
    try {
      await this.transport.close();
    } catch (err) {
      this.logger.debug({ err }, "transport close failed");
    }
    this.setState("stopped");
  }

  /** Waits for `promise` at most `ms` (the timer is cleared either way). */
  private async within(ms: number, promise: Promise<unknown>): Promise<void> {
    const timer = new AbortController();
    await Promise.race([promise, this.clock.sleep(ms, timer.signal)]);
    timer.abort();
  }

  private async sendOffline(): Promise<void> {
    const limit = new AbortController();
    const timer = this.clock.sleep(FLUSH_TIMEOUT_MS, limit.signal).then(() => limit.abort());
    try {
      const heartbeat: Heartbeat = { worker_id: this.workerId, status: WorkerStatus.OFFLINE, current_tasks: [], available_skills: [], skills_hash: this.skillsHash };
      await this.transport.sendHeartbeat(heartbeat, { signal: limit.signal });
    } catch (err) {
      this.logger.debug({ err }, "final offline heartbeat not delivered");
    } finally {
      limit.abort();
      await timer;
    }
  }

  // --- registration and heartbeats -------------------------------------------------------------

  private registrationMessage(): WorkerRegistration {
    const o = this.options;
    const registration: WorkerRegistration = {
      worker_id: this.workerId,
      supported_skills: this.catalogue,
      available_skills: this.skillNames,
      hot_skills: this.skillNames,
      skills_hash: this.skillsHash,
      capabilities: { hostname: os.hostname(), ...o.capabilities, extra: { websockets: o.commands !== false, ...o.capabilities?.extra } },
    };
    if (o.workerType !== undefined) registration.worker_type = o.workerType;
    if (o.resources !== undefined) registration.resources = o.resources;
    if (o.installedArtifacts !== undefined) registration.installed_artifacts = [...o.installedArtifacts];
    if (o.installedSoftware !== undefined) registration.installed_software = { ...o.installedSoftware };
    if (o.metadata !== undefined) registration.metadata = { ...o.metadata };
    return registration;
  }

  /** Registers, retrying forever (1 s doubling to 60 s, 30 s floor on 429); false when stopped first. */
  private async registerUntilDone(): Promise<boolean> {
    const signal = this.life.signal;
    const backoff = new Backoff(1_000, 60_000);
    while (!signal.aborted) {
      try {
        const response = await this.transport.register(this.registrationMessage(), { signal });
        if (signal.aborted) return false;
        this.counters.registrations++;
        this.fullSync = true;
        if (response?.warning) this.logger.warn({ warning: response.warning }, "orchestrator warning at registration");
        this.logger.info({ registrations: this.counters.registrations }, "registered");
        this.emitter.emit("registered", { count: this.counters.registrations });
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        const delay = err instanceof RateLimitError ? backoff.nextAfterRateLimit(err.retryAfterMs) : backoff.next();
        const level = err instanceof AuthError ? "error" : "warn";
        this.logger[level]({ err, delay_ms: delay }, "registration failed; retrying");
        this.emitter.emit("error", { error: err, where: "register" });
        await this.clock.sleep(delay, signal);
      }
    }
    return false;
  }

  /** Wakes the heartbeat loop for an early heartbeat (state change) or a re-registration. */
  private requestHeartbeat(): void {
    this.heartbeatRequested = true;
    this.heartbeatWake?.abort();
  }

  private requestRegistration(): void {
    this.needsRegistration = true;
    this.requestHeartbeat();
  }

  private heartbeatStatus(): string {
    if (this.currentState === "draining" || this.currentState === "stopping") return WorkerStatus.DRAINING;
    return this.running.size >= this.concurrency ? WorkerStatus.FULL : WorkerStatus.IDLE;
  }

  private async heartbeatMessage(): Promise<Heartbeat> {
    const status = this.heartbeatStatus();
    const heartbeat: Heartbeat = {
      worker_id: this.workerId,
      status,
      usage: await this.usage.sample(this.life.signal),
      current_tasks: [...this.running.keys()],
      available_skills: status === WorkerStatus.IDLE ? this.skillNames : [],
      hot_skills: this.skillNames,
      skills_hash: this.skillsHash,
    };
    if (this.fullSync) heartbeat.supported_skills = this.catalogue;
    return heartbeat;
  }

  private async waitForHeartbeat(ms: number): Promise<void> {
    if (this.heartbeatRequested) return;
    const wake = (this.heartbeatWake = new AbortController());
    const onStop = (): void => wake.abort();
    this.life.signal.addEventListener("abort", onStop, { once: true });
    await this.clock.sleep(ms, wake.signal);
    this.life.signal.removeEventListener("abort", onStop);
    this.heartbeatWake = undefined;
  }

  private async heartbeatLoop(): Promise<void> {
    const signal = this.life.signal;
    const interval = this.heartbeatIntervalMs;
    const errors = new Backoff(Math.min(1_000, interval), Math.max(1_000, interval));
    // Re-registrations in a row (an orchestrator that keeps asking) are spaced out, the first is immediate.
    const reRegistrations = new Backoff(1_000, 60_000);
    let streak = 0;
    let delay = 0;
    while (!signal.aborted) {
      if (delay > 0) await this.waitForHeartbeat(delay);
      if (signal.aborted) break;
      this.heartbeatRequested = false;
      if (this.needsRegistration) {
        this.needsRegistration = false;
        if (streak++ > 0) await this.clock.sleep(reRegistrations.next(), signal);
        this.registration = this.registerUntilDone();
        if (!(await this.registration)) break;
        delay = 0;
        continue;
      }
      try {
        const response = await this.transport.sendHeartbeat(await this.heartbeatMessage(), { signal });
        if (signal.aborted) break;
        if (response === null || response.require_full_sync === true) {
          // Our hub answers require_full_sync (and a Python one may answer null) for a worker it forgot.
          this.logger.info({ response }, "orchestrator asks for a full sync; registering again");
          this.needsRegistration = true;
          delay = 0;
          continue;
        }
        streak = 0;
        reRegistrations.reset();
        errors.reset();
        this.fullSync = false;
        for (const id of response.cancel_task_ids ?? []) {
          if (typeof id === "string" && this.cancelTask(id)) this.logger.info({ task_id: id }, "task cancelled by heartbeat reply");
        }
        const jitter = response.next_heartbeat_jitter_ms;
        delay = interval + (typeof jitter === "number" && Number.isFinite(jitter) && jitter > 0 ? Math.min(jitter, interval) : 0);
      } catch (err) {
        if (signal.aborted) break;
        if (unknownWorker(err)) {
          this.logger.warn({ err }, "heartbeat refused; registering again");
          this.needsRegistration = true;
          delay = 0;
          continue;
        }
        delay = err instanceof RateLimitError ? errors.nextAfterRateLimit(err.retryAfterMs) : errors.next();
        this.logger.warn({ err, delay_ms: delay }, "heartbeat failed");
        this.emitter.emit("error", { error: err, where: "heartbeat" });
      }
    }
  }

  // --- commands --------------------------------------------------------------------------------

  private async commandLoop(): Promise<void> {
    const signal = this.life.signal;
    const backoff = new Backoff(1_000, 30_000);
    while (!signal.aborted) {
      try {
        for await (const command of this.transport.commands({ signal })) {
          backoff.reset();
          this.onCommand(command);
        }
      } catch (err) {
        if (signal.aborted) break;
        this.logger.warn({ err }, "command channel failed");
      }
      if (signal.aborted) break;
      // The transport reconnects by itself; an iterator that ends anyway must not be re-opened in a spin.
      await this.clock.sleep(backoff.next(), signal);
    }
  }

  private onCommand(command: WorkerCommand): void {
    this.emitter.emit("command", { command });
    if (command.command === Command.CANCEL_TASK && typeof command.task_id === "string") {
      const found = this.cancelTask(command.task_id);
      this.logger.info({ task_id: command.task_id, running: found }, "cancel command received");
    } else {
      this.logger.debug({ command: command.command }, "command without a built-in action");
    }
  }

  // --- polling and tasks -----------------------------------------------------------------------

  private async waitForSlot(signal: AbortSignal): Promise<void> {
    const wake = (this.slotWake = new AbortController());
    const onStop = (): void => wake.abort();
    signal.addEventListener("abort", onStop, { once: true });
    // The wake-up is the normal path; the timeout only guards against a missed one.
    await this.clock.sleep(60_000, wake.signal);
    signal.removeEventListener("abort", onStop);
    if (this.slotWake === wake) this.slotWake = undefined;
  }

  private async pollLoop(): Promise<void> {
    const signal = this.intake.signal;
    const backoff = new Backoff(1_000, 30_000);
    while (!signal.aborted) {
      if (this.running.size >= this.concurrency) {
        await this.waitForSlot(signal);
        continue;
      }
      if (!(await this.registration)) break;
      if (signal.aborted) break;
      let task: TaskPayload | null;
      try {
        task = await this.transport.pollTask({ timeoutSeconds: this.pollTimeoutSeconds, availableSkills: this.skillNames, hotSkills: this.skillNames, signal });
        backoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        // Every kind of failure waits (PROTOCOL.md 11 item 33: the Python SDK spins on 4xx/5xx).
        const delay = err instanceof RateLimitError ? backoff.nextAfterRateLimit(err.retryAfterMs) : backoff.next();
        if (unknownWorker(err)) this.requestRegistration();
        this.logger.warn({ err, delay_ms: delay }, "poll failed");
        this.emitter.emit("error", { error: err, where: "poll" });
        await this.clock.sleep(delay, signal);
        continue;
      }
      // A task that arrives while draining has been handed to us: run it rather than lose it.
      if (task !== null) this.accept(task);
    }
  }

  private accept(task: TaskPayload): void {
    if (this.running.has(task.task_id)) {
      this.logger.warn({ task_id: task.task_id }, "task delivered twice; the running copy will report");
      return;
    }
    const run: RunningTask = { task, controller: new AbortController(), abortKind: undefined, startedAt: this.clock.now() };
    this.running.set(task.task_id, run);
    const done = this.runTask(run)
      .catch((err: unknown) => this.reportError(err, "task"))
      .finally(() => {
        this.running.delete(task.task_id);
        this.taskPromises.delete(done);
        this.slotWake?.abort();
      });
    this.taskPromises.add(done);
  }

  private async runTask(run: RunningTask): Promise<void> {
    const task = run.task;
    const logger = withFields(this.logger, { task_id: task.task_id, job_id: task.job_id });
    this.emitter.emit("task:start", { task });
    const finished = new AbortController();
    const deadline = typeof task.deadline === "number" && Number.isFinite(task.deadline) ? task.deadline * 1000 : undefined;
    if (deadline !== undefined && deadline <= this.clock.now()) abortTask(run, "deadline");
    else if (deadline !== undefined) {
      void this.clock.sleep(deadline - this.clock.now(), finished.signal).then(() => {
        if (!finished.signal.aborted) abortTask(run, "deadline");
      });
    }
    const progress = new ProgressReporter((p, m) => this.sendProgress(task, p, m), this.progressIntervalMs, this.clock, logger);
    const ctx: TaskContext = {
      signal: run.controller.signal,
      taskId: task.task_id,
      jobId: task.job_id,
      ...(deadline === undefined ? {} : { deadline }),
      progress: (fraction, message) => progress.report(fraction, message),
      logger,
      workerId: this.workerId,
      task,
    };
    let outcome: TaskOutcome;
    try {
      outcome = await executeTask(run, this.skills.get(task.type), ctx, logger);
    } catch (err) {
      outcome = errorOutcome(err, String(task.type), logger);
    } finally {
      finished.abort();
    }
    await progress.flush(FLUSH_TIMEOUT_MS);
    await this.report(run, outcome, logger);
  }

  private resultFor(run: RunningTask, outcome: TaskOutcome): TaskResult {
    const task = run.task;
    const now = this.clock.now();
    const result: TaskResult = { job_id: task.job_id, task_id: task.task_id, worker_id: this.workerId, status: outcome.status };
    if (typeof task.origin_worker_id === "string") result.origin_worker_id = task.origin_worker_id;
    if (outcome.data !== undefined) result.data = outcome.data;
    if (outcome.error !== undefined) result.error = outcome.error;
    result.costs = { execution_time_seconds: Math.round(Math.max(0, now - run.startedAt) / 1000 * 10_000) / 10_000 };
    result.picked_up_at = Math.floor(run.startedAt / 1000);
    return result;
  }

  private async report(run: RunningTask, outcome: TaskOutcome, logger: Logger): Promise<void> {
    let result = this.resultFor(run, outcome);
    const options = { attempts: this.resultAttempts, clock: this.clock, logger, signal: this.life.signal };
    let delivery = await deliverResult(this.transport, result, options);
    if (delivery.kind === "invalid") {
      // The handler's data cannot be put on the wire; one result must still go out, so send why.
      logger.error({ err: delivery.error }, "result cannot be encoded; reporting a failure instead");
      result = this.resultFor(run, { status: TaskStatus.FAILURE, error: { code: ErrorCode.INTERNAL_ERROR, message: "Result data cannot be encoded as canonical JSON" } });
      delivery = await deliverResult(this.transport, result, options);
    }
    const status = result.status;
    if (status === TaskStatus.SUCCESS) this.counters.succeeded++;
    else if (status === TaskStatus.CANCELLED) this.counters.cancelled++;
    else this.counters.failed++;
    if (delivery.kind === "ignored") {
      this.counters.ignored++;
      logger.info({ reason: delivery.reason }, "result ignored by the orchestrator");
    } else if (delivery.kind !== "delivered") {
      this.counters.lost++;
      logger.error({ err: delivery.error, status }, "result lost");
      this.emitter.emit("error", { error: delivery.error, where: "result" });
    }
    this.emitter.emit("task:done", { task: run.task, result, delivered: delivery.kind === "delivered" });
  }

  private sendProgress(task: Readonly<TaskPayload>, progress: number, message: string): Promise<boolean> {
    return this.transport.emitEvent(
      {
        event_id: randomUUID(),
        worker_id: this.workerId,
        origin_worker_id: this.workerId,
        event_type: EventType.PROGRESS,
        payload: { progress, message },
        origin_task_id: task.task_id,
        target_job_id: task.job_id,
        target_task_id: task.task_id,
      },
      { signal: this.life.signal },
    );
  }
}
