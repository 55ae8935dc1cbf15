/**
 * Exponential backoff with jitter for the worker's loops (registration, polling, heartbeats,
 * results, command channel). Every loop waits through one of these, so none can spin.
 */

/** The rate-limit floor of the Python worker SDK when the server gave no usable `Retry-After`. */
export const RATE_LIMIT_FLOOR_MS = 30_000;

/** Doubles from `initialMs` up to `maxMs`; each delay is jittered by ±`jitter` (a fraction). */
export class Backoff {
  private current: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly jitter = 0.2,
    private readonly random: () => number = Math.random,
  ) {
    this.current = initialMs;
  }

  /**
   * The next delay, then doubles. The jitter spreads a fleet that failed together (orchestrator
   * restart) so it does not come back in one wave; the result never exceeds `maxMs`.
   */
  next(): number {
    const nominal = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    const factor = 1 - this.jitter + this.random() * 2 * this.jitter;
    return Math.max(0, Math.min(this.maxMs, Math.round(nominal * factor)));
  }

  /** The delay to wait after a 429: the server's hint when it gave one, else the backoff with a 30 s floor. */
  nextAfterRateLimit(retryAfterMs: number | undefined): number {
    if (typeof retryAfterMs === "number" && Number.isFinite(retryAfterMs) && retryAfterMs > 0) {
      this.next(); // keep doubling so that repeated 429s without hints still grow
      return retryAfterMs;
    }
    return Math.max(this.next(), RATE_LIMIT_FLOOR_MS);
  }

  /** Back to the initial delay after a success. */
  reset(): void {
    this.current = this.initialMs;
  }
}
