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
// The transport's public API, so worker authors import everything from `rxon/worker`.
export * from "../transport/index.js";
// What a handler throws to choose the failure code the orchestrator sees.
export { RxonError } from "../errors.js";
export { ErrorCode } from "../../generated/constants.js";
// The trace a handler runs in (`ctx.trace`). The runtime's metrics are in `rxon/metrics`.
export type { TaskTrace } from "../tracing/span.js";
