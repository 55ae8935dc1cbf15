/**
 * Waiting between attempts: exponential backoff with jitter, and a sleep that an AbortSignal
 * cuts short.
 */

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

/**
 * Resolves after `ms`, or early with `false` when `signal` aborts (true when the full time
 * passed). Never rejects, so loops can check their own stop conditions afterwards.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
