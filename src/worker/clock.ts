/**
 * Real time for the worker: `Date.now` and abortable timers. Kept behind {@link WorkerClock} so that
 * tests can replace waiting without patching globals.
 */
import type { WorkerClock } from "./types.js";

/**
 * Resolves after `ms`, or early when `signal` aborts; never rejects, so loops check their own stop
 * conditions afterwards. The timer and the abort listener are both removed whichever comes first.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The default clock: wall time and real timers. */
export const systemClock: WorkerClock = Object.freeze({
  now: () => Date.now(),
  sleep: abortableSleep,
});
