/**
 * Issue 12 item 5: only the long-term credential (or a certificate) mints STS tokens; an access
 * token is refused at `POST /_worker/auth/token`, renewal goes through the single-use refresh token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, HubAuth, MemoryStore, type HubServer } from "../../src/hub/index.js";
import { call } from "../listener/helpers.js";
import { ctx } from "../hub/helpers.js";

const SECRET = "long-term-secret-w1";
type Tokens = { access_token: string; refresh_token: string };

describe("STS minting", () => {
  let hub: Hub;
  let server: HubServer;
  beforeAll(async () => {
    hub = new Hub({ auth: { tokens: { "w-1": SECRET }, globalToken: "fleet-secret" } });
    server = await hub.listen({ port: 0 });
  });
  afterAll(() => hub.close());

  const mint = (token: string, id = "w-1") => call(server.url, "POST", "/_worker/auth/token", undefined, { "x-worker-token": token, "x-worker-id": id });

  it("mints with the long-term token, refuses chained minting with the access token", async () => {
    const first = await mint(SECRET);
    expect(first.status).toBe(200);
    let access = (first.json as Tokens).access_token;
    // The access token works as a credential for other routes (authenticated: the hub answers that
    // this never-registered worker is unknown, not that the token is refused)…
    const beat = await call(server.url, "PATCH", "/_worker/workers/w-1", undefined, { "x-worker-token": access, "x-worker-id": "w-1" });
    expect(beat.status).toBe(404);
    const wrong = await call(server.url, "PATCH", "/_worker/workers/w-1", undefined, { "x-worker-token": "not-a-token", "x-worker-id": "w-1" });
    expect(wrong.status).toBe(403);
    // …but never mints: a stolen one-hour token cannot renew itself (tried 20 times in a chain before).
    for (let i = 0; i < 3; i++) {
      const chained = await mint(access);
      expect(chained.status).toBe(403);
      expect(chained.text.length).toBeLessThan(300);
      expect(chained.json).toMatchObject({ code: "SECURITY_ERROR" });
      if (chained.status === 200) access = (chained.json as Tokens).access_token;
    }
    // The global token is a long-term credential too.
    expect((await mint("fleet-secret", "w-2")).status).toBe(200);
  });

  it("refresh stays the way to renew, once per refresh token", async () => {
    const tokens = (await mint(SECRET)).json as Tokens;
    const renewed = await call(server.url, "POST", "/_worker/auth/token/refresh", { refresh_token: tokens.refresh_token }, { "x-worker-id": "w-1" });
    expect(renewed.status).toBe(200);
    const again = await call(server.url, "POST", "/_worker/auth/token/refresh", { refresh_token: tokens.refresh_token }, { "x-worker-id": "w-1" });
    expect(again.status).toBe(403);
  });

  it("HubAuth: authenticateLongTerm and preAuthenticate('sts_token') refuse access tokens", async () => {
    const store = new MemoryStore();
    const auth = new HubAuth({ tokens: { "w-1": SECRET } }, store, Date.now);
    const { access_token } = await auth.issue("w-1");
    expect(await auth.authenticate(ctx("w-1", null, { token: access_token }))).toBe("w-1");
    await expect(auth.authenticateLongTerm(ctx("w-1", null, { token: access_token }))).rejects.toMatchObject({ status: 403, details: { reason: "access_token_mint" } });
    expect(await auth.authenticateLongTerm(ctx("w-1", null, { token: SECRET }))).toBe("w-1");
    await expect(auth.preAuthenticate("sts_token", ctx("w-1", null, { token: access_token }))).rejects.toMatchObject({ details: { reason: "access_token_mint" } });
    await expect(auth.preAuthenticate("result", ctx("w-1", null, { token: access_token }))).resolves.toBe("w-1");
  });
});
