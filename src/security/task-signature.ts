/**
 * The orchestrator's signature over a task (`sig`, rxon 1.0b14+): HMAC-SHA256, lowercase hex, keyed
 * with a secret the orchestrator shares with its workers, over the canonical JSON of the task
 * without `security`, `sig` and `orchestrator_signature`. A hub signs what it dispatches; a worker
 * given the key runs only tasks that carry a valid signature.
 */
import { signHmac, verifyHmac } from "./hmac.js";

/** Members of a task left out of the signed text besides `security`. */
export const TASK_SIGNATURE_IGNORED_FIELDS: readonly string[] = Object.freeze(["sig", "orchestrator_signature"]);

/**
 * Returns a copy of `task` with `sig` set to its signature under `key` (any previous `sig` or
 * `orchestrator_signature` is replaced and removed respectively). Throws a ValidationError for an
 * empty key or a task that has no canonical form.
 */
export function signTask<T extends object>(task: T, key: string): T & { sig: string } {
  const copy: Record<string, unknown> = { ...(task as Record<string, unknown>) };
  delete copy.orchestrator_signature;
  delete copy.sig;
  const sig = signHmac(copy, key, { ignoreFields: TASK_SIGNATURE_IGNORED_FIELDS });
  return { ...(copy as T), sig };
}

/**
 * True when `task.sig` (or, when there is no `sig`, `task.orchestrator_signature`) is its valid
 * signature under `key`. Compared in constant time; false, never a throw, for a missing or malformed
 * signature, an empty key or a task without a canonical form.
 */
export function verifyTaskSignature(task: unknown, key: string): boolean {
  if (task === null || typeof task !== "object" || Array.isArray(task)) return false;
  const record = task as Record<string, unknown>;
  const signature = Object.hasOwn(record, "sig") ? record.sig : record.orchestrator_signature;
  return verifyHmac(record, signature, key, { ignoreFields: TASK_SIGNATURE_IGNORED_FIELDS });
}
