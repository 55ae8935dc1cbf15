/**
 * The optional verification layer: authenticates register, result, heartbeat (with a body) and
 * event messages over the raw received object before the handler runs (PROTOCOL.md 7.2), so a
 * handler sees only messages signed by the worker they claim to come from.
 */
import { AuthError, ValidationError } from "../errors.js";
import { MessageVerifier, type MessageKind } from "../security/index.js";
import type { JsonObject } from "../wire/json.js";
import type { ListenerVerifyOptions } from "./options.js";

/** Builds the verifier of a listener from its options (or returns the given one). */
export function makeVerifier(options: ListenerVerifyOptions | undefined): MessageVerifier | undefined {
  if (options === undefined) return undefined;
  if ("verifier" in options) return options.verifier;
  return new MessageVerifier(options);
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

/** Verifies `raw` as `kind` signed by the worker resolved by {@link signerOf}; returns that worker. */
export async function verifyMessage(
  verifier: MessageVerifier,
  kind: MessageKind,
  raw: JsonObject,
  claimedId: string | null,
  pathId: string | null,
): Promise<string> {
  const workerId = signerOf(kind, raw, claimedId, pathId);
  await verifier.verify(raw, { workerId, kind });
  return workerId;
}
