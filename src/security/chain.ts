/**
 * Signed bubbling chain (PROTOCOL.md 7.9): the origin signs the event core, every forwarder
 * appends its own signature over the core and the path so far, in `security.identity_chain` as
 * `<signer_id>:<hex signature>`. Fields that hops legitimately rewrite stay outside the core.
 */
import { ValidationError } from "../errors.js";
import { canonicalize } from "../wire/canonical.js";
import {
  importEd25519PrivateKey,
  importEd25519PublicKey,
  signEd25519Bytes,
  verifyEd25519Bytes,
  type Ed25519PrivateKey,
  type Ed25519PublicKey,
} from "./ed25519.js";

/** Members of an event that the chain signs. */
export const EVENT_CORE_FIELDS = ["event_id", "event_type", "origin_task_id", "origin_worker_id", "payload", "timestamp"] as const;

/** Finds the public key of a chain signer; null or undefined when the signer is unknown. */
export type ChainKeyResolver = (
  signerId: string,
) => Ed25519PublicKey | string | null | undefined | Promise<Ed25519PublicKey | string | null | undefined>;

/** Why a chain was refused; `hop` is the index of the offending entry (-1: the chain as a whole). */
export type ChainFailure =
  | "missing_chain"
  | "malformed_entry"
  | "origin_mismatch"
  | "sender_mismatch"
  | "path_mismatch"
  | "unknown_signer"
  | "bad_signature"
  | "bad_core";

/** Outcome of {@link verifyChain}. */
export type ChainVerdict = { ok: true } | { ok: false; hop: number; reason: ChainFailure };

type EventLike = Readonly<Record<string, unknown>>;

const SIGNATURE_HEX = /^[0-9a-f]{128}$/;

/** The event core: only the fields of {@link EVENT_CORE_FIELDS} (absent ones stay absent). */
export function eventCore(event: EventLike): Record<string, unknown> {
  const core: Record<string, unknown> = {};
  for (const field of EVENT_CORE_FIELDS) if (event[field] !== undefined) core[field] = event[field];
  return core;
}

/** The text hop k signs: canonical `{"core": core, "path": [id_0 … id_k]}`. */
export function chainHopText(event: EventLike, path: readonly string[]): string {
  return canonicalize({ core: eventCore(event), path });
}

/** Parses `security.identity_chain`; null when it is absent or not a list of strings. */
function chainEntries(event: EventLike): string[] | null {
  const security = event.security as { identity_chain?: unknown } | null | undefined;
  const chain = security?.identity_chain;
  if (!Array.isArray(chain) || !chain.every((entry) => typeof entry === "string")) return null;
  return chain as string[];
}

function splitEntry(entry: string): { signer: string; signature: string } | null {
  const at = entry.lastIndexOf(":");
  if (at <= 0) return null;
  const signature = entry.slice(at + 1);
  return SIGNATURE_HEX.test(signature) ? { signer: entry.slice(0, at), signature } : null;
}

/**
 * Appends a signed hop to a copy of `event`'s `security.identity_chain` (creating the chain: then
 * `signerId` must be the `origin_worker_id`). Does not change `worker_id`, `bubbling_chain` or the
 * outer signature; see {@link forwardEvent} for the whole forwarding step.
 */
export function signChainHop<T extends object>(event: T, signerId: string, privateKey: Ed25519PrivateKey | Uint8Array | string): T {
  const source = event as EventLike;
  const existing = chainEntries(source) ?? [];
  if (existing.length === 0 && signerId !== source.origin_worker_id) {
    throw new ValidationError("The first chain entry must be signed by the origin worker", [
      { path: "/security/identity_chain/0", message: "signer is not origin_worker_id" },
    ]);
  }
  const path: string[] = [];
  for (const entry of existing) {
    const parsed = splitEntry(entry);
    if (parsed === null) {
      throw new ValidationError("Malformed identity_chain entry", [{ path: "/security/identity_chain", message: "not <signer>:<hex>" }]);
    }
    path.push(parsed.signer);
  }
  path.push(signerId);
  const key = importEd25519PrivateKey(privateKey);
  const signature = Buffer.from(signEd25519Bytes(Buffer.from(chainHopText(source, path), "utf8"), key)).toString("hex");
  const security = { ...((source.security as object | null | undefined) ?? {}), identity_chain: [...existing, `${signerId}:${signature}`] };
  return { ...source, security } as T;
}

