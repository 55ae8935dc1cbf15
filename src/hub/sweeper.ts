/**
 * The sweeps room: once a period, what is due (workers whose lifetime ended, deadlines passed,
 * cancels ignored past their grace, ended jobs past retention) in bounded batches, and the
 * cross-hub safety net for held polls. Each batch is one store transition per item; a sweep costs
 * what is due, not what is stored, and gives up its turn between batches.
 */
import { setImmediate as yieldTurn } from "node:timers/promises";
import type { HubCore } from "./core.js";
import type { Dispatcher } from "./dispatcher.js";
import type { Outcomes } from "./outcomes.js";
import type { Registry } from "./registry.js";

/** Items handled per batch. */
const BATCH = 500;
/** Batches per sweep at most (the rest waits for the next period). */
const MAX_BATCHES = 20;

/** Periodic housekeeping of a hub. */
export class Sweeper {
  readonly #core: HubCore;
  readonly #registry: Registry;
  readonly #dispatcher: Dispatcher;
  readonly #outcomes: Outcomes;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(core: HubCore, registry: Registry, dispatcher: Dispatcher, outcomes: Outcomes) {
    this.#core = core;
    this.#registry = registry;
    this.#dispatcher = dispatcher;
    this.#outcomes = outcomes;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#core.settings.sweepMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One housekeeping pass. */
  async sweep(): Promise<void> {
    const core = this.#core;
    if (this.#running || core.closed) return;
    this.#running = true;
    try {
      for (let i = 0; i < MAX_BATCHES; i++) {
        const gone = await core.store.expireWorkers(BATCH, core.settings.pauseMs);
        for (const g of gone) this.#registry.gone(g, "heartbeat_timeout");
        const swept = await core.store.sweep(BATCH);
        for (const job of swept.deadline) {
          this.#outcomes.completed(job);
          // A task still running past its deadline is told to stop.
          if (job.workerId !== undefined && job.dispatchedAt !== undefined) {
            await core.store.publish({ type: "cancel", workerId: job.workerId, jobId: job.jobId, taskId: job.taskId });
          }
        }
        for (const job of swept.cancelled) this.#outcomes.completed(job);
        if (gone.length < BATCH && swept.deadline.length < BATCH && swept.cancelled.length < BATCH && swept.forgotten < BATCH) break;
        await yieldTurn();
      }
      await this.#dispatcher.recheck();
      core.storeAnswered();
    } catch (err) {
      core.failed("sweep", err);
    } finally {
      this.#running = false;
    }
  }
}
