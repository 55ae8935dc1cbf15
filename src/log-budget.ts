/**
 * A budget of log lines per kind: lines a peer can cause at will (one per refused request) must
 * not let a flood of requests flood the log. Each kind may write `perWindow` lines per
 * `windowMs`; past that its lines are counted, not written, and the next line written says how
 * many were not. Metrics count every event; the log keeps a sample and the count.
 */
export class LogBudget {
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { start: number; written: number; skipped: number }>();

  constructor(perWindow = 10, windowMs = 10_000, now: () => number = Date.now) {
    this.#perWindow = perWindow;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /**
   * Undefined when a line of `kind` is over budget now (it is counted); otherwise the number of
   * lines of that kind not written since the last one written (0 when none), to put in this one.
   */
  take(kind: string): number | undefined {
    const now = this.#now();
    let k = this.#kinds.get(kind);
    if (k === undefined || now - k.start >= this.#windowMs) {
      // Kinds are few (refusal reasons); the map is cleared should callers ever pass many.
      if (k === undefined && this.#kinds.size >= 256) this.#kinds.clear();
      k = { start: now, written: 0, skipped: k?.skipped ?? 0 };
      this.#kinds.set(kind, k);
    }
    if (k.written >= this.#perWindow) {
      k.skipped++;
      return undefined;
    }
    k.written++;
    const skipped = k.skipped;
    k.skipped = 0;
    return skipped;
  }
}
