/**
 * The transport's signer, built once from its options.
 */
import { ValidationError } from "../errors.js";
import { signHmac } from "../security/hmac.js";
import type { MessageSigner } from "./outgoing.js";

/** Signing settings taken from the transport options. */
export interface SignerSettings {
  readonly secret?: string | undefined;
  readonly ed25519Key?: unknown;
  readonly sign?: boolean | undefined;
}

/**
 * A signer for `workerId`, or undefined when signing is off. Signing is on by default when a
 * secret or key is given; `sign: true` without either is a configuration error.
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
  const secret = settings.secret as string;
  return (message, ignoreFields) => {
    const signature = signHmac(message, secret, { ignoreFields });
    return { ...message, security: { signature, signer_id: workerId } };
  };
}
