import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateEd25519KeyPair, verifyEd25519 } from "../../src/security/ed25519.js";
import { verifyHmac } from "../../src/security/hmac.js";
import { createTransport, type HttpTransport } from "../../src/transport/index.js";
import { parseJson } from "../../src/wire/json.js";
import { result } from "./helpers.js";
import { TestServer } from "./server.js";

let server: TestServer;
let t: HttpTransport;
const SECRET = "long-term-worker-secret";
const NOW = Date.parse("2026-03-01T12:00:00.750Z");

beforeEach(async () => {
  // A server whose clock agrees with the transport's: the stamps are the transport's clock.
  server = await new TestServer({ tokens: new Set([SECRET]), now: () => NOW }).start();
  t = createTransport(server.url, "w1", SECRET, { secret: SECRET, clock: () => NOW }) as HttpTransport;
});

afterEach(async () => {
  await t.close();
  await server.stop();
});

/** The received body, parsed losslessly as a verifier does. */
const bodyOf = (route: Parameters<TestServer["routeRequests"]>[0], i = 0): Record<string, unknown> =>
  parseJson(server.routeRequests(route)[i]!.body) as Record<string, unknown>;

describe("signed messages", () => {
  it("register, heartbeat and result verify with verifyHmac over the body as received", async () => {
    await t.register({ worker_id: "w1", supported_skills: [{ name: "echo", version: "1.0" }] });
    await t.sendHeartbeat({ worker_id: "w1", status: "idle", usage: { cpu_load_percent: 12.5, ram_used_gb: 3.0 }, current_tasks: [] });
    await t.sendResult(result("1"));
    for (const route of ["register", "heartbeat", "result"] as const) {
      const body = bodyOf(route);
      expect(body.timestamp).toBe(Math.floor(NOW / 1000));
      const security = body.security as { signature: string; signer_id: string };
      expect(security.signer_id).toBe("w1");
      expect(verifyHmac(body, security.signature, SECRET)).toBe(true);
      // Any change to a signed member breaks it; `security` itself is not signed.
      expect(verifyHmac({ ...body, worker_id: "w2" }, security.signature, SECRET)).toBe(false);
      expect(verifyHmac(body, security.signature, "another-secret")).toBe(false);
    }
  });

  it("events leave bubbling_chain out of the signature", async () => {
    const event = {
      event_id: "e-1",
      worker_id: "w1",
      origin_worker_id: "w1",
      event_type: "progress",
      payload: { progress: 0.5, message: "half" },
      bubbling_chain: ["proxy-1"],
      target_job_id: "job-1",
    };
    expect(await t.emitEvent(event)).toBe(true);
    const body = bodyOf("event");
    const { signature } = body.security as { signature: string };
    expect(verifyHmac(body, signature, SECRET, { ignoreFields: ["bubbling_chain"] })).toBe(true);
    expect(verifyHmac({ ...body, bubbling_chain: ["other"] }, signature, SECRET, { ignoreFields: ["bubbling_chain"] })).toBe(true);
    expect(verifyHmac(body, signature, SECRET)).toBe(false);
  });

  it("the body is the canonical text of the signed object", async () => {
    await t.sendHeartbeat({ worker_id: "w1", status: "idle", usage: { cpu_load_percent: 12.5, ram_used_gb: 3.0 } });
    const text = server.routeRequests("heartbeat")[0]!.body;
    expect(text.startsWith('{"security":{"signature":"')).toBe(true);
    expect(text).toContain('"usage":{"cpu_load_percent":12.5,"ram_used_gb":3}');
    expect(text).not.toMatch(/\s/);
  });

  it("keeps signing with the long-term secret after the token is refreshed", async () => {
    await t.refreshToken();
    expect(t.token).toBe("access-1");
    await t.sendResult(result("2"));
    const req = server.routeRequests("result")[0]!;
    expect(req.headers["x-worker-token"]).toBe("access-1");
    const body = parseJson(req.body) as Record<string, unknown>;
    expect(verifyHmac(body, (body.security as { signature: string }).signature, SECRET)).toBe(true);
    expect(verifyHmac(body, (body.security as { signature: string }).signature, "access-1")).toBe(false);
  });

  it("replaces a caller-supplied timestamp and security", async () => {
    await t.sendResult({ ...result("3"), timestamp: 5, security: { signature: "forged", signer_id: "mallory" } });
    const body = bodyOf("result");
    expect(body.timestamp).toBe(Math.floor(NOW / 1000));
    expect((body.security as { signer_id: string }).signer_id).toBe("w1");
  });

  it("stamps a timestamp without signing when no secret is given", async () => {
    const plain = createTransport(server.url, "w1", SECRET, { clock: () => NOW });
    await plain.sendHeartbeat({ worker_id: "w1", status: "idle" });
    await plain.close();
    const body = bodyOf("heartbeat");
    expect(body).toEqual({ worker_id: "w1", status: "idle", timestamp: Math.floor(NOW / 1000) });
  });

  it("signs with Ed25519 when a key is given", async () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const ed = createTransport(server.url, "w1", SECRET, { ed25519Key: privateKey, clock: () => NOW });
    await ed.sendHeartbeat({ worker_id: "w1", status: "idle" });
    await ed.close();
    const body = bodyOf("heartbeat");
    const security = body.security as { signature: string; metadata: { alg: string } };
    expect(security.metadata.alg).toBe("ed25519");
    expect(verifyEd25519(body, security.signature, publicKey)).toBe(true);
  });
});
