/**
 * Real time for the worker: `Date.now` and the transport's abortable sleep. Kept behind
 * {@link WorkerClock} so that tests can replace waiting without patching globals.
 */
import { sleep } from "../transport/backoff.js";
import type { WorkerClock } from "./types.js";

/** The default clock: wall time and real timers (delays past 24.8 days are chained, not overflowed). */
export const systemClock: WorkerClock = Object.freeze({
  now: () => Date.now(),
  sleep: async (ms: number, signal?: AbortSignal): Promise<void> => {
    await sleep(ms, signal);
  },
});
