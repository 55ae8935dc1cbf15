/**
 * Options of {@link createTransport} and their defaults.
 */
import type { Dispatcher } from "undici";
import { ProtocolVersion } from "../../generated/constants.js";
import type { Logger } from "../logger.js";
import type { Ed25519PrivateKey } from "../security/ed25519.js";
import type { SignatureAlgorithm } from "./signing.js";

/** TLS material for `https://`/`wss://` orchestrators (PEM text or buffers). */
export interface TransportTlsOptions {
  /** CA certificate(s) trusted for the orchestrator's certificate (default: Node's root store). */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate chain for mTLS. */
  cert?: string | Buffer;
  /** Private key of the client certificate. */
  key?: string | Buffer;
  /** Server name to verify against, when it differs from the URL's host. */
  servername?: string;
  /** Verify the orchestrator's certificate (default true; turn off only in tests). */
  rejectUnauthorized?: boolean;
}

/** Options of {@link createTransport}. */
export interface TransportOptions {
  /** TLS settings (CA, client certificate and key for mTLS). */
  tls?: TransportTlsOptions;
  /**
   * An undici dispatcher (Agent, Pool, ProxyAgent...) for every HTTP call, e.g. to go through a proxy.
   * It is not closed by the transport. Default: a keep-alive Pool for the orchestrator's origin, owned by the transport.
   * The WebSocket command channel does not use it.
   */
  dispatcher?: Dispatcher;
  /** Where the transport logs (pino-compatible). Default: silent. */
  logger?: Logger;
  /** Wall clock in milliseconds (timestamps of messages, Retry-After dates). Default `Date.now`. */
  clock?: () => number;
  /**
   * HMAC secret: the worker's long-term token as the orchestrator stores it. Never an STS access
   * token (PROTOCOL.md 11 item 31): it stays the HMAC key after token refreshes.
   */
  secret?: string;
  /** Ed25519 private key (object, 64 hex characters of seed, raw bytes or PKCS#8 PEM) to sign with. */
  ed25519Key?: Ed25519PrivateKey | Uint8Array | string;
  /** Sign outgoing messages. Default: true when `secret` or `ed25519Key` is given. */
  sign?: boolean;
  /**
   * Signature used when both `secret` and `ed25519Key` are given. Default `hmac-sha256`, the only
   * one the Python orchestrator verifies; `ed25519` is verified by rxon listeners.
   */
  signatureAlgorithm?: SignatureAlgorithm;
  /** Sent as `X-RXON-Version`. Default {@link ProtocolVersion.CURRENT}. */
  protocolVersion?: string;
  /** Attempts per result on network errors, the first included. Default 3. */
  resultRetries?: number;
  /** Delay after the first failed result attempt; doubles after each. Default 100 ms. */
  resultRetryDelayMs?: number;
  /** Upper bound of one delay between result attempts. Default 30 s. */
  resultRetryMaxDelayMs?: number;
  /** First delay before reconnecting the command channel. Default 1 s. */
  wsBackoffInitialMs?: number;
  /** Largest delay between command channel reconnections. Default 60 s. */
  wsBackoffMaxMs?: number;
  /** Interval of WebSocket pings; a connection that misses a pong is dropped and reconnected. Default 30 s; 0 disables. */
  wsPingIntervalMs?: number;
  /** `retryAfterMs` of a 429 without a usable `Retry-After` (the Python orchestrator sends none). Default 30 s, the worker SDK's floor. */
  rateLimitDefaultMs?: number;
  /** Largest `retryAfterMs` taken from a header. Default 1 hour. */
  rateLimitMaxMs?: number;
  /**
   * Margin added to the server's poll hold for the client-side poll timeout. The Python
   * orchestrator holds 30 s whatever `timeout` asks, so the client waits
   * `max(timeoutSeconds, 30) + pollGraceMs`. Default 5 s.
   */
  pollGraceMs?: number;
  /** Least hold assumed for a poll, in seconds. Default 30 (the Python orchestrator's). */
  serverPollHoldSeconds?: number;
  /** Client timeout of every other request. Default 60 s. */
  requestTimeoutMs?: number;
  /**
   * Longest time to receive a whole response body once its headers arrived (a poll answer that
   * trickles in is cut off and the poll is retried). Default 30 s.
   */
  bodyTimeoutMs?: number;
  /** Client timeout of a `callSkill` (the orchestrator answers when the called skill is done). Default 5 minutes. */
  skillCallTimeoutMs?: number;
  /** Largest response body accepted. Default 16 MiB. */
  maxResponseBytes?: number;
  /** Idle keep-alive time of pooled connections (owned Pool only). Default 30 s. */
  keepAliveTimeoutMs?: number;
}

