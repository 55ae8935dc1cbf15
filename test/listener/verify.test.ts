import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListenerContext } from "../../src/listener/index.js";
import { generateEd25519KeyPair, MessageVerifier, signMessage, type SignerKey } from "../../src/security/index.js";
import { call, start, type Started } from "./helpers.js";

const HMAC_WORKER = "w-hmac";
const ED_WORKER = "w-ed";
const SECRET = "hmac-secret-1";
const ed = generateEd25519KeyPair();

const keys = (id: string): SignerKey | null =>
  id === HMAC_WORKER ? { alg: "hmac-sha256", secret: SECRET } : id === ED_WORKER ? { alg: "ed25519", publicKey: ed.publicKey } : null;

let counter = 0;
const result = (workerId: string, extra: object = {}) => ({ job_id: "j", task_id: `t-${++counter}`, worker_id: workerId, status: "success", ...extra });

describe("verification layer", () => {
  let s: Started;
  const contexts: ListenerContext[] = [];

  beforeAll(async () => {
    s = await start({
      handler: (_action, _payload, context) => {
        contexts.push(context);
        return undefined;
      },
      verify: { keys },
    });
  });
  afterAll(() => s.stop());

  const last = () => contexts[contexts.length - 1]!;

  it("accepts HMAC and Ed25519 signatures per the configured key and sets verifiedWorkerId", async () => {
    const h = await call(s.base, "POST", "/_worker/tasks/result", signMessage(result(HMAC_WORKER), { secret: SECRET, signerId: HMAC_WORKER }));
    expect(h.status).toBe(200);
    expect(last().verifiedWorkerId).toBe(HMAC_WORKER);
    const e = await call(s.base, "POST", "/_worker/tasks/result", signMessage(result(ED_WORKER), { ed25519Key: ed.privateKey, signerId: ED_WORKER }));
    expect(e.status).toBe(200);
    expect(last().verifiedWorkerId).toBe(ED_WORKER);
  });

  it("refuses a downgrade to HMAC for an Ed25519 worker, unknown workers and foreign signers", async () => {
    const down = await call(s.base, "POST", "/_worker/tasks/result", signMessage(result(ED_WORKER), { secret: "guess", signerId: ED_WORKER }));
    expect(down.status).toBe(403);
    expect((down.json as { error: string }).error).toBe("Signature algorithm does not match the configured key");
    const unknown = await call(s.base, "POST", "/_worker/tasks/result", signMessage(result("w-x"), { secret: SECRET, signerId: "w-x" }));
    expect((unknown.json as { error: string }).error).toBe("No verification key is configured for this worker");
    const foreign = await call(s.base, "POST", "/_worker/tasks/result", signMessage(result(HMAC_WORKER), { secret: SECRET, signerId: "w-other" }));
    expect(foreign.status).toBe(403);
    expect((foreign.json as { error: string }).error).toBe("Message signer ID 'w-other' does not match worker ID 'w-hmac'");
  });

  it("heartbeats are signed by the path id; the body may not name another worker", async () => {
    const beat = signMessage({ worker_id: HMAC_WORKER, status: "idle" }, { secret: SECRET, signerId: HMAC_WORKER });
    expect((await call(s.base, "PATCH", `/_worker/workers/${HMAC_WORKER}`, beat)).status).toBe(200);
    expect(last().verifiedWorkerId).toBe(HMAC_WORKER);
    const elsewhere = await call(s.base, "PATCH", `/_worker/workers/${ED_WORKER}`, signMessage({ worker_id: HMAC_WORKER, status: "busy" }, { secret: SECRET, signerId: HMAC_WORKER }));
    expect([elsewhere.status, (elsewhere.json as { error: string }).error]).toEqual([403, "Immediate sender ID mismatch"]);
    // An empty heartbeat carries no message: nothing to verify.
    expect((await call(s.base, "PATCH", `/_worker/workers/${HMAC_WORKER}`)).status).toBe(200);
    expect(last().verifiedWorkerId).toBeUndefined();
  });

  it("the claimed sender (X-Worker-ID) must be the body's worker; a result without worker_id is the sender's", async () => {
    const reg = signMessage({ worker_id: HMAC_WORKER }, { secret: SECRET, signerId: HMAC_WORKER });
    const r = await call(s.base, "POST", "/_worker/workers/register", reg, { "X-Worker-ID": ED_WORKER });
    expect([r.status, (r.json as { error: string }).error]).toEqual([403, "Immediate sender ID mismatch"]);
    const anon = { job_id: "j", task_id: "t-anon", status: "success" };
    const signed = signMessage(anon, { secret: SECRET, signerId: HMAC_WORKER });
    expect((await call(s.base, "POST", "/_worker/tasks/result", signed, { "X-Worker-ID": HMAC_WORKER })).status).toBe(200);
    expect(last().verifiedWorkerId).toBe(HMAC_WORKER);
    const nobody = await call(s.base, "POST", "/_worker/tasks/result", signMessage({ ...anon, task_id: "t-anon-2" }, { secret: SECRET, signerId: HMAC_WORKER }));
    expect(nobody.status).toBe(400);
  });

  it("poll, token and refresh carry no signed message and are not verified", async () => {
    expect((await call(s.base, "GET", "/_worker/workers/w-x/tasks/next")).status).toBe(204);
    expect((await call(s.base, "POST", "/_worker/auth/token")).status).toBe(200);
    expect((await call(s.base, "POST", "/_worker/auth/token/refresh", { refresh_token: "r" })).status).toBe(200);
  });
});

describe("verification layer, tolerant mode and ready verifiers", () => {
  it("requireSignature: false lets keyless workers through unauthenticated, never keyed ones unsigned", async () => {
    const contexts: ListenerContext[] = [];
    const s = await start({ handler: (_a, _p, c) => void contexts.push(c), verify: { keys, requireSignature: false } });
    try {
      const open = await call(s.base, "POST", "/_worker/tasks/result", result("w-free", { timestamp: Math.floor(Date.now() / 1000) }));
      expect(open.status).toBe(200);
      expect(contexts.at(-1)!.verifiedWorkerId).toBeUndefined();
      const keyed = await call(s.base, "POST", "/_worker/tasks/result", result(HMAC_WORKER, { timestamp: Math.floor(Date.now() / 1000) }));
      expect([keyed.status, (keyed.json as { error: string }).error]).toEqual([403, "Missing required security context"]);
      const signed = await call(s.base, "POST", "/_worker/tasks/result", signMessage(result(HMAC_WORKER), { secret: SECRET, signerId: HMAC_WORKER }));
      expect(signed.status).toBe(200);
      expect(contexts.at(-1)!.verifiedWorkerId).toBe(HMAC_WORKER);
    } finally {
      await s.stop();
    }
  });

  it("uses a ready MessageVerifier (with its clock)", async () => {
    const verifier = new MessageVerifier({ keys, clock: () => 1_700_000_000_000 });
    const s = await start({ handler: () => undefined, verify: { verifier } });
    try {
      const old = signMessage(result(HMAC_WORKER), { secret: SECRET, signerId: HMAC_WORKER, now: 1_700_000_010_000 });
      expect((await call(s.base, "POST", "/_worker/tasks/result", old)).status).toBe(200);
      const now = signMessage(result(HMAC_WORKER), { secret: SECRET, signerId: HMAC_WORKER });
      expect((await call(s.base, "POST", "/_worker/tasks/result", now)).status).toBe(403);
    } finally {
      await s.stop();
    }
  });
});
