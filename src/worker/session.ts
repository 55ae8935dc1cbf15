/**
 * The worker's standing with the orchestrator: registration (retried until it succeeds),
 * heartbeats with live usage, and what heartbeat replies ask for (a full sync, cancellations,
 * registering again after the orchestrator forgot the worker, or may have: after an outage).
 */
import os from "node:os";
import { WorkerStatus } from "../../generated/constants.js";
import type { Heartbeat, SkillInfo, WorkerRegistration } from "../../generated/types.js";
import { AuthError, isRxonError, NetworkError, ProtocolError, RateLimitError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { WorkerTransport } from "../transport/types.js";
import { linkSignals, WAKE, type LinkedSignal } from "../transport/abort.js";
import { Backoff } from "../transport/backoff.js";
import { elapsedNow } from "./clock.js";
import type { TypedEmitter } from "./emitter.js";
import type { RateLimitHold } from "./rate-limit.js";
import type { WorkerClock, WorkerEvents, WorkerOptions } from "./types.js";
import type { UsageSampler } from "./usage.js";

/** What the session asks of its worker. */
export interface SessionHost {
  /** `idle`, `full` or `draining`. */
  heartbeatStatus(): WorkerStatus;
  /** `current_tasks` of a heartbeat: ids of the tasks running now (and their job ids, unless turned off). */
  currentTasks(): string[];
  /** Aborts a running task (by task id or job id) as cancelled; false if none is running. */
  cancelTask(id: string): boolean;
  /**
   * The event loop was blocked for at least `blockedMs`, and by then the orchestrator had not heard
   * from the worker for `silentMs`, two heartbeat intervals (`intervalMs`) or more.
   */
  loopBlocked(blockedMs: number, silentMs: number, intervalMs: number): void;
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
  /** Least time between a heartbeat and one asked for by a load change ({@link Session.requestLoadHeartbeat}). */
  readonly heartbeatCooldownMs: number;
  /** Registration attempts refused as unauthorized, in a row, before the first registration gives up. */
  readonly authFailureLimit: number;
  /** Shared wait after 429s. */
  readonly rateLimit: RateLimitHold;
  readonly catalogue: readonly SkillInfo[];
  readonly skillNames: readonly string[];
  readonly skillsHash: string;
  /** Aborted by stop(): ends registration attempts and the heartbeat loop. */
  readonly signal: AbortSignal;
}

/** A timer that fires this much later than asked for means the event loop was blocked meanwhile. */
const BLOCKED_MS = 100;

/**
 * `signal`, also aborted with a `TimeoutError` after `ms`. Not `AbortSignal.any([signal,
 * AbortSignal.timeout(ms)])`: on Node 20 the composite holds its sources weakly, and a timeout
 * signal nothing else references is collected before it fires, so the deadline silently never comes.
 *
 * Time the event loop was blocked (a handler's synchronous work) does not count: timers run before
 * I/O callbacks, so a deadline that comes due during a block would give up on an answer that is
 * waiting unread. A timer that fires late grants that lateness once more (up to `ms`), and reports
 * it to `onLate`.
 */
function withDeadline(signal: AbortSignal, ms: number, onLate?: (lateMs: number) => void): LinkedSignal {
  const deadline = new AbortController();
  let due = performance.now() + ms;
  let extended = false;
  const fire = (): void => {
    const late = performance.now() - due;
    if (!extended && late >= BLOCKED_MS) {
      extended = true;
      onLate?.(late);
      const more = Math.min(ms, late);
      due = performance.now() + more;
      timer = setTimeout(fire, more);
      return;
    }
    deadline.abort(new DOMException(`No answer within ${ms} ms`, "TimeoutError"));
  };
  let timer = setTimeout(fire, ms);
  const linked = linkSignals(signal, deadline.signal);
  return {
    signal: linked.signal,
    dispose: () => {
      clearTimeout(timer);
      linked.dispose();
    },
  };
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
  /** A load change asked for a heartbeat, due once the cooldown since the last one has passed. */
  private loadChanged = false;
  /**
   * When the last heartbeat asked for by a load change went out ({@link elapsedNow} ms). The cooldown runs from
   * it, not from periodic heartbeats: a slot that frees just after a periodic `full` must still be
   * reported at once.
   */
  private lastLoadHeartbeatAt = Number.NEGATIVE_INFINITY;
  private wake: AbortController | undefined;
  /** When the last heartbeat or registration went out ({@link elapsedNow} ms). */
  private lastSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly s: SessionSettings,
    private readonly host: SessionHost,
  ) {}

  /**
   * Starts registering; resolves true once registered, false if stopped first. With `limitAuth`
   * it rejects with the AuthError once `authFailureLimit` attempts in a row were refused as
   * unauthorized (a wrong token does not fix itself); otherwise it retries those too.
   */
  register(limitAuth = false): Promise<boolean> {
    const attempt = this.registerUntilDone(limitAuth);
    // Whoever waits on `registered()` sees false; the rejection goes to register()'s caller only.
    this.current = attempt.catch(() => false);
    return attempt;
  }

  /** The registration in progress or done: true when the worker is registered, false when stopped first. */
  registered(): Promise<boolean> {
    return this.current;
  }

  /**
   * A heartbeat timer fired `lateMs` late, or would have: the event loop was blocked at least that
   * long. When the orchestrator has not heard from the worker for two intervals by then (an rxon
   * hub's default lease grace; it calls a worker gone after three), the host says so.
   */
  private readonly timerLate = (lateMs: number): void => {
    if (lateMs < BLOCKED_MS || this.s.signal.aborted) return;
    const silent = elapsedNow(this.s.clock) - this.lastSentAt;
    if (silent >= 2 * this.s.heartbeatIntervalMs) this.host.loopBlocked(lateMs, silent, this.s.heartbeatIntervalMs);
  };

  /** Sends a heartbeat as soon as possible (state change). */
  requestHeartbeat(): void {
    this.heartbeatRequested = true;
    this.wake?.abort(WAKE);
  }

  /**
   * Asks for a heartbeat because the load changed (a task started, a slot freed), so an
   * orchestrator that dispatches only to `idle` workers sees it at once. Debounced: the first is
   * immediate, later ones wait until `heartbeatCooldownMs` after the previous such heartbeat, and
   * several changes within that time make one heartbeat with the newest status.
   */
  requestLoadHeartbeat(): void {
    // Already pending: the wait in progress ends at the cooldown anyway (a task starts and ends
    // many times a second on a busy worker; each wake-up would only find nothing new to do).
    if (this.loadChanged) return;
    this.loadChanged = true;
    this.wake?.abort(WAKE);
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

  /**
   * Registers, retrying (1 s doubling to 60 s; after 429s the shared rate-limit wait); false when
   * stopped first. With `limitAuth`, throws the AuthError of the `authFailureLimit`-th refusal in
   * a row; a token refresh is tried after each refusal, in case the token service can fix it.
   */
  private async registerUntilDone(limitAuth: boolean): Promise<boolean> {
    const { signal, logger, emitter, rateLimit } = this.s;
    const backoff = new Backoff(1_000, 60_000);
    let refused = 0;
    while (!signal.aborted) {
      await rateLimit.wait(signal);
      if (signal.aborted) return false;
      try {
        // Bounded like a heartbeat once registered: a registration stuck on a dead connection
        // must not keep the worker silent for the transport's request timeout.
        const limit = this.registrations > 0 ? withDeadline(signal, Math.max(1_000, this.s.heartbeatIntervalMs), this.timerLate) : undefined;
        this.lastSentAt = elapsedNow(this.s.clock);
        const response = await this.s.transport.register(this.registrationMessage(), { signal: limit?.signal ?? signal }).finally(() => limit?.dispose());
        if (signal.aborted) return false;
        rateLimit.succeeded();
        this.registrations++;
        this.fullSync = true;
        if (response?.warning) logger.warn({ warning: response.warning }, "orchestrator warning at registration");
        logger.info({ registrations: this.registrations }, "registered");
        emitter.emit("registered", { count: this.registrations });
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        emitter.emit("error", { error: err, where: "register" });
        if (err instanceof RateLimitError) {
          const delay = rateLimit.limited(err);
          logger.warn({ err, delay_ms: delay }, "registration rate limited; waiting");
          continue;
        }
        const delay = backoff.next();
        if (err instanceof AuthError) {
          refused++;
          if (limitAuth && refused >= this.s.authFailureLimit) {
            logger.error({ err, attempts: refused }, "registration refused: the orchestrator does not accept this worker's credentials");
            throw err;
          }
          logger.error({ err, delay_ms: delay }, "registration refused; retrying");
          await this.refreshToken();
        } else {
          refused = 0;
          logger.warn({ err, delay_ms: delay }, "registration failed; retrying");
        }
        await this.s.clock.sleep(delay, signal);
      }
    }
    return false;
  }

  /** Asks the token service for a new token; a failure is only logged (the next attempt tells). */
  private async refreshToken(): Promise<void> {
    try {
      await this.s.transport.refreshToken({ signal: this.s.signal });
    } catch (err) {
      this.s.logger.debug({ err }, "token refresh failed");
    }
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

  /** Waits up to `ms`, less when a heartbeat is requested or a load change's cooldown is over. */
  private async waitForHeartbeat(ms: number): Promise<void> {
    const { clock, signal } = this.s;
    const until = elapsedNow(clock) + ms;
    while (!signal.aborted && !this.heartbeatRequested) {
      let left = until - elapsedNow(clock);
      if (this.loadChanged) left = Math.min(left, this.lastLoadHeartbeatAt + this.s.heartbeatCooldownMs - elapsedNow(clock));
      if (left <= 0) return;
      const wake = (this.wake = new AbortController());
      const onStop = (): void => wake.abort(WAKE);
      signal.addEventListener("abort", onStop, { once: true });
      const due = elapsedNow(clock) + left;
      await clock.sleep(left, wake.signal);
      signal.removeEventListener("abort", onStop);
      this.wake = undefined;
      // Woken or not, resuming after the timer was due means the loop was blocked past it (a task
      // that starts wakes this wait, and its synchronous handler runs before the loop resumes).
      this.timerLate(elapsedNow(clock) - due);
      // The whole wait passed: heartbeat now. Woken early: look again at what is due.
      if (!wake.signal.aborted) return;
    }
  }

  /**
   * Heartbeats until stopped: the first right away, then every interval (plus the reply's
   * `next_heartbeat_jitter_ms`), sooner when requested or when the load changed (debounced).
   * Errors back off; a reply or error saying the orchestrator does not know the worker leads to a
   * new registration, and so does the first success after failures: an orchestrator that
   * restarted in memory during the outage may answer "ok" while it has forgotten the worker.
   */
  async loop(): Promise<void> {
    const { signal, logger, emitter, rateLimit } = this.s;
    const interval = this.s.heartbeatIntervalMs;
    const errors = new Backoff(Math.min(1_000, interval), Math.max(1_000, interval));
    // Re-registrations in a row (an orchestrator that keeps asking) are spaced out; the first is immediate.
    const again = new Backoff(1_000, 60_000);
    let streak = 0;
    let delay = 0;
    let failures = 0;
    while (!signal.aborted) {
      if (delay > 0) await this.waitForHeartbeat(delay);
      await rateLimit.wait(signal);
      if (signal.aborted) break;
      this.heartbeatRequested = false;
      if (this.needsRegistration) {
        this.needsRegistration = false;
        if (streak++ > 0) await this.s.clock.sleep(again.next(), signal);
        if (!(await this.register())) break;
        failures = 0;
        delay = 0;
        continue;
      }
      try {
        // Whatever triggered it, this heartbeat carries the current load.
        if (this.loadChanged) this.lastLoadHeartbeatAt = elapsedNow(this.s.clock);
        this.loadChanged = false;
        // A heartbeat on a dead connection (no answer, no FIN/RST) must not hold the loop for the
        // transport's request timeout (60 s): the orchestrator calls a worker gone after a few
        // intervals and re-queues its tasks. Given up after one interval (at least 1 s), the
        // aborted request's socket is dropped and the next heartbeat goes on a new connection.
        const message = await this.heartbeatMessage();
        const limit = withDeadline(signal, Math.max(1_000, interval), this.timerLate);
        this.lastSentAt = elapsedNow(this.s.clock);
        let response: Awaited<ReturnType<WorkerTransport["sendHeartbeat"]>>;
        try {
          response = await this.s.transport.sendHeartbeat(message, { signal: limit.signal });
        } catch (err) {
          if (!signal.aborted && limit.signal.aborted) {
            throw new NetworkError(`Heartbeat not answered within ${Math.max(1_000, interval)} ms`, { cause: err, details: { reason: "heartbeat_timeout" } });
          }
          throw err;
        } finally {
          limit.dispose();
        }
        if (signal.aborted) break;
        rateLimit.succeeded();
        // Cancellations first: a reply may carry them next to require_full_sync.
        for (const id of response?.cancel_task_ids ?? []) {
          if (typeof id === "string" && this.host.cancelTask(id)) logger.info({ id }, "task cancelled by heartbeat reply");
        }
        if (response === null || response.require_full_sync === true) {
          // Our hub answers require_full_sync, and a Python one may answer null, for a worker it forgot.
          logger.info({ response }, "orchestrator asks for a full sync; registering again");
          this.needsRegistration = true;
          delay = 0;
          continue;
        }
        if (failures > 0) {
          logger.info({ failures }, "heartbeats recovered after failures; registering again in case the orchestrator forgot this worker");
          failures = 0;
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
        emitter.emit("error", { error: err, where: "heartbeat" });
        if (err instanceof RateLimitError) {
          // The orchestrator answered: it has not lost track of us, so this is no outage.
          delay = rateLimit.limited(err);
          logger.warn({ err, delay_ms: delay }, "heartbeat rate limited");
          continue;
        }
        failures++;
        delay = errors.next();
        logger.warn({ err, delay_ms: delay }, "heartbeat failed");
      }
    }
  }
}
