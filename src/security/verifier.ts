/**
 * The one message verification mechanism of rxon (listener and hub): PROTOCOL.md 7.2 in the
 * orchestrator's order and with its texts, plus what the reference lacks: Ed25519 keys chosen by
 * configuration (no downgrade), a mandatory signer id, and refusal of exact replays.
 */
import { AuthError, RateLimitError, RxonError, ValidationError } from "../errors.js";
import { verifyHmac } from "./hmac.js";
import { importEd25519PublicKey, verifyEd25519, type Ed25519PublicKey } from "./ed25519.js";
import { ReplayGuard, replayIdentity } from "./replay.js";

/** A verification key configured for one worker, out of band. */
export type SignerKey =
  | { alg: "hmac-sha256"; secret: string }
  | { alg: "ed25519"; publicKey: Ed25519PublicKey | string /* raw hex or PEM */ };

/** Result of a key lookup: one key, several (rotation: any may match), or none. */
export type SignerKeyLookup = SignerKey | SignerKey[] | null | undefined;

/** Options of {@link MessageVerifier}. */
export interface VerifierOptions {
  /**
   * Per-worker key configuration. `null`/`undefined`/`[]` = no key: unsigned messages are then
   * accepted only when `requireSignature` is false. The HMAC secret is the worker's long-term
   * token, never an STS access token: resolving that is the caller's job.
   */
  keys: (workerId: string) => SignerKeyLookup | Promise<SignerKeyLookup>;
  /** Default true: a worker with no configured key is refused. */
  requireSignature?: boolean;
  /**
   * Default true: `security.signer_id` must be present (and equal the worker id). The reference
   * accepts an absent signer id (PROTOCOL.md 7.2 step 6); set false to interoperate with senders
   * that omit it. The Python worker SDK always sends it.
   */
  requireSignerId?: boolean;
  /** Replay guard (its window is the timestamp window); default a new `ReplayGuard` with `clock`. `false`: window check only, 60 s. */
  replay?: ReplayGuard | false;
  /** Current time in milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
}

/** The kind of message verified; `event` excludes `bubbling_chain` from the signature. */
export type MessageKind = "register" | "heartbeat" | "result" | "event" | "other";

const EVENT_IGNORED = ["bubbling_chain"] as const;
const NONE: readonly string[] = [];
const DEFAULT_WINDOW_MS = 60_000;
const INTEGER_TEXT = /^\s*[+-]?\d{1,20}\s*$/;

function denied(message: string, reason: string, more: Record<string, unknown> = {}): AuthError {
  return new AuthError(message, { details: { reason, ...more } });
}

/** The refusal of a message already received (also what hubs sharing a store throw for one). */
export function replayRefusal(): AuthError {
  return denied("Message already received (replay protection)", "replay");
}

/** Keeps attacker-supplied text short and printable in error messages. */
function quote(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

/** Verifies received messages; see {@link MessageVerifier.verify}. */
export class MessageVerifier {
  readonly #keys: VerifierOptions["keys"];
  readonly #requireSignature: boolean;
  readonly #requireSignerId: boolean;
  readonly #replay: ReplayGuard | undefined;
  readonly #clock: () => number;
  readonly #windowMs: number;

  constructor(options: VerifierOptions) {
    this.#keys = options.keys;
    this.#requireSignature = options.requireSignature ?? true;
    this.#requireSignerId = options.requireSignerId ?? true;
    this.#clock = options.clock ?? Date.now;
    this.#replay = options.replay === false ? undefined : (options.replay ?? new ReplayGuard({ clock: this.#clock }));
    this.#windowMs = this.#replay?.windowMs ?? DEFAULT_WINDOW_MS;
  }

  /**
   * Verifies a raw received message (parsed losslessly, never a decoded model) sent by the
   * authenticated worker `workerId`. Order (PROTOCOL.md 7.2): timestamp present, timestamp within
   * the window (future too), key lookup, `security` present, signature present, signer id equal to
   * `workerId`, algorithm equal to the configured one, signature valid, not a replay.
   *
   * Throws {@link AuthError} (403, orchestrator texts, `details.reason` one of `missing_timestamp`,
   * `timestamp_expired`, `timestamp_future`, `no_key`, `missing_security`, `missing_signature`,
   * `missing_signer_id`, `signer_mismatch`, `alg_mismatch`, `bad_signature`, `replay`),
   * {@link ValidationError} (400, `bad_timestamp`, `not_object`) for malformed input, or
   * {@link RateLimitError} (429, `replay_sender_capacity`) when the worker used up its own share
   * of the replay guard, or (429, `replay_capacity`) when the guard as a whole is full.
   */
  async verify(message: unknown, ctx: { workerId: string; kind: MessageKind }): Promise<void> {
    if (message === null || typeof message !== "object" || Array.isArray(message)) {
      throw new ValidationError("Message must be a JSON object", [{ path: "", message: "not an object" }], {
        details: { reason: "not_object" },
      });
    }
    const msg = message as Record<string, unknown>;
    const { workerId } = ctx;
    const now = this.#clock();

    const timestamp = readTimestamp(msg.timestamp);
    const window = windowVerdict(timestamp, now, this.#windowMs);
    if (window !== "accepted") {
      // How far the stamp is from this side's clock, for the log: the sender's clock is that far off.
      const skew = Math.trunc(timestamp - Math.floor(now / 1000));
      throw denied("Message timestamp expired (replay protection)", window === "expired" ? "timestamp_expired" : "timestamp_future", { skew_s: skew });
    }

    const lookup = this.#keys(workerId);
    const configured = normalizeKeys(lookup instanceof Promise ? await lookup : lookup);
    if (configured.length === 0 && this.#requireSignature) {
      throw denied("No verification key is configured for this worker", "no_key");
    }

    const security = msg.security;
    const hasSecurity = security !== null && typeof security === "object" && !Array.isArray(security) && Object.keys(security).length > 0;
    const sec = (hasSecurity ? security : {}) as Record<string, unknown>;
    if (configured.length > 0) {
      if (!hasSecurity) throw denied("Missing required security context", "missing_security");
      if (sec.signature === undefined || sec.signature === null || sec.signature === "") {
        throw denied("Missing required cryptographic signature", "missing_signature");
      }
    }
    const signerId = sec.signer_id;
    if (signerId !== undefined && signerId !== null && signerId !== workerId) {
      throw denied(`Message signer ID '${quote(signerId)}' does not match worker ID '${quote(workerId)}'`, "signer_mismatch");
    }
    if (configured.length > 0 && this.#requireSignerId && (signerId === undefined || signerId === null)) {
      throw denied("Missing required signer ID", "missing_signer_id");
    }

    if (configured.length > 0) {
      const ignoreFields = ctx.kind === "event" ? EVENT_IGNORED : NONE;
      const declared = declaredAlgorithm(sec.metadata);
      // A kid only selects among configured Ed25519 keys (rotation); HMAC senders may put anything there.
      const candidates = configured.filter(
        (key) => key.alg === declared.alg && (key.alg !== "ed25519" || declared.kid === undefined || key.kid === declared.kid),
      );
      if (candidates.length === 0) throw denied("Signature algorithm does not match the configured key", "alg_mismatch");
      const signature = sec.signature;
      const valid = candidates.some((key) =>
        key.alg === "hmac-sha256"
          ? verifyHmac(msg, signature, key.secret, { ignoreFields })
          : verifyEd25519(msg, signature, key.publicKey, { ignoreFields }),
      );
      if (!valid) throw denied("Invalid cryptographic signature", "bad_signature");
    }

    if (this.#replay !== undefined) {
      // Keyed by sender too: another worker must not be able to "use up" a message identity it does not own.
      // The worker is charged for what it makes the guard remember: a flood fills its own budget only.
      const verdict = this.#replay.record(`${ctx.kind}\u0000${ctx.workerId}\u0000${replayIdentity(msg)}`, timestamp, now, ctx.workerId);
      if (verdict === "replay") throw replayRefusal();
      if (verdict === "sender_full") {
        throw new RateLimitError("Too many recent messages from this worker to check for replays", this.#replay.retryAfterMs, {
          details: { reason: "replay_sender_capacity" },
        });
      }
      if (verdict === "full") {
        throw new RateLimitError("Too many recent messages to check for replays", 1000, { details: { reason: "replay_capacity" } });
      }
      if (verdict !== "accepted") throw denied("Message timestamp expired (replay protection)", `timestamp_${verdict}`);
    }
  }
}

/** The timestamp as the orchestrator reads it: integers, floats (truncated) and integer strings. */
function readTimestamp(value: unknown): number {
  // Falsy values count as missing, exactly as in the reference (0 and "" included).
  if (value === undefined || value === null || value === 0 || value === 0n || value === "" || value === false) {
    throw denied("Missing required timestamp for replay protection", "missing_timestamp");
  }
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && INTEGER_TEXT.test(value)) return Number(value.trim());
  throw new ValidationError("Invalid timestamp: expected an integer", [{ path: "/timestamp", message: "not an integer" }], {
    details: { reason: "bad_timestamp" },
  });
}

function windowVerdict(timestampSeconds: number, nowMs: number, windowMs: number): "accepted" | "expired" | "future" {
  const delta = Math.floor(nowMs / 1000) - timestampSeconds;
  if (delta * 1000 > windowMs) return "expired";
  if (-delta * 1000 > windowMs) return "future";
  return "accepted";
}

type ResolvedKey = { alg: "hmac-sha256"; secret: string; kid?: undefined } | { alg: "ed25519"; publicKey: Ed25519PublicKey; kid: string };

function normalizeKeys(lookup: SignerKeyLookup): ResolvedKey[] {
  if (lookup === null || lookup === undefined) return [];
  const list = Array.isArray(lookup) ? lookup : [lookup];
  const out: ResolvedKey[] = [];
  for (const key of list) {
    if (key.alg === "hmac-sha256") {
      // An empty secret would verify nothing; treat it as a configuration without this key.
      if (typeof key.secret === "string" && key.secret !== "") out.push({ alg: "hmac-sha256", secret: key.secret });
    } else if (key.alg === "ed25519") {
      let publicKey: Ed25519PublicKey;
      try {
        publicKey = importEd25519PublicKey(key.publicKey);
      } catch (cause) {
        // A broken configuration is the server's fault, not the sender's: 500, without the key.
        throw new RxonError("The verification key configured for this worker is invalid", { status: 500, cause, details: { reason: "bad_key" } });
      }
      out.push({ alg: "ed25519", publicKey, kid: publicKey.kid });
    }
  }
  return out;
}

/** `security.metadata.alg` (absent means HMAC, PROTOCOL.md 7.8) and `kid`, as the message claims them. */
function declaredAlgorithm(metadata: unknown): { alg: string; kid: string | undefined } {
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) return { alg: "hmac-sha256", kid: undefined };
  const { alg, kid } = metadata as { alg?: unknown; kid?: unknown };
  const name = typeof alg === "string" ? alg.toLowerCase() : alg === undefined || alg === null ? "hmac-sha256" : "invalid";
  return { alg: name, kid: typeof kid === "string" ? kid : undefined };
}
