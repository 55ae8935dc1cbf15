/**
 * Identity of a verified client certificate (PROTOCOL.md 7.6): the first subject commonName and
 * the URI subject alternative names, only when TLS reports the peer as authorized.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { CertIdentity } from "./types.js";

/** The peer's certificate identity, or null (plain TCP, no certificate, or not verified). */
export function certIdentityOf(socket: Socket): CertIdentity | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true || typeof tls.getPeerCertificate !== "function") return null;
  const cert = tls.getPeerCertificate();
  if (cert === null || typeof cert !== "object" || cert.subject === undefined) return null;
  const cn: unknown = (cert.subject as unknown as Record<string, unknown>).CN;
  // Several CN attributes arrive as an array in certificate order; the first one counts.
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  if (typeof commonName !== "string" || commonName === "") return null;
  return { commonName, uris: urisOf(cert.subjectaltname) };
}

function urisOf(subjectAltName: string | undefined): string[] {
  if (typeof subjectAltName !== "string" || subjectAltName === "") return [];
  const uris: string[] = [];
  // Node writes "DNS:a, URI:spiffe://x/y"; values with commas are quoted JSON strings.
  for (const match of subjectAltName.matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const value = match[1]!;
    if (value.startsWith('"')) {
      try {
        uris.push(JSON.parse(value) as string);
      } catch {
        /* malformed quoting: skip the entry */
      }
    } else uris.push(value);
  }
  return uris;
}
