/**
 * Preparing an outgoing message: validated against its model (defaults filled in, as Python
 * senders include them), stamped with an integer `timestamp`, signed when signing is configured
 * (PROTOCOL.md 6.3), and serialized. The body sent is the canonical text of exactly the object
 * that was signed, so a verifier that canonicalizes the parsed body gets the signed text back.
 */
import type { Heartbeat, TaskResult, WorkerEventPayload, WorkerRegistration } from "../../generated/types.js";
import { canonicalize } from "../wire/canonical.js";
import { decode } from "../wire/codec.js";

/** The four signed message kinds a worker sends. */
export type OutgoingKind = "register" | "heartbeat" | "result" | "event";

/** The model of each kind. */
export interface OutgoingModels {
  register: WorkerRegistration;
  heartbeat: Heartbeat;
  result: TaskResult;
  event: WorkerEventPayload;
}

const MODEL = {
  register: "WorkerRegistration",
  heartbeat: "Heartbeat",
  result: "TaskResult",
  event: "WorkerEventPayload",
} as const;

/** Top-level members left out of the signature per kind (PROTOCOL.md 6.3; `security` always). */
export const IGNORED_FIELDS: Readonly<Record<OutgoingKind, readonly string[]>> = Object.freeze({
  register: [],
  heartbeat: [],
  result: [],
  event: ["bubbling_chain"],
});

/** Returns `message` with `security` attached (a new object); `message` already carries its timestamp. */
export interface MessageSigner {
  (message: Record<string, unknown>, ignoreFields: readonly string[]): Record<string, unknown>;
  /**
   * Optional: signs like the call and also returns the canonical text of the signed message,
   * serializing it once for both the signature and the body. The result must equal calling the
   * signer and canonicalizing what it returns.
   */
  signToText?(message: Record<string, unknown>, ignoreFields: readonly string[]): PreparedMessage<Record<string, unknown>>;
}

/** A message ready to go: the object as sent and its body text. */
export interface PreparedMessage<T> {
  readonly message: T;
  readonly body: string;
}

/**
 * Validates, stamps, signs and serializes `value` as `kind`. A caller-supplied `timestamp` or
 * `security` is replaced: the transport owns both. Throws ValidationError for an invalid message.
 */
export function prepareOutgoing<K extends OutgoingKind>(
  kind: K,
  value: OutgoingModels[K],
  nowMs: number,
  signer: MessageSigner | undefined,
): PreparedMessage<OutgoingModels[K]> {
  const input = { ...(value as object) } as Record<string, unknown>;
  delete input.timestamp;
  delete input.security;
  const message = decode(MODEL[kind], input) as unknown as Record<string, unknown>;
  message.timestamp = Math.floor(nowMs / 1000);
  if (signer?.signToText !== undefined) return signer.signToText(message, IGNORED_FIELDS[kind]) as unknown as PreparedMessage<OutgoingModels[K]>;
  const sent = signer ? signer(message, IGNORED_FIELDS[kind]) : message;
  return { message: sent as unknown as OutgoingModels[K], body: canonicalize(sent) };
}
