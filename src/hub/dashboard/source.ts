/**
 * What the dashboard reads from and does to a hub, and the adapter that builds it from a
 * {@link Hub}'s public surface. Keeping this narrow lets the dashboard run against any hub that
 * can answer these few questions (and lets a store shared by several hubs show the whole fleet:
 * workers and jobs are read from the store, not from one process).
 */
import type { EventEmitter } from "node:events";
import type { HubStore, JobRecord, WorkerRecord } from "../store.js";
import type { HubEvents, HubStats } from "../types.js";

/** The hub events the dashboard aggregates. */
export type DashboardEventName =
  | "worker:registered"
  | "worker:expired"
  | "task:submitted"
  | "task:dispatched"
  | "task:requeued"
  | "task:progress"
  | "task:completed"
  | "result:ignored";

/** Exactly what the dashboard pages need of a hub. */
export interface DashboardSource {
  /** Subscribes to a hub event; returns the unsubscribe function. */
  subscribe<E extends DashboardEventName>(event: E, listener: (...args: HubEvents[E]) => void): () => void;
  /** Counters and gauges of the hub. */
  stats(): Promise<HubStats>;
  /** Every registered worker (the whole fleet when the store is shared). */
  listWorkers(): Promise<readonly WorkerRecord[]>;
  /** One worker record. */
  getWorker(id: string): Promise<WorkerRecord | undefined>;
  /** One job record. */
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /** Cancels a job (queued: ends at once; running: the worker is told to stop). */
  cancel(jobId: string): Promise<void>;
  /** Queued tasks per queue (skill), when the store can count them all at once; else undefined. */
  queueDepths: (() => Promise<Record<string, number>>) | undefined;
  /** Stops dispatching to a worker, when the hub supports it; else undefined. */
  drainWorker: ((workerId: string) => Promise<void>) | undefined;
  /** Worker statuses that receive work (for the "why can no worker run this" analysis). */
  readonly dispatchableStatuses: readonly string[];
}

/** Statuses a hub dispatches to by default (mirrors the hub's own default). */
export const DEFAULT_DISPATCHABLE_STATUSES: readonly string[] = ["idle", "active", "busy", "full"];

/** The parts of a hub the adapter uses; the optional ones are feature-detected. */
export type DashboardHub = Pick<EventEmitter<HubEvents>, "on" | "off"> & {
  stats(): Promise<HubStats>;
  cancel(jobId: string): Promise<void>;
  readonly store: Pick<HubStore, "listWorkers" | "getJob" | "getWorker"> & {
    queueDepths?: () => Record<string, number> | Promise<Record<string, number>>;
  };
  drainWorker?: (workerId: string) => unknown;
};

/**
 * A {@link DashboardSource} over a hub: its events, `stats()`, `cancel()` and store reads, plus
 * `store.queueDepths()` and `hub.drainWorker()` when this hub version has them.
 */
export function hubDashboardSource(hub: DashboardHub, options: { dispatchableStatuses?: readonly string[] } = {}): DashboardSource {
  const store = hub.store;
  const depths = typeof store.queueDepths === "function" ? store.queueDepths.bind(store) : undefined;
  const drain = typeof hub.drainWorker === "function" ? hub.drainWorker.bind(hub) : undefined;
  return {
    subscribe(event, listener) {
      // The emitter's listener type is a union over every event; this one is for `event` only.
      const l = listener as (...args: unknown[]) => void;
      (hub.on as (e: string, l: (...args: unknown[]) => void) => unknown)(event, l);
      return () => void (hub.off as (e: string, l: (...args: unknown[]) => void) => unknown)(event, l);
    },
    stats: () => hub.stats(),
    listWorkers: async () => store.listWorkers(),
    getWorker: async (id) => store.getWorker(id),
    getJob: async (jobId) => store.getJob(jobId),
    cancel: (jobId) => hub.cancel(jobId),
    queueDepths: depths === undefined ? undefined : async () => depths(),
    drainWorker: drain === undefined ? undefined : async (workerId) => void (await drain(workerId)),
    dispatchableStatuses: options.dispatchableStatuses ?? DEFAULT_DISPATCHABLE_STATUSES,
  };
}
