/**
 * The optional verification layer: authenticates register, result, heartbeat (with a body) and
 * event messages over the raw received object before the handler runs (PROTOCOL.md 7.2), so a
 * handler sees only messages signed by the worker they claim to come from.
 */
import { AuthError, ValidationError } from "../errors.js";
import { MessageVerifier, type MessageKind } from "../security/index.js";
import type { JsonObject } from "../wire/json.js";
import type { ListenerVerifyOptions } from "./options.js";

/** The listener's verification layer: the verifier, and how to tell a signed message from a tolerated unsigned one. */
export interface VerificationLayer {
  readonly verifier: MessageVerifier;
  /**
   * Present only when unsigned messages of workers without keys are tolerated
   * (`requireSignature: false`): then a message that passed was authenticated only if the worker
   * has a key, which this lookup tells.
   */
  readonly hasKey?: (workerId: string) => Promise<boolean>;
}

/**
 * Builds the verification layer from the listener's options. A ready `verifier` is taken to
 * require signatures (its options are private), so every message it passes counts as authenticated.
 */
export function makeVerifier(options: ListenerVerifyOptions | undefined): VerificationLayer | undefined {
  if (options === undefined) return undefined;
  if ("verifier" in options) return { verifier: options.verifier };
  const verifier = new MessageVerifier(options);
  if (options.requireSignature !== false) return { verifier };
  const keys = options.keys;
  return {
    verifier,
    hasKey: async (workerId) => {
      const found = await keys(workerId);
      return Array.isArray(found) ? found.length > 0 : found !== null && found !== undefined;
    },
  };
}

/** The message kind verified for an action, or null when the action carries no signed message. */
export function kindOf(action: string, hasBody: boolean): MessageKind | null {
  switch (action) {
    case "register":
    case "result":
    case "event":
      return action;
    case "heartbeat":
      return hasBody ? "heartbeat" : null;
    default:
      return null;
  }
}

function mismatch(): AuthError {
  return new AuthError("Immediate sender ID mismatch", { details: { reason: "sender_mismatch" } });
}

/**
 * The worker a message must be signed by. Heartbeats: the path id (the body's `worker_id` is not
 * trusted, PROTOCOL.md 11.20, but must agree when present). Others: the body's `worker_id`, which
 * must agree with the sender's claimed id (`X-Worker-ID`, or the WebSocket path) when there is one;
 * a result without `worker_id` is attributed to the claimed id.
 */
export function signerOf(kind: MessageKind, raw: JsonObject, claimedId: string | null, pathId: string | null): string {
  const bodyId = raw.worker_id;
  if (bodyId !== undefined && bodyId !== null && typeof bodyId !== "string") {
    throw new ValidationError("Missing or invalid worker_id", [{ path: "/worker_id", message: "must be a string" }]);
  }
  if (kind === "heartbeat" && pathId !== null) {
    if (typeof bodyId === "string" && bodyId !== pathId) throw mismatch();
    return pathId;
  }
  if (typeof bodyId === "string") {
    if (claimedId !== null && claimedId !== bodyId) throw mismatch();
    return bodyId;
  }
  if (claimedId !== null) return claimedId;
  throw new ValidationError("Missing or invalid worker_id", [{ path: "/worker_id", message: "is required" }]);
}

/**
 * Verifies `raw` as `kind` signed by the worker resolved by {@link signerOf}. Resolves with that
 * worker when the message was authenticated, undefined when it was only tolerated unsigned.
 */
export async function verifyMessage(
  layer: VerificationLayer,
  kind: MessageKind,
  raw: JsonObject,
  claimedId: string | null,
  pathId: string | null,
): Promise<string | undefined> {
  const workerId = signerOf(kind, raw, claimedId, pathId);
  await layer.verifier.verify(raw, { workerId, kind });
  if (layer.hasKey !== undefined && !(await layer.hasKey(workerId))) return undefined;
  return workerId;
}
