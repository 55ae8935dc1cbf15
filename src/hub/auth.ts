/**
 * Who is calling: worker tokens (individual and global), STS access tokens, client certificates;
 * and which key verifies a worker's signatures. PROTOCOL.md 7.1 in the orchestrator's order, minus
 * its weaknesses: no `ghost` bypass, no anonymous global-token identity (11: 16), refresh tokens
 * are single-use (11: 18).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Endpoint } from "../../generated/constants.js";
import type { TokenResponse } from "../../generated/types.js";
import { isValidIdentifier } from "../contracts/identifiers.js";
import { AuthError, ValidationError } from "../errors.js";
import type { HttpAction } from "../listener/routes.js";
import { pathOf } from "../listener/routes.js";
import type { ListenerContext } from "../listener/types.js";
import type { SignerKey, SignerKeyLookup } from "../security/index.js";
import type { HubStore } from "./store.js";
import { isPromise } from "./flow.js";
import type { HubAuthOptions } from "./types.js";


/** SHA-256 hex of a token: only hashes of STS tokens are stored. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function digestOf(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** The worker id a client certificate proves (its CN), if any; refuses a request naming another id. */
function certifiedId(ctx: ListenerContext, hint: string | null): string | undefined {
  const cn = ctx.certIdentity?.commonName;
  if (typeof cn !== "string" || cn === "") return undefined;
  if (hint !== null && hint !== cn) throw refuse(`Unauthorized: Certificate CN '${cn.slice(0, 64)}' does not match worker_id`, "cn_mismatch");
  return cn;
}

/** Compares two secrets in time independent of where they differ (and of their lengths). */
export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

function refuse(message: string, reason: string): AuthError {
  return new AuthError(message, { details: { reason } });
}

/**
 * Whether the request is `POST /_worker/auth/token`, the route that mints STS tokens: there an
 * access token is never a credential, whoever calls {@link HubAuth.authenticate}.
 */
export function isMintRequest(ctx: ListenerContext): boolean {
  const req = ctx.rawRequest as Partial<ListenerContext["rawRequest"]> | undefined;
  return req?.method === "POST" && typeof req.url === "string" && pathOf(req.url).path === Endpoint.STS_TOKEN;
}

function accessTokenCannotMint(): AuthError {
  return refuse("Unauthorized: an access token cannot mint tokens; use the refresh token or the long-term credential", "access_token_mint");
}

/** Authentication and key lookup of a hub. */
export class HubAuth {
  readonly #tokens: ReadonlyMap<string, string>;
  readonly #global: string | undefined;
  /**
   * SHA-256 digests of the configured secrets, computed once: a presented token is hashed once
   * per request (that digest is also its STS lookup key) and compared digest to digest, in
   * constant time.
   */
  readonly #tokenDigests: ReadonlyMap<string, Buffer>;
  /** The digest of the token last presented on each connection (see `#presented`). */
  readonly #presentedBy = new WeakMap<object, { readonly token: string; readonly digest: Buffer }>();
  readonly #globalDigest: Buffer | undefined;
  /** Hex digests of every individual token, for the pre-check of requests that name their worker only in the body. */
  readonly #anyTokenDigest: ReadonlySet<string>;
  readonly #ed25519: ReadonlyMap<string, SignerKey>;
  readonly #store: HubStore;
  readonly #now: () => number;
  readonly #accessTtl: number;
  readonly #refreshTtl: number;
  /** True when no credential is configured and anonymous workers are allowed. */
  readonly open: boolean;
  /** Whether message signatures and timestamps are checked. */
  readonly verifySignatures: boolean;

