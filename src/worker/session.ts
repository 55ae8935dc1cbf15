/**
 * The worker's standing with the orchestrator: registration (retried until it succeeds),
 * heartbeats with live usage, and what heartbeat replies ask for (a full sync, cancellations,
 * registering again after the orchestrator forgot the worker).
 */
import os from "node:os";
import { WorkerStatus } from "../../generated/constants.js";
import type { Heartbeat, SkillInfo, WorkerRegistration } from "../../generated/types.js";
import { AuthError, isRxonError, ProtocolError, RateLimitError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { WorkerTransport } from "../transport/types.js";
import { Backoff } from "./backoff.js";
import type { TypedEmitter } from "./emitter.js";
import type { WorkerClock, WorkerEvents, WorkerOptions } from "./types.js";
import type { UsageSampler } from "./usage.js";

/** What the session asks of its worker. */
export interface SessionHost {
  /** `idle`, `full` or `draining`. */
  heartbeatStatus(): WorkerStatus;
  /** Ids of the tasks running now. */
  currentTasks(): string[];
  /** Aborts a running task as cancelled; false if it is not running. */
  cancelTask(taskId: string): boolean;
}

/** Settings of a {@link Session}. */
export interface SessionSettings {
  readonly workerId: string;
  readonly options: WorkerOptions;
  readonly transport: WorkerTransport;
  readonly clock: WorkerClock;
  readonly logger: Logger;
  readonly emitter: TypedEmitter<WorkerEvents>;
  readonly usage: UsageSampler;
  readonly heartbeatIntervalMs: number;
  readonly catalogue: readonly SkillInfo[];
  readonly skillNames: readonly string[];
  readonly skillsHash: string;
  /** Aborted by stop(): ends registration attempts and the heartbeat loop. */
  readonly signal: AbortSignal;
}

/** True for answers meaning "the orchestrator does not know this worker (any more)". */
export function unknownWorker(err: unknown): boolean {
  if (err instanceof AuthError) return true;
  if (err instanceof ProtocolError && (err.status === 401 || err.status === 403 || err.status === 404)) return true;
  const text = err instanceof Error ? err.message.toLowerCase() : "";
  return isRxonError(err) && (text.includes("not found") || text.includes("unauthorized"));
}

/** Registration and heartbeats of one worker. */
export class Session {
  /** Successful registrations so far. */
  registrations = 0;
  private current: Promise<boolean> = Promise.resolve(false);
  private fullSync = true;
  private needsRegistration = false;
  private heartbeatRequested = false;
  private wake: AbortController | undefined;

  constructor(
    private readonly s: SessionSettings,
    private readonly host: SessionHost,
  ) {}

  /** Starts registering; resolves true once registered, false if stopped first. */
  register(): Promise<boolean> {
    this.current = this.registerUntilDone();
    return this.current;
  }

  /** The registration in progress or done: true when the worker is registered, false when stopped first. */
  registered(): Promise<boolean> {
    return this.current;
  }

  /** Sends a heartbeat as soon as possible (state change). */
  requestHeartbeat(): void {
    this.heartbeatRequested = true;
    this.wake?.abort();
  }

  /** Registers again as soon as possible (the orchestrator refused a call as from an unknown worker). */
  requestRegistration(): void {
    this.needsRegistration = true;
    this.requestHeartbeat();
  }

  /** Sends the final `offline` heartbeat, waiting at most `timeoutMs`; never throws. */
  async sendOffline(timeoutMs: number): Promise<void> {
    const limit = new AbortController();
    const timer = this.s.clock.sleep(timeoutMs, limit.signal).then(() => limit.abort());
    try {
      const heartbeat: Heartbeat = { worker_id: this.s.workerId, status: WorkerStatus.OFFLINE, current_tasks: [], available_skills: [], skills_hash: this.s.skillsHash };
      await this.s.transport.sendHeartbeat(heartbeat, { signal: limit.signal });
    } catch (err) {
      this.s.logger.debug({ err }, "final offline heartbeat not delivered");
    } finally {
      limit.abort();
      await timer;
    }
  }

  private registrationMessage(): WorkerRegistration {
    const { options: o, skillNames } = this.s;
    const registration: WorkerRegistration = {
      worker_id: this.s.workerId,
      supported_skills: [...this.s.catalogue],
      available_skills: [...skillNames],
      hot_skills: [...skillNames],
      skills_hash: this.s.skillsHash,
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
    const { signal, logger, emitter } = this.s;
    const backoff = new Backoff(1_000, 60_000);
    while (!signal.aborted) {
      try {
        const response = await this.s.transport.register(this.registrationMessage(), { signal });
        if (signal.aborted) return false;
        this.registrations++;
        this.fullSync = true;
        if (response?.warning) logger.warn({ warning: response.warning }, "orchestrator warning at registration");
        logger.info({ registrations: this.registrations }, "registered");
        emitter.emit("registered", { count: this.registrations });
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        const delay = err instanceof RateLimitError ? backoff.nextAfterRateLimit(err.retryAfterMs) : backoff.next();
        logger[err instanceof AuthError ? "error" : "warn"]({ err, delay_ms: delay }, "registration failed; retrying");
        emitter.emit("error", { error: err, where: "register" });
        await this.s.clock.sleep(delay, signal);
      }
    }
    return false;
  }

  private async heartbeatMessage(): Promise<Heartbeat> {
    const status = this.host.heartbeatStatus();
    const heartbeat: Heartbeat = {
      worker_id: this.s.workerId,
      status,
      usage: await this.s.usage.sample(this.s.signal),
      current_tasks: this.host.currentTasks(),
      available_skills: status === WorkerStatus.IDLE ? [...this.s.skillNames] : [],
      hot_skills: [...this.s.skillNames],
      skills_hash: this.s.skillsHash,
    };
    if (this.fullSync) heartbeat.supported_skills = [...this.s.catalogue];
    return heartbeat;
  }

  private async waitForHeartbeat(ms: number): Promise<void> {
    if (this.heartbeatRequested) return;
    const wake = (this.wake = new AbortController());
    const onStop = (): void => wake.abort();
    this.s.signal.addEventListener("abort", onStop, { once: true });
    await this.s.clock.sleep(ms, wake.signal);
    this.s.signal.removeEventListener("abort", onStop);
    this.wake = undefined;
  }

  /**
   * Heartbeats until stopped: the first right away, then every interval (plus the reply's
   * `next_heartbeat_jitter_ms`), sooner when requested. Errors back off; a reply or error saying
   * the orchestrator does not know the worker leads to a new registration.
   */
  async loop(): Promise<void> {
    const { signal, logger, emitter } = this.s;
    const interval = this.s.heartbeatIntervalMs;
    const errors = new Backoff(Math.min(1_000, interval), Math.max(1_000, interval));
    // Re-registrations in a row (an orchestrator that keeps asking) are spaced out; the first is immediate.
    const again = new Backoff(1_000, 60_000);
    let streak = 0;
    let delay = 0;
    while (!signal.aborted) {
      if (delay > 0) await this.waitForHeartbeat(delay);
      if (signal.aborted) break;
      this.heartbeatRequested = false;
      if (this.needsRegistration) {
        this.needsRegistration = false;
        if (streak++ > 0) await this.s.clock.sleep(again.next(), signal);
        if (!(await this.register())) break;
        delay = 0;
        continue;
      }
      try {
        const response = await this.s.transport.sendHeartbeat(await this.heartbeatMessage(), { signal });
        if (signal.aborted) break;
        // Cancellations first: a reply may carry them next to require_full_sync.
        for (const id of response?.cancel_task_ids ?? []) {
          if (typeof id === "string" && this.host.cancelTask(id)) logger.info({ task_id: id }, "task cancelled by heartbeat reply");
        }
        if (response === null || response.require_full_sync === true) {
          // Our hub answers require_full_sync, and a Python one may answer null, for a worker it forgot.
          logger.info({ response }, "orchestrator asks for a full sync; registering again");
          this.needsRegistration = true;
          delay = 0;
          continue;
        }
        streak = 0;
        again.reset();
        errors.reset();
        this.fullSync = false;
        const jitter = response.next_heartbeat_jitter_ms;
        delay = interval + (typeof jitter === "number" && Number.isFinite(jitter) && jitter > 0 ? Math.min(jitter, interval) : 0);
      } catch (err) {
        if (signal.aborted) break;
        if (unknownWorker(err)) {
          logger.warn({ err }, "heartbeat refused; registering again");
          this.needsRegistration = true;
          delay = 0;
          continue;
        }
        delay = err instanceof RateLimitError ? errors.nextAfterRateLimit(err.retryAfterMs) : errors.next();
        logger.warn({ err, delay_ms: delay }, "heartbeat failed");
        emitter.emit("error", { error: err, where: "heartbeat" });
      }
    }
  }
}
