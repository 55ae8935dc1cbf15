/**
 * rxon listener (`rxon/listener`): the orchestrator side of the wire on node:http(s), with the
 * WebSocket command channel. See docs/listener.md.
 */
export { RxonListener, type NodeServer } from "./listener.js";
export type { ListenerLimits, ListenerVerifyOptions, PreAuthenticate, RxonListenerOptions } from "./options.js";
export { WorkerRateLimiter, type RateLimitOptions } from "./rate-limit.js";
export { addressKey, capConnections, type ConnectionCaps, type ConnectionGuard } from "./connections.js";
export { guardStrangers, trustConnection, type StrangerGuard } from "./strangers.js";
export type { HttpAction } from "./routes.js";
export { DEFAULT_PROTOCOL_VERSION } from "./options.js";
export { certIdentityOf } from "./cert.js";
export { parsePollQuery, type PollFields } from "./context.js";
export { errorAnswer, errorBudget, errorText, MAX_ERROR_BYTES, MIN_ERROR_BYTES, type ErrorAnswer } from "./respond.js";
export type {
  CertIdentity,
  CommandChannel,
  HandlerAction,
  HandlerArgs,
  HandlerPayloads,
  HandlerResults,
  ListenerContext,
  RxonHandler,
} from "./types.js";
