/**
 * rxon listener (`rxon/listener`): the orchestrator side of the wire on node:http(s), with the
 * WebSocket command channel. See docs/listener.md.
 */
export { RxonListener, type NodeServer } from "./listener.js";
export type { ListenerLimits, ListenerVerifyOptions, RxonListenerOptions } from "./options.js";
export { DEFAULT_PROTOCOL_VERSION } from "./options.js";
export { certIdentityOf } from "./cert.js";
export { parsePollQuery, type PollFields } from "./context.js";
export { errorAnswer, type ErrorAnswer } from "./respond.js";
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
