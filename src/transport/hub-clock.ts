/**
 * The orchestrator's time as this side sees it: the local clock plus an offset learned from the
 * `Date` header of the orchestrator's answers (every HTTP server sends one: Node's, aiohttp's).
 * Messages are stamped with it, so a machine whose clock is off by minutes or hours (no NTP at
 * boot, a resumed VM, a clock that jumped) still lands inside the orchestrator's timestamp window
 * (PROTOCOL.md 7.4): the stamp stays integer epoch seconds, only read from the orchestrator's clock.
 */
import type { Logger } from "../logger.js";

/**
 * Differences from the current offset smaller than this are not adopted: a `Date` header has whole
 * seconds, and the answer took some time to arrive. Well inside the 60 s window.
 */
export const CLOCK_TOLERANCE_MS = 2_000;
/** An offset at least this large is logged at warn level (smaller ones at debug). */
export const CLOCK_WARN_MS = 5_000;

/** Local clock + offset learned from the orchestrator's `Date` headers. */
export class HubClock {
  #offset = 0;
  #lastHeader: string | undefined;
  /** The offset last reported at warn level (0: none, or the clocks agreed since). */
  #warned = 0;

  constructor(
    private readonly clock: () => number,
    private readonly logger: Logger,
  ) {}

  /** The orchestrator's time minus the local clock, in milliseconds (0 until an answer said otherwise). */
  get offsetMs(): number {
    return this.#offset;
  }

  /** The orchestrator's time now, in epoch milliseconds, as far as it is known. */
  now(): number {
    return this.clock() + this.#offset;
  }

  /**
   * Learns from the `Date` header of an answer that just arrived. True when the offset changed: a
   * message stamped before may have been refused for its timestamp and is worth stamping again.
   */
  observe(header: string | undefined): boolean {
    // Servers cache the header for a second: the same text at a later local time says nothing new
    // unless the local clock jumped, which the next second's header shows.
    if (header === undefined || header === this.#lastHeader) return false;
    this.#lastHeader = header;
    const date = Date.parse(header);
    if (!Number.isFinite(date)) return false;
    // The header has whole seconds: the orchestrator's time was within [date, date + 1 s).
    const sample = date + 500 - this.clock();
    if (Math.abs(sample - this.#offset) <= CLOCK_TOLERANCE_MS) return false;
    const previous = this.#offset;
    this.#offset = Math.abs(sample) <= CLOCK_TOLERANCE_MS ? 0 : Math.round(sample);
    this.#report(previous);
    return true;
  }

  #report(previous: number): void {
    const offset = this.#offset;
    const fields = { clock_offset_ms: offset, previous_offset_ms: previous };
    const seconds = Math.round(Math.abs(offset) / 1000);
    if (Math.abs(offset) < CLOCK_WARN_MS) {
      if (this.#warned !== 0) this.logger.info(fields, "this machine's clock agrees with the orchestrator's again");
      else this.logger.debug(fields, "clock offset to the orchestrator changed");
      this.#warned = 0;
      return;
    }
    // Warned once per clock problem: a clock that drifts moves the offset a little at a time.
    if (this.#warned !== 0 && Math.abs(offset - this.#warned) < 60_000) {
      this.logger.debug(fields, "clock offset to the orchestrator changed");
      return;
    }
    this.#warned = offset;
    this.logger.warn(
      fields,
      `this machine's clock is ${seconds} s ${offset > 0 ? "behind" : "ahead of"} the orchestrator's (its Date header); messages are stamped with the orchestrator's time and task deadlines read on it — fix the clock (NTP)`,
    );
  }
}
