/**
 * rxon worker: the runtime that registers with an orchestrator, heartbeats, polls for tasks and
 * runs skills declared with `defineSkill`. Everything a worker author needs is exported here.
 */
export { Worker } from "./worker.js";
export type {
  StopOptions,
  TaskContext,
  UsageProvider,
  WorkerClock,
  WorkerEvents,
  WorkerOptions,
  WorkerSkill,
  WorkerState,
  WorkerStats,
} from "./types.js";
export type { Unsubscribe } from "./emitter.js";
export { systemClock } from "./clock.js";
export {
  defineSkill,
  validateParams,
  validateResult,
  type Skill,
  type SkillContext,
  type SkillDefinition,
  type SkillHandler,
} from "../contracts/index.js";
export {
  createTransport,
  TRANSPORT_DEFAULTS,
  type CallOptions,
  type PollOptions,
  type ResultDelivery,
  type TransportOptions,
  type TransportTlsOptions,
  type WorkerTransport,
} from "../transport/index.js";
