/**
 * One rate-limit hold shared by every loop of a worker. Orchestrators count a worker's requests
 * together (the Python one per worker, across routes, in a window that every request restarts), so
 * after a 429 on any route all of registration, heartbeats, polls and results keep quiet until the
 * wait is over; consecutive 429s make the wait grow (see {@link RateLimitBackoff}).
 */
import type { RateLimitError } from "../errors.js";
import { RateLimitBackoff, type RateLimitBackoffOptions } from "../transport/backoff.js";
import type { WorkerClock } from "./types.js";
import { elapsedNow } from "./clock.js";

/** The shared hold. */
export class RateLimitHold {
  private until = 0;
  private readonly backoff: RateLimitBackoff;

  constructor(
    private readonly clock: WorkerClock,
    options: RateLimitBackoffOptions = {},
  ) {
    this.backoff = new RateLimitBackoff(options);
  }

  /** 429s in a row so far. */
  get consecutive(): number {
    return this.backoff.consecutive;
  }

  /** Records a 429 and returns how long to wait from now (every loop waits at least as long). */
  limited(err: RateLimitError): number {
    const now = elapsedNow(this.clock);
    const delay = this.backoff.next(err.retryAfterMs);
    this.until = Math.max(this.until, now + delay);
    return this.until - now;
  }

  /** A request went through: the next 429 starts from the server's hint again. */
  succeeded(): void {
    this.backoff.reset();
  }

  /** True while a hold is on (callers on a hot path skip {@link wait} otherwise). */
  holds(): boolean {
    return this.until > elapsedNow(this.clock);
  }

  /** Waits until the hold is over (at once when there is none), or until `signal` aborts. */
  async wait(signal: AbortSignal): Promise<void> {
    const left = this.until - elapsedNow(this.clock);
    if (left > 0) await this.clock.sleep(left, signal);
  }
}
