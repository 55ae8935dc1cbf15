import { describe, expect, it } from "vitest";
import { HubAuth, MemoryStore, tokenHash } from "../../src/hub/index.js";
import { AuthError } from "../../src/errors.js";
import { ctx } from "./helpers.js";

describe("hub authentication", () => {
  const store = new MemoryStore();
  const auth = new HubAuth({ tokens: { "cpu-1": "s-cpu-1" }, globalToken: "fleet-secret" }, store, Date.now);

  it("accepts a worker's own token, the global token and a live STS access token", async () => {
    expect(await auth.authenticate(ctx("cpu-1", null, { token: "s-cpu-1" }))).toBe("cpu-1");
    expect(await auth.authenticate(ctx("gpu-9", null, { token: "fleet-secret" }))).toBe("gpu-9");
    store.putToken(tokenHash("sts-access"), { kind: "access", workerId: "gpu-9", expiresAt: Date.now() + 60_000 });
    expect(await auth.authenticate(ctx(null, null, { token: "sts-access", hint: null }))).toBe("gpu-9");
  });

  it("refuses near misses: a prefix, an extension, another worker's token, the global token for a worker with its own", async () => {
    for (const token of ["s-cpu-", "s-cpu-1 ", "s-cpu-1x", "fleet-secre", "fleet-secret!"]) {
      await expect(auth.authenticate(ctx("cpu-1", null, { token }))).rejects.toBeInstanceOf(AuthError);
      await expect(auth.authenticate(ctx("gpu-9", null, { token }))).rejects.toBeInstanceOf(AuthError);
    }
    await expect(auth.authenticate(ctx("gpu-9", null, { token: "s-cpu-1" }))).rejects.toMatchObject({ details: { reason: "bad_token" } });
    await expect(auth.authenticate(ctx("cpu-1", null, { token: "fleet-secret" }))).rejects.toMatchObject({ details: { reason: "bad_token" } });
  });

  it("proves a long-term credential without the store's token lookup; an access token named with a worker id still passes", async () => {
    const counted = new MemoryStore();
    let lookups = 0;
    const getToken = counted.getToken.bind(counted);
    counted.getToken = (hash: string) => (lookups++, getToken(hash));
    const a = new HubAuth({ tokens: { "cpu-1": "s-cpu-1" }, globalToken: "fleet-secret" }, counted, Date.now);
    expect(await a.authenticate(ctx("cpu-1", null, { token: "s-cpu-1" }))).toBe("cpu-1");
    expect(await a.preAuthenticate("poll", ctx("cpu-1", null, { token: "s-cpu-1" }))).toBe("cpu-1");
    expect(await a.authenticate(ctx("gpu-9", null, { token: "fleet-secret" }))).toBe("gpu-9");
    expect(lookups).toBe(0);
    // Not the worker's own secret: the access tokens are looked up, as before.
    counted.putToken(tokenHash("sts-cpu-1"), { kind: "access", workerId: "cpu-1", expiresAt: Date.now() + 60_000 });
    expect(await a.authenticate(ctx("cpu-1", null, { token: "sts-cpu-1" }))).toBe("cpu-1");
    expect(await a.preAuthenticate("poll", ctx("cpu-1", null, { token: "sts-cpu-1" }))).toBe("cpu-1");
    await expect(a.authenticate(ctx("cpu-1", null, { token: "s-cpu-2" }))).rejects.toMatchObject({ details: { reason: "bad_token" } });
    expect(lookups).toBe(3);
  });
});