/**
 * One forwarding step of a holon: the event goes on under `forwarderId` (`worker_id`), the previous
 * sender joins `bubbling_chain` unless it is the origin, and the forwarder's hop is appended. The
 * caller then signs the outer message (`signMessage(..., { keepTimestamp: true, ignoreFields: ["bubbling_chain"] })`).
 */
export function forwardEvent<T extends object>(event: T, forwarderId: string, privateKey: Ed25519PrivateKey | Uint8Array | string): T {
  const source = event as EventLike;
  const previous = source.worker_id;
  const chain = Array.isArray(source.bubbling_chain) ? [...(source.bubbling_chain as unknown[])] : [];
  if (typeof previous === "string" && previous !== source.origin_worker_id && !chain.includes(previous)) chain.push(previous);
  return signChainHop({ ...source, worker_id: forwarderId, bubbling_chain: chain } as T, forwarderId, privateKey);
}

/**
 * Verifies a signed bubbling chain: the first signer is `origin_worker_id`, the last is `worker_id`
 * (the authenticated sender: compare it with the connection's identity too), the signers in
 * between equal `bubbling_chain`, and every entry verifies under its signer's configured key.
 * Never throws for a bad event; reports the first failing hop.
 */
export async function verifyChain(event: unknown, keyResolver: ChainKeyResolver): Promise<ChainVerdict> {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return { ok: false, hop: -1, reason: "missing_chain" };
  const ev = event as EventLike;
  const entries = chainEntries(ev);
  if (entries === null || entries.length === 0) return { ok: false, hop: -1, reason: "missing_chain" };
  const hops: { signer: string; signature: string }[] = [];
  for (let k = 0; k < entries.length; k++) {
    const parsed = splitEntry(entries[k]!);
    if (parsed === null) return { ok: false, hop: k, reason: "malformed_entry" };
    hops.push(parsed);
  }
  const last = hops.length - 1;
  if (hops[0]!.signer !== ev.origin_worker_id) return { ok: false, hop: 0, reason: "origin_mismatch" };
  if (hops[last]!.signer !== ev.worker_id) return { ok: false, hop: last, reason: "sender_mismatch" };
  const middle = Array.isArray(ev.bubbling_chain) ? (ev.bubbling_chain as unknown[]) : [];
  const between = hops.length - 2;
  for (let k = 1; k <= Math.max(between, middle.length); k++) {
    if (k > between || middle[k - 1] !== hops[k]!.signer) return { ok: false, hop: Math.min(k, last), reason: "path_mismatch" };
  }
  const path = hops.map((hop) => hop.signer);
  let core: Record<string, unknown>;
  try {
    core = eventCore(ev);
    canonicalize(core);
  } catch {
    return { ok: false, hop: 0, reason: "bad_core" };
  }
  for (let k = 0; k < hops.length; k++) {
    const hop = hops[k]!;
    let key: Ed25519PublicKey;
    try {
      const resolved = await keyResolver(hop.signer);
      if (resolved === null || resolved === undefined) return { ok: false, hop: k, reason: "unknown_signer" };
      key = importEd25519PublicKey(resolved);
    } catch {
      return { ok: false, hop: k, reason: "unknown_signer" };
    }
    const text = canonicalize({ core, path: path.slice(0, k + 1) });
    if (!verifyEd25519Bytes(Buffer.from(hop.signature, "hex"), Buffer.from(text, "utf8"), key)) {
      return { ok: false, hop: k, reason: "bad_signature" };
    }
  }
  return { ok: true };
}
