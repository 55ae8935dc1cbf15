/**
 * mTLS helpers (PROTOCOL.md 7.6): server and client options, and the identity of a verified peer.
 * An identity is taken only from a certificate the TLS layer verified against the configured CA,
 * never from an unverified one.
 */
import type { PeerCertificate, TLSSocket } from "node:tls";

/** PEM text or bytes, or a list of them (CA bundles). */
export type PemInput = string | Buffer | (string | Buffer)[];

/** Options of {@link serverTlsOptions}. */
export interface ServerTlsInput {
  /** Server certificate chain (PEM). */
  cert: PemInput;
  /** Server private key (PEM). */
  key: PemInput;
  /** CA bundle that client certificates must chain to. */
  ca: PemInput;
  /**
   * Default true: the handshake fails without a valid client certificate (`mtls-only`). False:
   * certificates are requested and verified but optional (`mixed`); use {@link peerIdentity},
   * which returns null for a missing or unverified certificate.
   */
  requireClientCert?: boolean;
}

/** TLS options for `https.createServer` / `tls.createServer`. */
export interface ServerTlsOptions {
  cert: PemInput;
  key: PemInput;
  ca: PemInput;
  requestCert: true;
  rejectUnauthorized: boolean;
  minVersion: "TLSv1.2";
}

/** Options of {@link clientTlsOptions}. */
export interface ClientTlsInput {
  /** CA bundle the server certificate must chain to. */
  ca: PemInput;
  /** Client certificate chain (PEM), for mTLS. */
  cert?: PemInput;
  /** Client private key (PEM), for mTLS. */
  key?: PemInput;
  /** Server name to check the certificate against, when it differs from the host connected to. */
  servername?: string;
}

/** TLS options for `https.request`, `tls.connect`, undici's `Agent({ connect })` or `ws`. */
export interface ClientTlsOptions {
  ca: PemInput;
  cert?: PemInput;
  key?: PemInput;
  servername?: string;
  rejectUnauthorized: true;
  minVersion: "TLSv1.2";
}

/** Identity of a verified TLS peer. */
export interface PeerIdentity {
  /** First `CN` of the certificate subject (the worker id in the reference), or null if there is none. */
  commonName: string | null;
  /** Subject alternative name URIs, e.g. SPIFFE ids (`spiffe://trust-domain/path`). */
  uris: string[];
}

/** Server options that request client certificates and verify them against `ca`. */
export function serverTlsOptions(input: ServerTlsInput): ServerTlsOptions {
  return {
    cert: input.cert,
    key: input.key,
    ca: input.ca,
    requestCert: true,
    rejectUnauthorized: input.requireClientCert ?? true,
    minVersion: "TLSv1.2",
  };
}

/** Client options that verify the server against `ca` and present a client certificate if given. */
export function clientTlsOptions(input: ClientTlsInput): ClientTlsOptions {
  if ((input.cert === undefined) !== (input.key === undefined)) {
    throw new TypeError("clientTlsOptions: cert and key go together");
  }
  const options: ClientTlsOptions = { ca: input.ca, rejectUnauthorized: true, minVersion: "TLSv1.2" };
  if (input.cert !== undefined) options.cert = input.cert;
  if (input.key !== undefined) options.key = input.key;
  if (input.servername !== undefined) options.servername = input.servername;
  return options;
}

/**
 * The identity in the peer's certificate, only when the TLS layer verified it
 * (`socket.authorized`); null for plain sockets, a missing or unverified certificate, or a
 * certificate with neither a CN nor a URI.
 */
export function peerIdentity(socket: unknown): PeerIdentity | null {
  const tls = socket as Partial<TLSSocket> | null | undefined;
  if (!tls || tls.authorized !== true || typeof tls.getPeerCertificate !== "function") return null;
  const cert = tls.getPeerCertificate(false) as PeerCertificate | Record<string, never> | null;
  if (!cert || Object.keys(cert).length === 0) return null;
  const cn = (cert.subject as unknown as Record<string, unknown> | undefined)?.CN;
  const first = Array.isArray(cn) ? cn[0] : cn;
  const commonName = typeof first === "string" && first !== "" ? first : null;
  const uris = parseSubjectAltNames(cert.subjectaltname)
    .filter((name) => name.type === "URI")
    .map((name) => name.value);
  return commonName === null && uris.length === 0 ? null : { commonName, uris };
}

/**
 * Parses node's `subjectaltname` text (`DNS:a, URI:spiffe://x, IP Address:1.2.3.4`). Node quotes a
 * value as a JSON string when it holds a comma, quote or other special character, so that one
 * entry cannot masquerade as two; quoted values are decoded, not split.
 */
export function parseSubjectAltNames(text: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  if (typeof text !== "string") return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      } catch {
        return out;
      }
      end += 1;
    } else {
      end = text.indexOf(", ", colon + 1);
      if (end < 0) end = text.length;
      value = text.slice(colon + 1, end);
    }
    out.push({ type, value });
    i = text.startsWith(", ", end) ? end + 2 : end;
    if (i === end && end < text.length) break;
  }
  return out;
}
