/**
 * Identity of a verified client certificate (PROTOCOL.md 7.6), taken with the security room's
 * `peerIdentity`: only when TLS reports the peer as authorized, never from an unverified
 * certificate.
 */
import { peerIdentity } from "../security/index.js";
import type { CertIdentity } from "./types.js";

/** The peer's certificate identity, or null (plain TCP, no certificate, or not verified). */
export function certIdentityOf(socket: unknown): CertIdentity | null {
  const identity = peerIdentity(socket);
  if (identity === null) return null;
  return { commonName: identity.commonName, uris: identity.uris };
}