  constructor(options: HubAuthOptions, store: HubStore, now: () => number) {
    const tokens = options.tokens instanceof Map ? options.tokens : new Map(Object.entries(options.tokens ?? {}));
    for (const [id, secret] of tokens) {
      if (typeof secret !== "string" || secret === "") throw new ValidationError(`Empty token for worker ${id}`);
    }
    this.#tokens = tokens as ReadonlyMap<string, string>;
    this.#global = options.globalToken === "" ? undefined : options.globalToken;
    this.#tokenDigests = new Map([...this.#tokens].map(([id, secret]) => [id, digestOf(secret)]));
    this.#globalDigest = this.#global === undefined ? undefined : digestOf(this.#global);
    this.#anyTokenDigest = new Set([...this.#tokenDigests.values()].map((d) => d.toString("hex")));
    this.#ed25519 = new Map(
      Object.entries(options.ed25519Keys ?? {}).map(([id, key]) => [id, { alg: "ed25519", publicKey: key } as SignerKey]),
    );
    this.#store = store;
    this.#now = now;
    this.#accessTtl = options.accessTokenTtlSeconds ?? 3600;
    this.#refreshTtl = options.refreshTokenTtlSeconds ?? 86_400;
    const hasCredentials = this.#tokens.size > 0 || this.#global !== undefined;
    this.open = !hasCredentials && (options.allowAnonymous ?? true);
    this.verifySignatures = options.verifySignatures ?? hasCredentials;
  }

  /**
   * The authenticated worker id of a request. `claimedId` is the id the message names (payload
   * `worker_id`), used when neither the path nor `X-Worker-ID` gives one. Throws AuthError (403).
   * On the minting route (`POST /_worker/auth/token`) an STS access token is refused: only the
   * long-term credential or a certificate may mint (see {@link authenticateLongTerm}).
   */
  async authenticate(ctx: ListenerContext, claimedId?: string | null): Promise<string> {
    return this.#authenticate(ctx, claimedId, !isMintRequest(ctx));
  }

  /**
   * As {@link authenticate}, but an STS access token is never accepted: for minting tokens
   * (`sts_token`). Otherwise a stolen one-hour access token could renew itself forever; renewal
   * goes through the single-use refresh token ({@link refresh}).
   */
  async authenticateLongTerm(ctx: ListenerContext, claimedId?: string | null): Promise<string> {
    return this.#authenticate(ctx, claimedId, false);
  }

  /**
   * The cheap check run by the listener's `authenticate` hook once the headers arrived, before
   * the body is read or decoded: a request without any valid credential is refused (403) at the
   * cost of its headers, so a stranger's large body is never parsed nor answered with its
   * problems. Worker ids named only in the body cannot be checked yet; {@link authenticate}
   * still runs in full on the decoded message. `sts_refresh` passes (its credential is the
   * refresh token in the body). Resolves with the worker id when the headers already prove it
   * (the listener's rate limit counts it), else undefined. Throws AuthError, or ValidationError
   * for a malformed id header.
   */
  async preAuthenticate(action: HttpAction, ctx: ListenerContext): Promise<string | undefined> {
    if (action === "sts_refresh") return undefined;
    const hint = this.#checkedHint(ctx, null);
    const cn = certifiedId(ctx, hint);
    if (cn !== undefined) return cn;
    const token = ctx.token;
    if (token === null || token === "") {
      // Anonymous workers name themselves: nothing is proven, nothing to count yet.
      if (this.open) return undefined;
      throw refuse("Unauthorized: Missing X-Worker-Token header or client certificate.", "missing_token");
    }
    const presented = this.#presented(ctx, token);
    // The worker's own long-term credential answers without the store's token lookup.
    if (hint !== null && this.#isLongTermOf(presented, hint)) return this.open ? undefined : hint;
    const sts = await this.#liveAccess(presented);
    if (sts !== undefined) {
      if (action === "sts_token") throw accessTokenCannotMint();
      if (hint !== null && hint !== sts) throw refuse("Unauthorized: token belongs to another worker", "owner_mismatch");
      return sts;
    }
    if (hint !== null) {
      const id = this.#longTerm(presented, hint);
      // Without credentials configured any token "passes": nothing proven.
      return this.open ? undefined : id;
    }
    // No id yet: any configured credential lets the body be read; the full check follows.
    if (this.#globalDigest !== undefined && timingSafeEqual(presented, this.#globalDigest)) return undefined;
    if (this.#anyTokenDigest.has(presented.toString("hex")) || this.open) return undefined;
    throw refuse("Unauthorized: No valid token found", "bad_token");
  }

  async #authenticate(ctx: ListenerContext, claimedId: string | null | undefined, allowAccess: boolean): Promise<string> {
    const hint = this.#checkedHint(ctx, claimedId);
    const cn = certifiedId(ctx, hint);
    if (cn !== undefined) return cn;
    const token = ctx.token;
    if (token === null || token === "") {
      if (this.open && hint !== null) return hint;
      throw refuse("Unauthorized: Missing X-Worker-Token header or client certificate.", "missing_token");
    }
    const presented = this.#presented(ctx, token);
    if (hint !== null && this.#isLongTermOf(presented, hint)) return hint;
    const sts = await this.#liveAccess(presented);
    if (sts !== undefined) {
      if (!allowAccess) throw accessTokenCannotMint();
      if (hint !== null && hint !== sts) throw refuse("Unauthorized: token belongs to another worker", "owner_mismatch");
      return sts;
    }
    if (hint === null) throw refuse("Unauthorized: Missing X-Worker-ID header", "missing_worker_id");
    return this.#longTerm(presented, hint);
  }

  /**
   * The digest of the token a request presents, computed once per request: the check before its
   * body is read and the full one after both need it (keyed by the request object, never by the secret).
   */
  #presented(ctx: ListenerContext, token: string): Buffer {
    const req = ctx.rawRequest as { socket?: object } | undefined;
    if (req === undefined || req === null) return digestOf(token);
    // Per connection: a keep-alive connection presenting the token of its previous request reuses
    // its digest (both strings are the client's own, so comparing them tells it nothing).
    const key = req.socket ?? req;
    const known = this.#presentedBy.get(key);
    if (known !== undefined && known.token === token) return known.digest;
    const digest = digestOf(token);
    this.#presentedBy.set(key, { token, digest });
    return digest;
  }

  /** The id the request names (path or `X-Worker-ID`, else `claimedId`), checked to be an identifier. */
  #checkedHint(ctx: ListenerContext, claimedId: string | null | undefined): string | null {
    const hint = ctx.workerIdHint ?? (typeof claimedId === "string" ? claimedId : null);
    // Worker ids are identifiers (PROTOCOL.md 10.3), at most 128 characters.
    if (hint !== null && !isValidIdentifier(hint, 128)) {
      throw new ValidationError(`Invalid worker_id: '${String(hint).slice(0, 64)}'. Must be alphanumeric, underscores, or hyphens only.`, [
        { path: "/worker_id", message: "not an identifier" },
      ]);
    }
    return hint;
  }

  /** The worker of a live STS access token with this digest, else undefined. */
  async #liveAccess(presented: Buffer): Promise<string | undefined> {
    const lookup = this.#store.getToken(presented.toString("hex"));
    const sts = isPromise(lookup) ? await lookup : lookup;
    return sts !== undefined && sts.kind === "access" && sts.expiresAt > this.#now() ? sts.workerId : undefined;
  }

  /**
   * True when `presented` is `hint`'s long-term credential: its individual token, or the global
   * token when it has none (the same rule as {@link #longTerm}, constant time). A request that
   * proves itself so needs no lookup of STS access tokens, which costs a store read (a Redis round
   * trip) per request; an access token can never equal a configured secret.
   */
  #isLongTermOf(presented: Buffer, hint: string): boolean {
    const individual = this.#tokenDigests.get(hint);
    if (individual !== undefined) return timingSafeEqual(presented, individual);
    return this.#globalDigest !== undefined && timingSafeEqual(presented, this.#globalDigest);
  }

  /** Checks a long-term credential (individual, else global token) for `hint`; returns `hint` or throws. */
  #longTerm(presented: Buffer, hint: string): string {
    const individual = this.#tokenDigests.get(hint);
    if (individual !== undefined) {
      if (timingSafeEqual(presented, individual)) return hint;
      throw refuse("Unauthorized: Invalid individual worker token", "bad_token");
    }
    if (this.#globalDigest !== undefined && timingSafeEqual(presented, this.#globalDigest)) return hint;
    if (this.open) return hint;
    throw refuse("Unauthorized: No valid token found", "bad_token");
  }

  /** Verification keys of a worker: its Ed25519 public key if configured, else its long-term secret. */
  keysFor(workerId: string): SignerKeyLookup {
    const ed = this.#ed25519.get(workerId);
    if (ed !== undefined) return ed;
    const secret = this.#tokens.get(workerId) ?? this.#global;
    return secret === undefined ? null : { alg: "hmac-sha256", secret };
  }

  /** Issues a fresh access and refresh token for an authenticated worker. */
  async issue(workerId: string): Promise<TokenResponse> {
    const now = this.#now();
    const access = randomBytes(32).toString("base64url");
    const refresh = randomBytes(32).toString("base64url");
    await this.#store.putToken(tokenHash(access), { kind: "access", workerId, expiresAt: now + this.#accessTtl * 1000 });
    await this.#store.putToken(tokenHash(refresh), { kind: "refresh", workerId, expiresAt: now + this.#refreshTtl * 1000 });
    return { access_token: access, refresh_token: refresh, expires_in: this.#accessTtl, worker_id: workerId };
  }

  /** Exchanges a refresh token (single use: it is revoked) for new tokens. */
  async refresh(refreshToken: string, workerId: string | null): Promise<TokenResponse> {
    if (typeof refreshToken !== "string" || refreshToken === "") {
      throw new ValidationError("Missing refresh_token in payload", [{ path: "/refresh_token", message: "required" }]);
    }
    if (workerId === null) throw new ValidationError("Missing worker_id identification", [{ path: "/worker_id", message: "required" }]);
    const hash = tokenHash(refreshToken);
    const record = await this.#store.getToken(hash);
    if (record === undefined || record.kind !== "refresh" || record.expiresAt <= this.#now()) {
      throw refuse("Unauthorized: Invalid refresh token (not found)", "bad_refresh_token");
    }
    if (record.workerId !== workerId) throw refuse("Unauthorized: Invalid refresh token (owner mismatch)", "owner_mismatch");
    // Single use across hubs: of two concurrent exchanges only one takes the token out.
    if ((await this.#store.consumeToken(hash)) === undefined) throw refuse("Unauthorized: Invalid refresh token (already used)", "bad_refresh_token");
    return this.issue(workerId);
  }
}
