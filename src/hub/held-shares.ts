/**
 * Shares of something held open for a while (a client's `?wait` requests, a worker's skill
 * calls): each holder may hold at most `max` at once, so no one caller takes every connection the
 * server allows. A request past its holder's share is refused with 429 and `Retry-After: 1`, and
 * the refusal is logged at warn level, at most 10 lines per 10 s.
 */
import { RateLimitError, ValidationError } from "../errors.js";
import { LogBudget } from "../log-budget.js";
import type { Logger } from "../logger.js";

/** `Retry-After` of a request refused because its holder holds its share. */
const FULL_RETRY_MS = 1000;

/** How {@link HeldShares} refuses a request past its holder's share. */
export interface ShareRefusal {
  /** `details.reason` of the error and `reason` of the log line, e.g. `too_many_waits`. */
  readonly reason: string;
  /** The log line's field naming the holder, e.g. `worker_id`. */
  readonly holderField: string;
  /** The log line's message. */
  readonly logMessage: string;
  /** The error's message, given the share. */
  readonly errorMessage: (max: number) => string;
  /** Where refusals are logged. */
  readonly logger: Logger;
}

/** Per-holder counts of held requests, capped at `max` each (0: no cap). */
export class HeldShares {
  readonly #max: number;
  readonly #refusal: ShareRefusal;
  /** What each holder holds now; a holder holding nothing has no entry. */
  readonly #held = new Map<string, number>();
  readonly #lines = new LogBudget();

  /** `option` names the setting in the error thrown for a `max` that is not a whole number >= 0. */
  constructor(max: number, option: string, refusal: ShareRefusal) {
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new ValidationError(`${option} must be a whole number >= 0`, [{ path: `/${option.replaceAll(".", "/")}`, message: "must be a whole number >= 0 (0: no cap)" }]);
    }
    this.#max = max;
    this.#refusal = refusal;
  }

  /** The most one holder may hold at once (0: no cap). */
  get max(): number {
    return this.#max;
  }

  /**
   * Takes one share for `holder` and returns its release (calling it again does nothing); throws a
   * {@link RateLimitError} (logged within the budget) when the holder already holds `max`.
   */
  take(holder: string): () => void {
    const held = this.#held.get(holder) ?? 0;
    if (this.#max > 0 && held >= this.#max) throw this.#refuse(holder);
    this.#held.set(holder, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#held.get(holder) ?? 1) - 1;
      if (left > 0) this.#held.set(holder, left);
      else this.#held.delete(holder);
    };
  }

  #refuse(holder: string): RateLimitError {
    const { reason, holderField, logMessage, errorMessage, logger } = this.#refusal;
    const skipped = this.#lines.take(reason);
    if (skipped !== undefined) logger.warn({ reason, [holderField]: holder, limit: this.#max, ...(skipped > 0 ? { not_logged: skipped } : {}) }, logMessage);
    return new RateLimitError(errorMessage(this.#max), FULL_RETRY_MS, { details: { reason } });
  }
}
