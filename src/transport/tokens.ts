/**
 * The token service (PROTOCOL.md 1.5): refresh token if one is known, else a fresh STS token;
 * only HTTP 200 counts. The access token replaces `X-Worker-Token`; the HMAC secret is not
 * touched (it stays the long-term worker secret, PROTOCOL.md 11 item 31).
 */
import { Endpoint } from "../../generated/constants.js";
import type { TokenResponse } from "../../generated/types.js";
import type { Logger } from "../logger.js";
import { decode } from "../wire/codec.js";
import { parseJson } from "../wire/json.js";
import type { HttpClient, TokenHolder } from "./http-client.js";

/** Holds the current token and refresh token; coalesces concurrent refreshes into one STS call. */
export class TokenService implements TokenHolder {
  private current: string;
  private refreshValue: string | undefined;
  private inflight: Promise<TokenResponse | null> | undefined;
  private client: HttpClient | undefined;

  constructor(
    token: string,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {
    this.current = token;
  }

  /** Late binding: the HTTP client needs the token holder and vice versa. */
  bind(client: HttpClient): void {
    this.client = client;
  }

  /** Current value of `X-Worker-Token`. */
  get token(): string {
    return this.current;
  }

  /** Whether a refresh token is known. */
  get hasRefreshToken(): boolean {
    return this.refreshValue !== undefined;
  }

  /** Adopts an access token (and refresh token, absent = cleared) handed out by the orchestrator. */
  adopt(accessToken: string, refreshToken: string | undefined): void {
    this.current = accessToken;
    this.refreshValue = refreshToken;
  }

  async refresh(signal?: AbortSignal): Promise<boolean> {
    return (await this.obtain(signal)) !== null;
  }

  /**
   * Obtains a new access token; null on any failure (logged, never thrown) except an abort of
   * `signal`, which rejects with its reason. Concurrent callers share one request.
   */
  obtain(signal?: AbortSignal): Promise<TokenResponse | null> {
    this.inflight ??= this.request().finally(() => {
      this.inflight = undefined;
    });
    if (signal === undefined) return this.inflight;
    if (signal.aborted) return Promise.reject(signal.reason);
    const shared = this.inflight;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      shared.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  private async request(): Promise<TokenResponse | null> {
    if (this.refreshValue !== undefined) {
      const refreshed = await this.attempt(this.refreshValue);
      if (refreshed !== "refused") return refreshed;
      // An expired or revoked refresh token is no reason to stay locked out: the worker's own
      // credentials (token or client certificate) can still obtain a fresh one.
      this.refreshValue = undefined;
    }
    const fresh = await this.attempt(undefined);
    return fresh === "refused" ? null : fresh;
  }

  /** The token, "refused" when the orchestrator answered with another status, null on other failures. */
  private async attempt(refresh: string | undefined): Promise<TokenResponse | "refused" | null> {
    const client = this.client;
    if (client === undefined) return null;
    const endpoint = refresh === undefined ? Endpoint.STS_TOKEN : Endpoint.STS_REFRESH;
    try {
      const res = await client.exchange({
        method: "POST",
        endpoint,
        ...(refresh === undefined ? {} : { body: JSON.stringify({ refresh_token: refresh }) }),
        timeoutMs: this.timeoutMs,
        noRefresh: true,
      });
      if (res.status !== 200) {
        this.logger.warn({ endpoint, status: res.status }, "Token request refused");
        return "refused";
      }
      const response = decode("TokenResponse", parseJson(res.bytes), { copy: false });
      this.adopt(response.access_token, response.refresh_token);
      this.logger.info({ endpoint, expires_in: response.expires_in }, "Obtained a new access token");
      return response;
    } catch (error) {
      this.logger.warn({ endpoint, err: error }, "Token request failed");
      return null;
    }
  }
}
