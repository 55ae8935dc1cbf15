/**
 * rxon/hub: the reference orchestrator. A {@link Hub} serves workers through the listener and
 * offers `submit()` to clients; state lives in a {@link HubStore} ({@link MemoryStore} by default).
 */
export { Hub } from "./hub.js";
export type { HubServer, HubServerLimits, ServeOptions } from "./server.js";
export { ClientApi, CLIENT_PREFIX, type ClientApiHub } from "./client-api.js";
export { MemoryStore, type MemoryStoreOptions } from "./memory-store.js";
export { SkillCalls, SKILL_CALL_PATH } from "./skill-calls.js";
export { queueNameOf, profileOf } from "./dispatch.js";
export { taskIdOf, jobIdOfTask, isTerminal, jobCursor, cursorSeq } from "./store.js";
export { SkillQueue } from "./queue.js";
export { HubAuth, tokenHash, secretsEqual } from "./auth.js";
export { TRANSIENT_CODES } from "./dispatch.js";
export type {
  HubStore,
  WorkerRecord,
  JobRecord,
  NewJob,
  JobParent,
  JobTrace,
  JobFilter,
  QueueEntry,
  QueueInfo,
  QueueLimits,
  TokenRecord,
  Awaitable,
  SubmitVerdict,
  Settlement,
  SettleVerdict,
  IgnoreReason,
  CancelVerdict,
  HeartbeatUpdate,
  HeartbeatVerdict,
  WorkerGone,
  SweepResult,
  HubSignal,
  StorePolicy,
  SkillContract,
} from "./store.js";
export type {
  ClientApiOptions,
  ClientToken,
  HubOptions,
  HubAuthOptions,
  HubEvents,
  HubStats,
  SubmitOptions,
  TaskHandle,
  TaskOutcome,
  TaskRequirements,
  TaskState,
} from "./types.js";
export type { ListenOptions } from "./listen-options.js";
export {
  Dashboard,
  DASHBOARD_PREFIX,
  hubDashboardSource,
  type DashboardOptions,
  type DashboardSource,
  type DashboardHub,
} from "./dashboard/index.js";
export type { RequestMount } from "./server.js";
// Metrics live in `rxon/metrics` (they load prom-client); the option type is here for `listen()`.
export type { ClosedConnections, HubMetrics } from "./metrics.js";
export {
  answerHealth,
  readiness,
  storeReadiness,
  hubReadiness,
  HEALTH_PATHS,
  READY_TIMEOUT_MS,
  type ReadinessCheck,
  type PingableStore,
  type HealthState,
  type NotReadyReason,
} from "./health.js";
export { traceOfSubmit, traceContextForTask, attachHubTracing, type TracedHub } from "../tracing/hub.js";
