/**
 * Signing a message the way the Python worker SDK does (PROTOCOL.md 6.3): stamp an integer
 * `timestamp`, sign with `security` absent, then attach `security = {signature, signer_id}`.
 */
import { ValidationError } from "../errors.js";
import { signHmac } from "./hmac.js";
import { importEd25519PrivateKey, signEd25519, type Ed25519PrivateKey } from "./ed25519.js";

/** Options of {@link signMessage}: exactly one of `secret` and `ed25519Key`. */
export interface SignMessageOptions {
  /** HMAC-SHA256 secret: the worker's long-term token, never an STS access token. */
  secret?: string;
  /** Ed25519 private key (object, 64 hex characters of seed, or PKCS#8 PEM). */
  ed25519Key?: Ed25519PrivateKey | Uint8Array | string;
  /** Written as `security.signer_id`; the verifier requires it to equal the authenticated worker id. */
  signerId: string;
  /** Current time in milliseconds since the epoch (default `Date.now()`); `timestamp` = floor(now / 1000). */
  now?: number;
  /** Keep a `timestamp` the message already has (forwarded events: it is part of the signed chain core). */
  keepTimestamp?: boolean;
  /** Top-level members left out of the signature besides `security` (events: `["bubbling_chain"]`). */
  ignoreFields?: readonly string[];
  /** Written as `security.identity_chain`; replaces any chain the message carries when given. */
  identityChain?: readonly string[];
}

/** A message object after {@link signMessage}. */
export type SignedMessage<T extends object> = Omit<T, "security" | "timestamp"> & {
  timestamp: number;
  security: {
    signature: string;
    signer_id: string;
    identity_chain?: string[];
    metadata?: { alg: "ed25519"; kid: string };
  };
};

/**
 * Returns a signed copy of `message` (the input is not modified): `timestamp` set to the current
 * integer second, `security` replaced by `{signature, signer_id}` (plus `identity_chain` if given or
 * already present, and `metadata = {alg: "ed25519", kid}` for Ed25519). HMAC output verifies on the
 * Python orchestrator; Ed25519 output only on rxon verifiers (PROTOCOL.md 7.8).
 */
export function signMessage<T extends object>(message: T, options: SignMessageOptions): SignedMessage<T> {
  const { secret, ed25519Key, signerId } = options;
  if (typeof signerId !== "string" || signerId.length === 0) {
    throw new ValidationError("signMessage needs a non-empty signerId", [{ path: "/security/signer_id", message: "required" }]);
  }
  if ((secret === undefined) === (ed25519Key === undefined)) {
    throw new ValidationError("signMessage needs exactly one of secret and ed25519Key", [{ path: "", message: "one key required" }]);
  }
  const source = message as Record<string, unknown>;
  const copy: Record<string, unknown> = { ...source };
  const current = copy.timestamp;
  if (!(options.keepTimestamp && current !== undefined && current !== null)) {
    copy.timestamp = Math.floor((options.now ?? Date.now()) / 1000);
  }
  const previous = source.security as { identity_chain?: unknown } | null | undefined;
  delete copy.security;
  const ignoreFields = options.ignoreFields ?? [];
  const security: Record<string, unknown> = {};
  if (ed25519Key !== undefined) {
    const key = importEd25519PrivateKey(ed25519Key);
    security.signature = signEd25519(copy, key, { ignoreFields });
    security.signer_id = signerId;
    security.metadata = { alg: "ed25519", kid: key.publicKey.kid };
  } else {
    security.signature = signHmac(copy, secret as string, { ignoreFields });
    security.signer_id = signerId;
  }
  const chain = options.identityChain ?? (Array.isArray(previous?.identity_chain) ? (previous.identity_chain as string[]) : undefined);
  if (chain !== undefined) security.identity_chain = [...chain];
  copy.security = security;
  return copy as SignedMessage<T>;
}
