/**
 * Per-worker rate limit of the listener: one token bucket per authenticated worker, so a worker
 * that floods requests or WebSocket events is answered 429 (with Retry-After) while every other
 * worker keeps its own budget.
 */

/** Options of the per-worker rate limit. */
export interface RateLimitOptions {
  /** Sustained requests (and WebSocket events) per second allowed to one worker. Default 200. */
  ratePerSecond?: number;
  /** Requests one worker may make at once above the sustained rate (bucket size). Default 400. */
  burst?: number;
  /** Workers tracked at once; beyond it the buckets that are full again are forgotten first. Default 100 000. */
  maxTracked?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by worker id. */
export class WorkerRateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxTracked: number;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}, clock: () => number = Date.now) {
    this.#rate = options.ratePerSecond ?? 10_000;
    this.#burst = options.burst ?? 20_000;
    this.#maxTracked = options.maxTracked ?? 100_000;
    for (const [name, value] of [["ratePerSecond", this.#rate], ["burst", this.#burst], ["maxTracked", this.#maxTracked]] as const) {
      if (!(typeof value === "number" && Number.isFinite(value) && value > 0)) throw new RangeError(`rateLimit.${name} must be a finite number > 0`);
    }
    this.#clock = clock;
  }

  /** Workers currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one token from `workerId`'s bucket. Returns 0 when allowed, else the milliseconds until
   * a token is available (the Retry-After).
   */
  take(workerId: string): number {
    const now = this.#clock();
    let bucket = this.#buckets.get(workerId);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxTracked) this.#evict(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(workerId, bucket);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.#rate) * 1000);
  }

  /** Forgets buckets that have refilled (they behave as new ones); if none has, the oldest. */
  #evict(now: number): void {
    for (const [id, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(id);
    }
    if (this.#buckets.size >= this.#maxTracked) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done !== true) this.#buckets.delete(oldest.value);
    }
  }
}
