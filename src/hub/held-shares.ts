/**
 * Shares of something held open for a while (a client's `?wait` requests, a worker's skill
 * calls): each holder may hold at most `max` at once, so no one caller takes every connection the
 * server allows. Counts only; callers decide how to refuse.
 */
import { ValidationError } from "../errors.js";

/** Per-holder counts of held requests, capped at `max` each (0: no cap). */
export class HeldShares {
  readonly #max: number;
  /** What each holder holds now; a holder holding nothing has no entry. */
  readonly #held = new Map<string, number>();

  /** `option` names the setting in the error thrown for a `max` that is not a whole number >= 0. */
  constructor(max: number, option: string) {
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new ValidationError(`${option} must be a whole number >= 0`, [{ path: `/${option.replaceAll(".", "/")}`, message: "must be a whole number >= 0 (0: no cap)" }]);
    }
    this.#max = max;
  }

  /** The most one holder may hold at once (0: no cap). */
  get max(): number {
    return this.#max;
  }

  /**
   * Takes one share for `holder` and returns its release (calling it again does nothing), or
   * undefined when the holder already holds `max`.
   */
  take(holder: string): (() => void) | undefined {
    const held = this.#held.get(holder) ?? 0;
    if (this.#max > 0 && held >= this.#max) return undefined;
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
}
