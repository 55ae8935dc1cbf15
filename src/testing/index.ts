/**
 * rxon testing: an in-memory transport and helpers for testing workers without a server.
 */
export { MockTransport, type MockTransportOptions, type MockAnswer, type MockOperation, type MockSkillCall } from "./mock-transport.js";
export { waitUntil, type WaitOptions } from "./wait.js";
