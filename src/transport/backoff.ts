/**
 * Waiting between attempts, for the transport and the worker runtime alike: exponential backoff
 * with jitter, the escalating wait after consecutive 429s, and a sleep that an AbortSignal cuts
 * short and that handles delays longer than a single Node.js timer can hold.
 */

/** Longest delay one `setTimeout` can hold (about 24.8 days); longer ones fire at once in Node.js. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Exponential backoff state: starts at `initialMs`, doubles on every failure up to `maxMs`. */
export class Backoff {
  private current: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    this.current = initialMs;
  }

  /**
   * The next delay, with "equal jitter" (between half and all of the nominal delay) so that a
   * fleet reconnecting after an orchestrator restart does not arrive in one wave; then doubles.
   */
  next(): number {
    const nominal = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return Math.round(nominal / 2 + this.random() * (nominal / 2));
  }

  /** Back to the initial delay (after a success). */
  reset(): void {
    this.current = this.initialMs;
  }
}

/** Settings of {@link RateLimitBackoff}. */
export interface RateLimitBackoffOptions {
  /** Least wait after a 429, whatever `Retry-After` says. Default 1 000 ms. */
  minDelayMs?: number;
  /** Largest wait after a 429. Default 600 000 ms (10 minutes). */
  maxDelayMs?: number;
  /** Random source of the jitter (tests). Default `Math.random`. */
  random?: () => number;
}

/** Default least wait after a 429. */
export const RATE_LIMIT_MIN_DELAY_MS = 1_000;
/** Default largest wait after a 429. */
export const RATE_LIMIT_MAX_DELAY_MS = 600_000;

/**
 * The wait after consecutive 429 answers. The first waits the server's hint (at least
 * `minDelayMs`); every further 429 in a row waits twice the previous wait (or the new hint when
 * longer), up to `maxDelayMs`. A
 * limiter whose window restarts on every request (the Python orchestrator's) refuses a client
 * that always comes back at the same interval forever; a growing wait eventually outlasts the
 * window. Jitter only adds (up to a quarter), so a wait is never shorter than the server asked.
 */
export class RateLimitBackoff {
  private streak = 0;
  private nominal = 0;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;

  constructor(options: RateLimitBackoffOptions = {}) {
    const positive = (v: number | undefined, fallback: number): number => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : fallback);
    this.minDelayMs = positive(options.minDelayMs, RATE_LIMIT_MIN_DELAY_MS);
    this.maxDelayMs = Math.max(this.minDelayMs, positive(options.maxDelayMs, RATE_LIMIT_MAX_DELAY_MS));
    this.random = options.random ?? Math.random;
  }

  /** 429s in a row so far. */
  get consecutive(): number {
    return this.streak;
  }

  /** The wait after one more 429 whose `Retry-After` named `retryAfterMs` (undefined: none). */
  next(retryAfterMs: number | undefined): number {
    const hint = typeof retryAfterMs === "number" && Number.isFinite(retryAfterMs) ? retryAfterMs : 0;
    const base = Math.min(this.maxDelayMs, Math.max(this.minDelayMs, hint));
    // Twice the previous wait, or the server's hint when that is longer.
    this.nominal = this.streak === 0 ? base : Math.min(this.maxDelayMs, Math.max(base, this.nominal * 2));
    this.streak++;
    return Math.min(this.maxDelayMs, Math.round(this.nominal * (1 + 0.25 * this.random())));
  }

  /** A request went through: the next 429 starts again from the server's hint. */
  reset(): void {
    this.streak = 0;
  }
}

/**
 * Resolves after `ms`, or early with `false` when `signal` aborts (true when the full time
 * passed). Never rejects, so loops can check their own stop conditions afterwards. Delays longer
 * than {@link MAX_TIMER_MS} are waited as a chain of timers (a task deadline weeks away must not
 * fire at once). The timer and the abort listener are both removed whichever comes first.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  let left = Math.max(0, ms);
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const arm = (): void => {
      const step = Math.min(left, MAX_TIMER_MS);
      left -= step;
      timer = setTimeout(() => {
        if (left > 0) return arm();
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      }, step);
    };
    arm();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
