/**
 * The worker runtime: registers, heartbeats, long-polls for work when a slot is free, runs skills
 * and reports exactly one result per task. Every loop waits through a backoff and stops on one
 * AbortSignal, so `stop()` leaves no timer, socket or promise behind.
 */
import { Command, WorkerStatus } from "../../generated/constants.js";
import type { SkillInfo, TaskPayload, WorkerCommand } from "../../generated/types.js";
import { RateLimitError, RxonError, ValidationError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { PollOptions, WorkerTransport } from "../transport/types.js";
import { hashPayload } from "../wire/canonical.js";
import { Backoff } from "../transport/backoff.js";
import { elapsedNow, systemClock } from "./clock.js";
import { TypedEmitter, type Unsubscribe } from "./emitter.js";
import { abortTask, RunningTask } from "./execute.js";
import { withFields } from "./log.js";
import { RateLimitHold } from "./rate-limit.js";
import { Session, unknownWorker, type SessionHost } from "./session.js";
import { TaskRunner, type TaskCounters } from "./task-runner.js";
import { openTransport } from "./transport.js";
import type { StopOptions, WorkerClock, WorkerEvents, WorkerOptions, WorkerSkill, WorkerState, WorkerStats } from "./types.js";
import { UsageSampler } from "./usage.js";
import { loadOpenTelemetry } from "../tracing/otel.js";

const IDENTIFIER = /^[A-Za-z0-9_-]+$/;
/** Bound of the last steps of a shutdown (final progress, final heartbeat), so stop() always ends. */
const FLUSH_TIMEOUT_MS = 5_000;
/**
 * How long a handler may run on after its task was aborted and ended before the worker says it
 * ignores its signal (a handler that honours it usually settles at once; cleanup may take a moment).
 */
const ABANDONED_WARN_MS = 1_000;
/** An empty poll answered faster than this was not held by the server. */
const QUICK_EMPTY_POLL_MS = 50;

function positive(value: number | undefined, fallback: number, what: string, integer = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ValidationError(`Invalid ${what}: ${String(value)}`, [{ path: `/${what}`, message: `must be a positive ${integer ? "integer" : "number"}` }]);
  }
  return value;
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
  private readonly pollTimeoutSeconds: number;
  private readonly logger: Logger;
  private readonly clock: WorkerClock;
  private readonly emitter: TypedEmitter<WorkerEvents>;
  private readonly runner: TaskRunner;
  private readonly session: Session;
  private readonly rateLimit: RateLimitHold;

  /** Aborted by stop(): ends every loop and pending wait. */
  private readonly life = new AbortController();
  /** Aborted by drain() and stop(): ends polling only. */
  private readonly intake = new AbortController();
  private currentState: WorkerState = "new";
  private readonly running = new Map<string, RunningTask>();
  /** Each task's run to its delivered result. */
  private readonly taskPromises = new Map<RunningTask, Promise<void>>();
  /** Tasks that ended while their handler runs on (it ignored its abort): their slots are free. */
  private readonly abandoned = new Set<RunningTask>();
  private readonly counters: TaskCounters = { succeeded: 0, failed: 0, cancelled: 0, ignored: 0, lost: 0 };
  /** Wakes the poll loop waiting for a free slot (or for intake to stop), if it waits. */
  private slotFree: (() => void) | undefined;
  /** Options of every poll (and of a result asking for the next task): the same every time, made once. */
  private readonly pollOptions: PollOptions;
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
    this.pollTimeoutSeconds = positive(options.pollTimeoutSeconds, 30, "pollTimeoutSeconds");
    this.logger = withFields(options.logger ?? silentLogger, { worker_id: this.workerId });
    this.clock = options.clock ?? systemClock;
    this.emitter = new TypedEmitter<WorkerEvents>(this.logger);

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
    this.pollOptions = Object.freeze({
      timeoutSeconds: this.pollTimeoutSeconds,
      availableSkills: this.skillNames,
      hotSkills: this.skillNames,
      signal: this.intake.signal,
      ...(options.orchestratorKey !== undefined ? { keepReceived: true } : {}),
    });
    // Throws a ValidationError when a SkillInfo has no canonical form: better now than at registration.
    this.skillsHash = hashPayload(this.catalogue);
    this.transport = openTransport(options, this.logger);
    this.rateLimit = new RateLimitHold(this.clock, options.rateLimit);
    const orchestratorKey = options.orchestratorKey;
    if (orchestratorKey !== undefined && (typeof orchestratorKey !== "string" || orchestratorKey === "")) {
      throw new ValidationError("orchestratorKey must be a non-empty string", [{ path: "/orchestratorKey", message: "empty" }]);
    }
    this.runner = new TaskRunner({
      workerId: this.workerId,
      transport: this.transport,
      skills: this.skills,
      clock: this.clock,
      logger: this.logger,
      emitter: this.emitter,
      counters: this.counters,
      resultAttempts: positive(options.resultAttempts, 4, "resultAttempts", true),
      progressIntervalMs: options.progressIntervalMs === undefined ? 100 : Math.max(0, options.progressIntervalMs),
      flushTimeoutMs: FLUSH_TIMEOUT_MS,
      signal: this.life.signal,
      rateLimit: this.rateLimit,
      ...(orchestratorKey !== undefined ? { orchestratorKey } : {}),
      ...(options.nextTaskWithResult !== false ? { nextPoll: () => this.nextPoll() } : {}),
    });
    const host: SessionHost = {
      heartbeatStatus: () => this.heartbeatStatus(),
      currentTasks: () => this.currentTasks(options.reportJobIdsInHeartbeat !== false),
      cancelTask: (id) => this.cancelTask(id),
      loopBlocked: (blockedMs, silentMs, intervalMs) => this.loopBlocked(blockedMs, silentMs, intervalMs),
    };
    this.session = new Session(
      {
        workerId: this.workerId,
        options,
        transport: this.transport,
        clock: this.clock,
        logger: this.logger,
        emitter: this.emitter,
        usage: new UsageSampler(options.usage, this.logger, this.clock),
        heartbeatIntervalMs: positive(options.heartbeatIntervalMs, 15_000, "heartbeatIntervalMs"),
        heartbeatCooldownMs: options.heartbeatCooldownMs === 0 ? 0 : positive(options.heartbeatCooldownMs, 2_000, "heartbeatCooldownMs"),
        authFailureLimit: positive(options.authFailureLimit, 3, "authFailureLimit", true),
        rateLimit: this.rateLimit,
        catalogue: this.catalogue,
        skillNames: this.skillNames,
        skillsHash: this.skillsHash,
        signal: this.life.signal,
      },
      host,
    );
  }

  /** The worker's lifecycle state. */
  get state(): WorkerState {
    return this.currentState;
  }

  /** Counters since the worker started. */
  get stats(): WorkerStats {
    return { ...this.counters, inFlight: this.running.size, abandoned: this.abandoned.size, registrations: this.session.registrations };
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
   * Rejects with an AuthError when `authFailureLimit` registrations in a row were refused as
   * unauthorized (401 after a token refresh, or 403): credentials that will not fix themselves.
   * Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (this.stopPromise !== undefined) return Promise.reject(new RxonError("worker was stopped; create a new one"));
    if (this.startPromise !== undefined) return this.startPromise;
    // A worker drained before it started registers and heartbeats as draining, and takes no work.
    if (this.currentState === "new") this.setState("starting");
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
   * Shuts down: drains for up to `graceMs`, aborts what still runs (results `failure` with
   * `TRANSIENT_ERROR`, so the orchestrator runs the task again elsewhere), sends a final `offline`
   * heartbeat and closes the transport. Idempotent.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.stopPromise ??= this.shutdown(options.graceMs ?? 10_000);
    return this.stopPromise;
  }

  /**
   * Aborts a running task as if the orchestrator had cancelled it (result `cancelled`). `id` is a
   * task id or a job id (the Python orchestrator cancels by job id); every task of that job that
   * runs here is cancelled. False if none is running.
   */
  cancelTask(id: string): boolean {
    const run = this.running.get(id);
    if (run !== undefined) {
      abortTask(run, "cancelled");
      return true;
    }
    let found = false;
    for (const r of this.running.values()) {
      if (r.task.job_id === id) {
        abortTask(r, "cancelled");
        found = true;
      }
    }
    return found;
  }

  /** Stops without a grace period (for `await using`). */
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
    // The optional OpenTelemetry bridge, loaded once before any task can arrive.
    await loadOpenTelemetry();
    try {
      await this.transport.connect();
    } catch (err) {
      // Calls connect lazily too; registration retries below cover a hub that is not up yet.
      this.logger.debug({ err }, "transport connect failed; registration will retry");
    }
    if (!(await this.session.register(true))) return;
    if (this.currentState === "starting") this.setState("running");
    this.loops.push(this.guard("heartbeat", () => this.session.loop()));
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
      this.wakePoller();
      this.session.requestHeartbeat();
    }
  }

  private async whenIdle(): Promise<void> {
    while (this.taskPromises.size > 0) await Promise.allSettled([...this.taskPromises.values()]);
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.beginDrain();
    if (this.taskPromises.size > 0 && graceMs > 0) await this.within(graceMs, this.whenIdle());
    this.setState("stopping");
    for (const run of this.running.values()) abortTask(run, "shutdown");
    // Aborted tasks still report (a transient failure); give those results a bounded chance to go out.
    await this.within(FLUSH_TIMEOUT_MS, this.whenIdle());
    this.life.abort();
    await this.startPromise?.catch(() => undefined);
    await Promise.allSettled(this.loops);
    await this.whenIdle();
    if (this.abandoned.size > 0) {
      const tasks = [...this.abandoned].map((run) => ({ task_id: run.task.task_id, skill: String(run.task.type).slice(0, 128) }));
      this.logger.warn({ abandoned: tasks.length, tasks: tasks.slice(0, 20) }, "stopped with handlers still running: they ignore ctx.signal, and their timers or sockets may keep the process alive");
    }
    if (this.session.registrations > 0) await this.session.sendOffline(FLUSH_TIMEOUT_MS);
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

  /** Task ids, each followed by its job id (when different and `withJobIds`): what cancels can name. */
  private currentTasks(withJobIds: boolean): string[] {
    const ids = new Set<string>();
    for (const run of this.running.values()) {
      ids.add(run.task.task_id);
      if (withJobIds && typeof run.task.job_id === "string" && run.task.job_id !== "") ids.add(run.task.job_id);
    }
    return [...ids];
  }

  private heartbeatStatus(): WorkerStatus {
    if (this.currentState === "draining" || this.currentState === "stopping") return WorkerStatus.DRAINING;
    return this.running.size >= this.concurrency ? WorkerStatus.FULL : WorkerStatus.IDLE;
  }

  /**
   * Warns that the event loop was blocked while the orchestrator heard nothing for two heartbeat
   * intervals or more, naming the tasks that ran (one of their handlers did synchronous work that
   * long, most likely). Once per task: a handler that blocks again and again is named once.
   */
  private loopBlocked(blockedMs: number, silentMs: number, intervalMs: number): void {
    const runs = [...this.running.values()];
    const fresh = runs.filter((run) => !run.blockReported);
    const fields = {
      blocked_ms: Math.round(blockedMs),
      silent_ms: Math.round(silentMs),
      heartbeat_interval_ms: intervalMs,
      tasks: runs.slice(0, 20).map((run) => ({ task_id: run.task.task_id, skill: String(run.task.type).slice(0, 128) })),
    };
    if (runs.length > 0 && fresh.length === 0) {
      this.logger.debug(fields, "event loop blocked again");
      return;
    }
    for (const run of fresh) run.blockReported = true;
    this.logger.warn(
      fields,
      "event loop blocked: no heartbeat for two intervals, and an orchestrator that hears nothing for about three runs this worker's tasks again elsewhere; run CPU-bound handler code in worker_threads, or yield (await setImmediate) well within each interval",
    );
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

  /**
   * Resolves when a running task ends or intake stops (both call {@link wakePoller}). The poll loop
   * checks for a free slot and calls this in the same turn, and a task can only end in a later one,
   * so no end is missed. No listener on the intake signal: beginDrain() wakes the loop itself.
   */
  private waitForSlot(): Promise<void> {
    return new Promise((resolve) => {
      this.slotFree = resolve;
    });
  }

  /**
   * Poll options for a result that may bring the next task: only while the poll loop waits for a
   * slot, so the ending task's slot is one it would poll for. Otherwise (a poll is out, intake
   * stopped) the worker polls as usual.
   */
  private nextPoll(): PollOptions | undefined {
    return this.slotFree !== undefined && !this.intake.signal.aborted ? this.pollOptions : undefined;
  }

  private wakePoller(): void {
    const wake = this.slotFree;
    this.slotFree = undefined;
    wake?.();
  }

  private async pollLoop(): Promise<void> {
    const signal = this.intake.signal;
    const backoff = new Backoff(1_000, 30_000);
    // A server that answers 204 without holding the poll would make "poll again at once" a spin.
    const emptyBackoff = new Backoff(10, 1_000);
    const pollOptions = this.pollOptions;
    while (!signal.aborted) {
      if (this.running.size >= this.concurrency) {
        await this.waitForSlot();
        continue;
      }
      if (!(await this.session.registered())) break;
      if (this.rateLimit.holds()) await this.rateLimit.wait(signal);
      if (signal.aborted) break;
      let task: TaskPayload | null;
      const polledAt = elapsedNow(this.clock);
      try {
        task = await this.transport.pollTask(pollOptions);
        backoff.reset();
        this.rateLimit.succeeded();
      } catch (err) {
        if (signal.aborted) break;
        // Every kind of failure waits (PROTOCOL.md 11 item 33: the Python SDK spins on 4xx/5xx).
        const delay = err instanceof RateLimitError ? this.rateLimit.limited(err) : backoff.next();
        if (unknownWorker(err)) this.session.requestRegistration();
        this.logger.warn({ err, delay_ms: delay }, "poll failed");
        this.emitter.emit("error", { error: err, where: "poll" });
        await this.clock.sleep(delay, signal);
        continue;
      }
      // A task that arrives while draining has been handed to us: run it rather than lose it.
      if (task !== null) {
        emptyBackoff.reset();
        this.accept(task);
      } else if (elapsedNow(this.clock) - polledAt < QUICK_EMPTY_POLL_MS) {
        await this.clock.sleep(emptyBackoff.next(), signal);
      } else {
        emptyBackoff.reset();
      }
    }
  }

  /**
   * A task ended (aborted) while its handler runs on: nothing in-process can stop it, so its slot
   * is freed and what it returns dropped. Said once if it still runs a moment later, and again
   * when it ends; counted in `stats.abandoned` meanwhile.
   */
  private abandon(run: RunningTask): void {
    this.abandoned.add(run);
    const fields = { task_id: run.task.task_id, job_id: run.task.job_id, skill: String(run.task.type).slice(0, 128), aborted: run.abortKind };
    let warned = false;
    run.onHandlerEnd = () => {
      this.abandoned.delete(run);
      if (warned) this.logger.info(fields, "handler of an aborted task ended at last; what it returned was dropped");
    };
    void this.clock.sleep(ABANDONED_WARN_MS, this.life.signal).then(() => {
      if (!run.handlerRunning || this.life.signal.aborted) return;
      warned = true;
      this.logger.warn(
        { ...fields, abandoned: this.abandoned.size },
        "handler still running after its task was aborted and ended: it ignores ctx.signal; its slot is free again and what it returns will be dropped",
      );
    });
  }

  private accept(task: TaskPayload): void {
    if (this.running.has(task.task_id)) {
      this.logger.warn({ task_id: task.task_id }, "task delivered twice; the running copy will report");
      return;
    }
    const run = new RunningTask(task, this.clock.now(), elapsedNow(this.clock));
    this.running.set(task.task_id, run);
    // Orchestrators that dispatch only to `idle` workers learn of the new load at once.
    this.session.requestLoadHeartbeat();
    this.taskPromises.set(run, this.runTask(run));
  }

  /** Runs a task, then frees its slot. Always yields before its end, so accept() has recorded it by then. */
  private async runTask(run: RunningTask): Promise<void> {
    let next: TaskPayload | undefined;
    try {
      next = await this.runner.run(run);
    } catch (err) {
      this.reportError(err, "task");
    }
    this.running.delete(run.task.task_id);
    this.taskPromises.delete(run);
    if (run.handlerRunning) this.abandon(run);
    // The result's answer brought the next task: it takes the slot, and the poll loop waits on.
    if (next !== undefined) {
      this.accept(next);
      return;
    }
    this.wakePoller();
    this.session.requestLoadHeartbeat();
  }
}
