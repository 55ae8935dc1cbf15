/**
 * Per-task progress reporting. Handlers may call `progress()` in a tight loop, so events are
 * throttled: at most one per interval, the newest value wins, and the last value is always sent
 * (by `flush()`, before the result). Events of one task are sent one after another so they
 * arrive in order.
 */
import type { Logger } from "../logger.js";
import type { WorkerClock } from "./types.js";
import { elapsedNow } from "./clock.js";

/** Sends one progress event; resolves when done (its failure is logged by the reporter). */
export type ProgressSender = (progress: number, message: string) => Promise<unknown>;

/** Throttles the progress events of one task. */
export class ProgressReporter {
  private pending: { progress: number; message: string } | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: AbortController | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Sends started and not yet settled. */
  private sends = 0;

  constructor(
    private readonly send: ProgressSender,
    private readonly intervalMs: number,
    private readonly clock: WorkerClock,
    private readonly logger: Logger,
  ) {}

  /** Records a progress value; sends it now or when the interval allows. Never throws. */
  report(fraction: unknown, message?: unknown): void {
    if (this.closed) return;
    if (typeof fraction !== "number" || Number.isNaN(fraction)) {
      this.logger.debug({ fraction: String(fraction) }, "progress ignored: fraction is not a number");
      return;
    }
    const progress = Math.min(1, Math.max(0, fraction));
    this.pending = { progress, message: typeof message === "string" ? message : message === undefined ? "" : this.text(message) };
    if (this.timer !== undefined) return;
    const wait = this.lastSentAt + this.intervalMs - elapsedNow(this.clock);
    if (wait <= 0) {
      this.sendPending();
      return;
    }
    const timer = (this.timer = new AbortController());
    void this.clock.sleep(wait, timer.signal).then(() => {
      if (timer.signal.aborted) return;
      this.timer = undefined;
      this.sendPending();
    });
  }

  /** `message` as text; "" when turning it into text throws (a toString that throws would reach the handler, or a timer). */
  private text(message: unknown): string {
    try {
      return String(message);
    } catch (err) {
      this.logger.debug({ err }, "progress message left out: it cannot be turned into text");
      return "";
    }
  }

  /**
   * Sends the value still waiting for its slot and waits for every send to settle, at most
   * `timeoutMs`. Later `report` calls are ignored.
   */
  async flush(timeoutMs: number): Promise<void> {
    this.closed = true;
    this.timer?.abort();
    this.timer = undefined;
    this.sendPending();
    // Most tasks report no progress: no timer for them.
    if (this.sends === 0) return;
    const limit = new AbortController();
    await Promise.race([this.chain, this.clock.sleep(timeoutMs, limit.signal)]);
    limit.abort();
  }

  private sendPending(): void {
    const item = this.pending;
    if (item === undefined) return;
    this.pending = undefined;
    this.lastSentAt = elapsedNow(this.clock);
    this.sends++;
    this.chain = this.chain.then(async () => {
      try {
        await this.send(item.progress, item.message);
      } catch (err) {
        this.logger.debug({ err }, "progress event not delivered");
      } finally {
        this.sends--;
      }
    });
  }
}
