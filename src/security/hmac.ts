/**
 * HMAC-SHA256 over the canonical signing text (PROTOCOL.md 6.4), byte-compatible with the Python
 * reference: key = UTF-8 of the secret, message = UTF-8 of the signing text, lowercase hex output.
 */
import { createHmac, timingSafeEqual, type KeyObject } from "node:crypto";
import { ValidationError } from "../errors.js";
import { signingText, type SigningTextOptions } from "../wire/canonical.js";

/** Length of an HMAC-SHA256 signature in hex characters. */
export const HMAC_SIGNATURE_LENGTH = 64;

const LOWER_HEX_64 = /^[0-9a-f]{64}$/;

/**
 * Signs `message` with HMAC-SHA256 and returns 64 lowercase hex characters. The top-level
 * `security` member and `ignoreFields` are not signed. Throws {@link ValidationError} for an
 * empty secret (details.reason `empty_secret`) or a value the reference cannot canonicalize.
 */
export function signHmac(message: unknown, secret: string, options: SigningTextOptions = {}): string {
  if (typeof secret !== "string" || secret.length === 0) {
    throw new ValidationError("Secret key for signing cannot be empty.", [{ path: "", message: "empty secret" }], {
      details: { reason: "empty_secret" },
    });
  }
  return hmacHex(signingText(message, options), secret);
}

/**
 * Checks an HMAC-SHA256 signature in constant time. Returns false, never throws, when the
 * signature is missing, not a string, not 64 lowercase hex characters (uppercase fails, as in the
 * reference), when the secret is empty, or when the message cannot be canonicalized.
 */
export function verifyHmac(message: unknown, signature: unknown, secret: string, options: SigningTextOptions = {}): boolean {
  if (typeof signature !== "string" || !LOWER_HEX_64.test(signature)) return false;
  if (typeof secret !== "string" || secret.length === 0) return false;
  let expected: string;
  try {
    expected = hmacHex(signingText(message, options), secret);
  } catch {
    return false;
  }
  return timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(signature, "hex"));
}

/**
 * HMAC-SHA256 of an already canonical text, lowercase hex. `secret` is the UTF-8 secret, or a
 * secret KeyObject made from its UTF-8 bytes once (which spares converting the key per message).
 */
export function hmacHex(text: string, secret: string | KeyObject): string {
  return createHmac("sha256", secret).update(text, "utf8").digest("hex");
}
