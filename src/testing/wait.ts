/**
 * Waiting for a condition in tests without fixed sleeps.
 */
import { RxonError } from "../errors.js";

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** Give up after this long. Default 5 s. */
  timeoutMs?: number;
  /** Time between checks. Default 10 ms. */
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

/**
 * Resolves with the first truthy value of `condition` (checked at once, then every `intervalMs`);
 * rejects with an RxonError (code TIMEOUT_ERROR) when `timeoutMs` passes first.
 */
export async function waitUntil<T>(condition: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) {
      throw new RxonError(`Timed out after ${timeoutMs} ms waiting for ${options.what ?? "a condition"}`, { code: "TIMEOUT_ERROR" });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
