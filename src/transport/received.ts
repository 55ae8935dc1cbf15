/**
 * The task exactly as the orchestrator sent it. Decoding fills schema defaults in (`priority`,
 * file metadata...), which changes the canonical text an orchestrator's `sig` was computed over;
 * a signature is therefore checked against the received JSON, kept here next to the decoded task.
 */
import type { TaskPayload } from "../../generated/types.js";

const received = new WeakMap<object, Readonly<Record<string, unknown>>>();

/** Remembers `raw` as the wire form of `task` (HTTP transport, when asked with `keepReceived`). */
export function rememberReceived(task: TaskPayload, raw: Readonly<Record<string, unknown>>): void {
  received.set(task, raw);
}

/** The JSON object `task` was decoded from, when the transport kept it; else undefined. */
export function receivedForm(task: Readonly<TaskPayload>): Readonly<Record<string, unknown>> | undefined {
  return received.get(task);
}
