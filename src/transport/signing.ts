/**
 * The transport's signer, built once from its options, on top of the security module's
 * `signMessage` (PROTOCOL.md 6.3).
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { ValidationError } from "../errors.js";
import { importEd25519PrivateKey, type Ed25519PrivateKey } from "../security/ed25519.js";
import { hmacHex } from "../security/hmac.js";
import { signMessage } from "../security/sign-message.js";
import { canonicalize, joinMembers, splitSigningText } from "../wire/canonical.js";
import type { MessageSigner, PreparedMessage } from "./outgoing.js";

/** Which signature goes into `security`. */
export type SignatureAlgorithm = "hmac-sha256" | "ed25519";

/** Signing settings taken from the transport options. */
export interface SignerSettings {
  /** HMAC secret: the long-term worker token (never an STS access token). */
  readonly secret?: string | undefined;
  /** Ed25519 private key: object, 64 hex characters of seed, raw 32 bytes, or PKCS#8 PEM. */
  readonly ed25519Key?: Ed25519PrivateKey | Uint8Array | string | undefined;
  /** Default: true when a secret or key is given. */
  readonly sign?: boolean | undefined;
  /**
   * Used when both a secret and a key are given. Default `hmac-sha256`, the only signature the
   * Python orchestrator verifies; Ed25519 is verified by rxon listeners (PROTOCOL.md 7.8).
   */
  readonly signatureAlgorithm?: SignatureAlgorithm | undefined;
}

/**
 * A signer for `workerId` (written as `security.signer_id`), or undefined when signing is off.
 * Throws ValidationError for `sign: true` without a secret or key, or for an unusable key.
 */
export function createSigner(workerId: string, settings: SignerSettings): MessageSigner | undefined {
  const hasSecret = typeof settings.secret === "string" && settings.secret.length > 0;
  const hasKey = settings.ed25519Key !== undefined && settings.ed25519Key !== null;
  const enabled = settings.sign ?? (hasSecret || hasKey);
  if (!enabled) return undefined;
  if (!hasSecret && !hasKey) {
    throw new ValidationError("Signing is enabled but neither `secret` nor `ed25519Key` is set", [
      { path: "/sign", message: "needs a secret or an Ed25519 key" },
    ]);
  }
  const algorithm: SignatureAlgorithm = hasSecret && hasKey ? (settings.signatureAlgorithm ?? "hmac-sha256") : hasKey ? "ed25519" : "hmac-sha256";
  if (algorithm === "ed25519") {
    if (!hasKey) throw new ValidationError("signatureAlgorithm ed25519 needs `ed25519Key`", [{ path: "/ed25519Key", message: "required" }]);
    // Imported once: a bad key fails at construction, and signing does not re-parse it.
    const key = importEd25519PrivateKey(settings.ed25519Key as Ed25519PrivateKey | Uint8Array | string);
    return (message, ignoreFields) => signMessage(message, { ed25519Key: key, signerId: workerId, keepTimestamp: true, ignoreFields });
  }
  if (!hasSecret) throw new ValidationError("signatureAlgorithm hmac-sha256 needs `secret`", [{ path: "/secret", message: "required" }]);
  const secret = settings.secret as string;
  const signer: MessageSigner = (message, ignoreFields) => signMessage(message, { secret, signerId: workerId, keepTimestamp: true, ignoreFields });
  // The key as a KeyObject, made once: createHmac then skips converting the string per message.
  const key = createSecretKey(Buffer.from(secret, "utf8"));
  const signerIdText = signerIdMember(workerId);
  // An id without a canonical form (refused by signMessage at every call) keeps the plain path.
  if (signerIdText !== undefined) signer.signToText = (message, ignoreFields) => hmacSignToText(signer, message, ignoreFields, key, workerId, signerIdText);
  return signer;
}

/**
 * `"signer_id":<id>` as canonical JSON, made once, or undefined for an empty id or one that has no
 * canonical form. Writing `security` from it and the hex signature keeps a second object out of
 * the canonical writer, whose memo of the last top-level key order then keeps serving the messages.
 */
function signerIdMember(workerId: string): string | undefined {
  if (typeof workerId !== "string" || workerId === "") return undefined;
  try {
    return canonicalize({ signer_id: workerId }).slice(1, -1);
  } catch {
    return undefined;
  }
}

/**
 * HMAC signing and serializing with one canonical pass: the signing text is cut where `security`
 * sorts, signed, and joined again around the `security` member for the body. What `signMessage`
 * does with messages outside the common case (ignored fields, a `security` or no `timestamp`
 * already there, no signer id) is left to it.
 */
function hmacSignToText(
  signer: MessageSigner,
  message: Record<string, unknown>,
  ignoreFields: readonly string[],
  key: KeyObject,
  signerId: string,
  signerIdText: string,
): PreparedMessage<Record<string, unknown>> {
  const timestamp = message.timestamp;
  if (ignoreFields.length > 0 || timestamp === undefined || timestamp === null || Object.hasOwn(message, "security")) {
    const sent = signer(message, ignoreFields);
    return { message: sent, body: canonicalize(sent) };
  }
  const { before, after } = splitSigningText(message);
  const signature = hmacHex(joinMembers(before, after), key);
  // Canonical `security`: "signature" sorts before "signer_id", and lowercase hex needs no escaping.
  const securityText = `"security":{"signature":"${signature}",${signerIdText}}`;
  return { message: { ...message, security: { signature, signer_id: signerId } }, body: joinMembers(before, securityText, after) };
}
