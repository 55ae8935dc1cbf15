/**
 * Real time for the worker: `Date.now`, `performance.now` and the transport's abortable sleep.
 * Kept behind {@link WorkerClock} so that tests can replace waiting without patching globals.
 */
import { sleep } from "../transport/backoff.js";
import type { WorkerClock } from "./types.js";

/**
 * The default clock: wall time, a monotonic time for intervals, and real timers (delays past 24.8
 * days are chained, not overflowed).
 */
export const systemClock: WorkerClock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: async (ms: number, signal?: AbortSignal): Promise<void> => {
    await sleep(ms, signal);
  },
});

/**
 * Milliseconds on `clock`'s monotonic time, else its wall time: what intervals are measured with
 * (heartbeat waits, cooldowns, rate-limit holds, execution times), so that the wall clock jumping
 * (NTP correcting it, a VM resumed) neither stretches a wait by the jump nor cuts it short.
 */
export function elapsedNow(clock: WorkerClock): number {
  return clock.monotonic !== undefined ? clock.monotonic() : clock.now();
}
