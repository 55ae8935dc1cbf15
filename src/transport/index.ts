/**
 * rxon transport: the worker side of the wire (HTTP with undici, WebSocket commands with ws).
 */
export type { CallOptions, PollOptions, ResultDelivery, ResultOptions, SkillCallOptions, SkillCallOutcome, WorkerTransport } from "./types.js";
export { createTransport } from "./factory.js";
export { HttpTransport } from "./http-transport.js";
export { TRANSPORT_DEFAULTS, type TransportOptions, type TransportTlsOptions } from "./options.js";
export { parseRetryAfter } from "./retry-after.js";
export { prepareOutgoing, IGNORED_FIELDS, type OutgoingKind, type OutgoingModels, type PreparedMessage, type MessageSigner } from "./outgoing.js";
export { createSigner, type SignerSettings, type SignatureAlgorithm } from "./signing.js";
export { Backoff, RateLimitBackoff, sleep, MAX_TIMER_MS, RATE_LIMIT_MIN_DELAY_MS, RATE_LIMIT_MAX_DELAY_MS, type RateLimitBackoffOptions } from "./backoff.js";
export { registerTransportScheme, type TransportMaker } from "./schemes.js";
export { receivedForm } from "./received.js";
