/**
 * `RedisStore` over TLS (`rediss://`) to a redis-server serving TLS with a certificate made in the
 * test: it serves when told the CA (the store's `redisOptions.tls`, or Node's
 * `NODE_EXTRA_CA_CERTS` for an `rxon hub` process), and when the certificate cannot be verified,
 * `ping()` (and with it `rxon hub` at start) says why instead of a bare timeout.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import { freePort, requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { makeCerts } from "../transport/certs.js";
import { hubUrl, start, stop, type Proc } from "../e2e/procs.js";

const available = requireRedis("RedisStore over TLS");

describe.skipIf(!available)("RedisStore over TLS (rediss://)", () => {
  const certs = makeCerts();
  const dir = mkdtempSync(join(tmpdir(), "rxon-redis-tls-"));
  let redis: RedisServer;
  let url: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    for (const [name, text] of [["ca.crt", certs.ca], ["server.crt", certs.serverCert], ["server.key", certs.serverKey]] as const) writeFileSync(join(dir, name), text);
    const tlsPort = await freePort();
    redis = await startRedis({
      extraArgs: ["--tls-port", String(tlsPort), "--tls-cert-file", join(dir, "server.crt"), "--tls-key-file", join(dir, "server.key"), "--tls-ca-cert-file", join(dir, "ca.crt"), "--tls-auth-clients", "no"],
    });
    url = `rediss://127.0.0.1:${tlsPort}/0`;
  });
  afterAll(async () => {
    for (const p of procs) await stop(p);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves when given the CA, and names the certificate error when it cannot verify the server", async () => {
    const trusted = new RedisStore({ url, prefix: "tls", redisOptions: { tls: { ca: certs.ca } } });
    const hub = new Hub({ store: trusted });
    try {
      await trusted.ping();
      const handle = await hub.submit({ type: "echo", params: { message: "over TLS" } });
      expect(await trusted.getJob(handle.jobId)).toMatchObject({ state: "waiting_for_worker", params: { message: "over TLS" } });
    } finally {
      await hub.close();
      await trusted.close();
    }
    const untrusted = new RedisStore({ url, prefix: "tls", pingTimeoutMs: 1500 });
    try {
      const err = (await untrusted.ping().catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(/did not answer PING within 1500 ms \(last connection error: .*certificate/);
    } finally {
      await untrusted.close();
    }
  });

  it("rxon hub --store rediss:// runs with the CA in NODE_EXTRA_CA_CERTS, and says why it cannot start without it", async () => {
    const hub = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--store", url], { NODE_EXTRA_CA_CERTS: join(dir, "ca.crt") });
    procs.push(hub);
    expect(await hubUrl(hub)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const refused = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--store", url]);
    procs.push(refused);
    expect(await refused.exited).toBe(1);
    expect(refused.stderr.join("\n")).toMatch(/cannot reach the store at rediss:\/\/127\.0\.0\.1:\d+\/0: .*last connection error: .*certificate/);
  }, 60_000);
});
