/**
 * The cancellation room: cancelling jobs, and the WebSocket command channels of the workers
 * connected to this hub. A cancel recorded on any hub reaches the worker through the store's
 * `cancel` signal on the hub holding its channel, and through the next heartbeat reply wherever
 * the worker sends it (the only path some orchestrators and SDKs use).
 */
import type { CommandChannel } from "../listener/types.js";
import { REPLACED_REASON } from "../transport/commands.js";
import type { HubCore } from "./core.js";
import type { Outcomes } from "./outcomes.js";
import type { CancelVerdict } from "./store.js";

/** Cancels jobs and pushes cancel commands. */
export class Cancellation {
  readonly #core: HubCore;
  readonly #outcomes: Outcomes;
  readonly #channels = new Map<string, CommandChannel>();

  constructor(core: HubCore, outcomes: Outcomes) {
    this.#core = core;
    this.#outcomes = outcomes;
  }

  /** Cancels a job (a waiting one ends at once; a running one is told to stop). `owner` limits it to its owner's jobs. */
  async cancel(jobId: string, owner?: string): Promise<CancelVerdict> {
    const verdict = await this.#core.store.cancel(jobId, owner);
    if (verdict.kind === "ended") this.#outcomes.completed(verdict.job);
    return verdict;
  }

  /** A cancel signal from the store: push it if the worker's channel is here. */
  onCancel(workerId: string, jobId: string, taskId: string): void {
    const channel = this.#channels.get(workerId);
    if (channel?.isOpen !== true) return;
    channel.send({ command: "cancel_task", task_id: taskId, job_id: jobId }).catch((err: unknown) => {
      this.#core.logger.warn({ err, worker_id: workerId }, "hub: could not push cancel command");
    });
  }

  /** Holds a worker's command channel until it closes (a newer one replaces it). */
  async websocket(channel: CommandChannel): Promise<void> {
    const id = channel.workerId;
    const old = this.#channels.get(id);
    if (old !== undefined && old !== channel) old.close(1008, REPLACED_REASON);
    this.#channels.set(id, channel);
    await channel.closed;
    if (this.#channels.get(id) === channel) this.#channels.delete(id);
  }

  /** Open channels. */
  get connected(): number {
    return this.#channels.size;
  }

  /** Closes every channel. */
  close(): void {
    for (const ch of this.#channels.values()) ch.close(1001, "Server shutdown");
    this.#channels.clear();
  }
}
