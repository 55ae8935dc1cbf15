/**
 * rxon/hub: the reference orchestrator. A {@link Hub} serves workers through the listener and
 * offers `submit()` to clients; state lives in a {@link HubStore} ({@link MemoryStore} by default).
 */
export { Hub } from "./hub.js";
export type { HubServer, HubServerLimits, ServeOptions } from "./server.js";
export { ClientApi, CLIENT_PREFIX, type ClientApiOptions, type ClientApiHub } from "./client-api.js";
export { MemoryStore } from "./memory-store.js";
export { SkillQueue } from "./queue.js";
export { HubAuth, tokenHash, secretsEqual } from "./auth.js";
export { TRANSIENT_CODES } from "./dispatch.js";
export type { HubStore, WorkerRecord, JobRecord, QueueEntry, TokenRecord, Awaitable } from "./store.js";
export type {
  HubOptions,
  HubAuthOptions,
  HubEvents,
  HubStats,
  ListenOptions,
  SubmitOptions,
  TaskHandle,
  TaskOutcome,
  TaskRequirements,
  TaskState,
} from "./types.js";
