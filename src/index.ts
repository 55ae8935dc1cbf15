/**
 * rxon: the RXON protocol for TypeScript. This entry exports the models, constants, wire codec,
 * canonical JSON and signing, matching and contracts. Worker, listener, hub and testing helpers
 * live in `rxon/worker`, `rxon/listener`, `rxon/hub` and `rxon/testing`.
 */
export * from "../generated/constants.js";
export * from "./errors.js";
export * from "./wire/json.js";
export * from "./wire/pointer.js";
export * from "./wire/codec.js";
export type * from "../generated/types.js";
export * from "./security/index.js";
export * from "./matching/index.js";
export * from "./contracts/index.js";
export * from "./blob/index.js";
export * from "./wire/typed-decode.js";