/** Options with every default filled in. */
export interface ResolvedTransportOptions {
  readonly logger: Logger;
  readonly clock: () => number;
  readonly protocolVersion: string;
  readonly resultRetries: number;
  readonly resultRetryDelayMs: number;
  readonly resultRetryMaxDelayMs: number;
  readonly wsBackoffInitialMs: number;
  readonly wsBackoffMaxMs: number;
  readonly wsPingIntervalMs: number;
  readonly rateLimitDefaultMs: number;
  readonly rateLimitMaxMs: number;
  readonly pollGraceMs: number;
  readonly serverPollHoldSeconds: number;
  readonly requestTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly skillCallTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly keepAliveTimeoutMs: number;
}

/** Default values of the numeric options. */
export const TRANSPORT_DEFAULTS = Object.freeze({
  resultRetries: 3,
  resultRetryDelayMs: 100,
  resultRetryMaxDelayMs: 30_000,
  wsBackoffInitialMs: 1_000,
  wsBackoffMaxMs: 60_000,
  wsPingIntervalMs: 30_000,
  rateLimitDefaultMs: 30_000,
  rateLimitMaxMs: 3_600_000,
  pollGraceMs: 5_000,
  serverPollHoldSeconds: 30,
  requestTimeoutMs: 60_000,
  bodyTimeoutMs: 30_000,
  skillCallTimeoutMs: 300_000,
  maxResponseBytes: 16 * 1024 * 1024,
  keepAliveTimeoutMs: 30_000,
});

/** Fills in defaults; non-finite or negative numbers fall back to the default. */
export function resolveOptions(options: TransportOptions, logger: Logger): ResolvedTransportOptions {
  const num = (value: number | undefined, fallback: number, min = 0): number =>
    typeof value === "number" && Number.isFinite(value) && value >= min ? value : fallback;
  const d = TRANSPORT_DEFAULTS;
  return {
    logger,
    clock: options.clock ?? Date.now,
    protocolVersion: options.protocolVersion ?? ProtocolVersion.CURRENT,
    resultRetries: Math.floor(num(options.resultRetries, d.resultRetries, 1)),
    resultRetryDelayMs: num(options.resultRetryDelayMs, d.resultRetryDelayMs),
    resultRetryMaxDelayMs: num(options.resultRetryMaxDelayMs, d.resultRetryMaxDelayMs),
    wsBackoffInitialMs: num(options.wsBackoffInitialMs, d.wsBackoffInitialMs, 1),
    wsBackoffMaxMs: num(options.wsBackoffMaxMs, d.wsBackoffMaxMs, 1),
    wsPingIntervalMs: num(options.wsPingIntervalMs, d.wsPingIntervalMs),
    rateLimitDefaultMs: num(options.rateLimitDefaultMs, d.rateLimitDefaultMs),
    rateLimitMaxMs: num(options.rateLimitMaxMs, d.rateLimitMaxMs),
    pollGraceMs: num(options.pollGraceMs, d.pollGraceMs),
    serverPollHoldSeconds: num(options.serverPollHoldSeconds, d.serverPollHoldSeconds),
    requestTimeoutMs: num(options.requestTimeoutMs, d.requestTimeoutMs, 1),
    bodyTimeoutMs: num(options.bodyTimeoutMs, d.bodyTimeoutMs, 1),
    skillCallTimeoutMs: num(options.skillCallTimeoutMs, d.skillCallTimeoutMs, 1),
    maxResponseBytes: num(options.maxResponseBytes, d.maxResponseBytes, 1),
    keepAliveTimeoutMs: num(options.keepAliveTimeoutMs, d.keepAliveTimeoutMs, 1),
  };
}
