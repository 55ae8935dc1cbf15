/**
 * The hub's live dashboard (`/_dashboard`): fleet, queues, tasks and throughput pages, cancel
 * and drain actions, a Server-Sent Events stream; behind admin tokens, off unless enabled.
 */
export { Dashboard, DASHBOARD_PREFIX, type DashboardOptions } from "./dashboard.js";
export { hubDashboardSource, DEFAULT_DISPATCHABLE_STATUSES, type DashboardSource, type DashboardHub, type DashboardEventName } from "./source.js";
export type { FleetPage, WorkerRow } from "./fleet.js";
export type { QueuesView, QueueRow, BlockedGroup } from "./queues.js";
export type { TaskPage, TaskRow, TaskDetail } from "./tasks.js";
export type { ThroughputView, ThroughputPoint } from "./series.js";
export type { TimelineEntry } from "./tracker.js";
export type { BlockReason } from "./explain.js";
