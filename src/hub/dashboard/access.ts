/**
 * Who may use the dashboard: the admin tokens, presented in `X-Client-Token` and compared in
 * constant time (every configured token is compared, digest to digest); and short-lived,
 * single-use tickets for the live stream, so that the long-lived token never travels in a URL
 * (an `EventSource` cannot send headers).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Header } from "../../../generated/constants.js";
import { AuthError, RxonError } from "../../errors.js";
import { trustConnection } from "../../listener/strangers.js";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Options of {@link DashboardAccess}. */
export interface DashboardAccessOptions {
  /** Accepted admin tokens (non-empty strings). */
  adminTokens: readonly string[];
  /** Ticket lifetime, ms. Default 30 000. */
  ticketTtlMs?: number;
  /** Unused tickets kept at most (older ones are dropped first). Default 1000. */
  maxTickets?: number;
  now?: () => number;
}

/** Admin-token checks and stream tickets. */
export class DashboardAccess {
  readonly #digests: readonly Buffer[];
  /** Ticket digest (hex) → expiry. */
  readonly #tickets = new Map<string, number>();
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: DashboardAccessOptions) {
    for (const t of options.adminTokens) {
      if (typeof t !== "string" || t === "") throw new RxonError("Dashboard admin tokens must be non-empty strings", { status: 400 });
    }
    this.#digests = options.adminTokens.map(digest);
    this.#ttl = options.ticketTtlMs ?? 30_000;
    this.#max = options.maxTickets ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** True when at least one admin token is configured. */
  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** Throws AuthError: 401 without a token, 403 with a wrong one. */
  check(req: IncomingMessage): void {
    const presented = req.headers[Header.CLIENT_TOKEN.toLowerCase()];
    if (typeof presented !== "string" || presented === "") {
      throw new AuthError("Missing X-Client-Token", { status: 401, details: { reason: "missing_token" } });
    }
    const d = digest(presented);
    let ok = false;
    for (const known of this.#digests) ok = timingSafeEqual(d, known) || ok;
    if (!ok) throw new AuthError("Invalid admin token", { details: { reason: "bad_token" } });
    trustConnection(req.socket);
  }

  /** A new stream ticket (call only after {@link check} passed). */
  issueTicket(): { ticket: string; expiresInMs: number } {
    this.#purge();
    while (this.#tickets.size >= this.#max) {
      const first = this.#tickets.keys().next();
      if (first.done === true) break;
      this.#tickets.delete(first.value);
    }
    const ticket = randomBytes(32).toString("base64url");
    this.#tickets.set(digest(ticket).toString("hex"), this.#now() + this.#ttl);
    return { ticket, expiresInMs: this.#ttl };
  }

  /** Uses up a ticket: true once for a valid, unexpired one. Looked up by digest, so no secret is compared by value. */
  redeem(ticket: string | null): boolean {
    if (ticket === null || ticket.length === 0 || ticket.length > 128) return false;
    const key = digest(ticket).toString("hex");
    const expires = this.#tickets.get(key);
    if (expires === undefined) return false;
    this.#tickets.delete(key);
    return expires > this.#now();
  }

  #purge(): void {
    const now = this.#now();
    for (const [k, exp] of this.#tickets) if (exp <= now) this.#tickets.delete(k);
  }
}
