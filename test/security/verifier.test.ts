import { describe, expect, it } from "vitest";
import { AuthError, RateLimitError } from "../../src/errors.js";
import { generateEd25519KeyPair } from "../../src/security/ed25519.js";
import { signHmac } from "../../src/security/hmac.js";
import { ReplayGuard } from "../../src/security/replay.js";
import { signMessage } from "../../src/security/sign-message.js";
import { MessageVerifier, type SignerKey, type VerifierOptions } from "../../src/security/verifier.js";
import { parseJson } from "../../src/wire/json.js";

const NOW = 1_700_000_000_000;
const clock = (): number => NOW;
const hmacKey: SignerKey = { alg: "hmac-sha256", secret: "worker-token" };
const ed = generateEd25519KeyPair();
const edKey: SignerKey = { alg: "ed25519", publicKey: ed.publicKey.toHex() };

function verifier(options: Partial<VerifierOptions> = {}): MessageVerifier {
  return new MessageVerifier({ keys: (id) => (id === "w1" ? hmacKey : null), clock, ...options });
}

function result(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { job_id: "job-1", task_id: "task-1", worker_id: "w1", status: "success", data: { ok: true }, ...extra };
}

function signed(message: Record<string, unknown>, secret = "worker-token", signerId = "w1"): Record<string, unknown> {
  return signMessage(message, { secret, signerId, now: NOW });
}

async function reason(promise: Promise<void>): Promise<{ type: string; status: number | undefined; reason: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as AuthError;
    return { type: e.constructor.name, status: e.status, reason: e.details.reason, message: e.message };
  }
  throw new Error("expected a refusal");
}

const ctx = { workerId: "w1", kind: "result" } as const;

describe("MessageVerifier: PROTOCOL.md 7.2 in order", () => {
  it("accepts a message signed like the Python worker SDK", async () => {
    await expect(verifier().verify(signed(result()), ctx)).resolves.toBeUndefined();
  });

  it("1: refuses a missing or falsy timestamp", async () => {
    for (const timestamp of [undefined, null, 0, ""]) {
      const message = { ...signed(result()), timestamp };
      expect(await reason(verifier().verify(message, ctx))).toMatchObject({
        type: "AuthError",
        status: 403,
        reason: "missing_timestamp",
        message: "Missing required timestamp for replay protection",
      });
    }
  });

  it("2: refuses a timestamp outside ±60 s (both directions), accepts exactly 60 s, floats and integer strings", async () => {
    const at = (seconds: number | string): Record<string, unknown> => signMessage({ ...result(), timestamp: seconds }, { secret: "worker-token", signerId: "w1", keepTimestamp: true });
    const base = NOW / 1000;
    expect(await reason(verifier().verify(at(base - 61), ctx))).toMatchObject({ reason: "timestamp_expired", message: "Message timestamp expired (replay protection)" });
    expect(await reason(verifier().verify(at(base + 61), ctx))).toMatchObject({ reason: "timestamp_future", status: 403 });
    // How far off the sender's clock is, for the hub's log line (+ ahead of this side's clock).
    const skew = async (seconds: number): Promise<unknown> => verifier().verify(at(seconds), ctx).then(() => undefined, (e: AuthError) => e.details.skew_s);
    expect([await skew(base - 61), await skew(base + 3600)]).toEqual([-61, 3600]);
    await expect(verifier().verify(at(base - 60), ctx)).resolves.toBeUndefined();
    await expect(verifier().verify(at(base + 60), ctx)).resolves.toBeUndefined();
    await expect(verifier().verify(at(base + 0.9), ctx)).resolves.toBeUndefined();
    await expect(verifier().verify(at(String(base)), ctx)).resolves.toBeUndefined();
    expect(await reason(verifier().verify(at("soon"), ctx))).toMatchObject({ type: "ValidationError", status: 400, reason: "bad_timestamp" });
    expect(await reason(verifier().verify(at("1700000000.5"), ctx))).toMatchObject({ type: "ValidationError", reason: "bad_timestamp" });
  });

  it("checks the timestamp before the signature", async () => {
    const message = { ...signed(result()), timestamp: NOW / 1000 - 3600, security: undefined };
    expect(await reason(verifier().verify(message, ctx))).toMatchObject({ reason: "timestamp_expired" });
  });

  it("refuses a worker with no key unless requireSignature is false", async () => {
    const unsigned = { ...result({ worker_id: "w2" }), timestamp: NOW / 1000 };
    expect(await reason(verifier().verify(unsigned, { workerId: "w2", kind: "result" }))).toMatchObject({ reason: "no_key", status: 403 });
    await expect(verifier({ requireSignature: false }).verify(unsigned, { workerId: "w2", kind: "result" })).resolves.toBeUndefined();
  });

  it("4: refuses a missing or empty security context", async () => {
    for (const security of [undefined, null, {}]) {
      const message = { ...result(), timestamp: NOW / 1000, security };
      expect(await reason(verifier().verify(message, ctx))).toMatchObject({ reason: "missing_security", message: "Missing required security context" });
    }
  });

  it("5: refuses a missing or empty signature", async () => {
    for (const signature of [undefined, ""]) {
      const message = { ...result(), timestamp: NOW / 1000, security: { signer_id: "w1", signature } };
      expect(await reason(verifier().verify(message, ctx))).toMatchObject({
        reason: "missing_signature",
        message: "Missing required cryptographic signature",
      });
    }
  });

  it("6: refuses a signer id that is not the authenticated worker, and a missing one unless configured leniently", async () => {
    const other = signed(result(), "worker-token", "w9");
    expect(await reason(verifier().verify(other, ctx))).toMatchObject({
      reason: "signer_mismatch",
      message: "Message signer ID 'w9' does not match worker ID 'w1'",
    });
    const message = signed(result());
    const anonymous = { ...message, security: { signature: (message.security as { signature: string }).signature } };
    expect(await reason(verifier().verify(anonymous, ctx))).toMatchObject({ reason: "missing_signer_id" });
    await expect(verifier({ requireSignerId: false }).verify(anonymous, ctx)).resolves.toBeUndefined();
  });

  it("7: refuses an invalid signature: wrong secret, changed body, uppercase hex", async () => {
    expect(await reason(verifier().verify(signed(result(), "global-token"), ctx))).toMatchObject({
      reason: "bad_signature",
      message: "Invalid cryptographic signature",
    });
    expect(await reason(verifier().verify({ ...signed(result()), status: "failure" }, ctx))).toMatchObject({ reason: "bad_signature" });
    const message = signed(result());
    const security = message.security as { signature: string; signer_id: string };
    const upper = { ...message, security: { ...security, signature: security.signature.toUpperCase() } };
    expect(await reason(verifier().verify(upper, ctx))).toMatchObject({ reason: "bad_signature" });
  });

  it("verifies a losslessly parsed body exactly as sent (big integers, events ignoring bubbling_chain)", async () => {
    const event = signMessage(
      { event_id: "e1", worker_id: "w1", origin_worker_id: "w1", event_type: "progress", payload: { n: 18446744073709551615n }, bubbling_chain: [] },
      { secret: "worker-token", signerId: "w1", now: NOW, ignoreFields: ["bubbling_chain"] },
    );
    const text = JSON.stringify(event, (_k, v: unknown) => (typeof v === "bigint" ? `@${v}@` : v)).replace(/"@(\d+)@"/g, "$1");
    const received = parseJson(text) as Record<string, unknown>;
    await expect(verifier().verify({ ...received, bubbling_chain: ["relay"] }, { workerId: "w1", kind: "event" })).resolves.toBeUndefined();
    expect(await reason(verifier().verify({ ...received, bubbling_chain: ["relay"] }, ctx))).toMatchObject({ reason: "bad_signature" });
  });

  it("accepts any of several configured keys (rotation) and async key lookups", async () => {
    const v = verifier({ keys: async () => [{ alg: "hmac-sha256", secret: "old" }, hmacKey] });
    await expect(v.verify(signed(result()), ctx)).resolves.toBeUndefined();
  });

  it("refuses non-object messages with a ValidationError", async () => {
    for (const bad of [null, [], "x", 5]) {
      expect(await reason(verifier().verify(bad, ctx))).toMatchObject({ type: "ValidationError", reason: "not_object" });
    }
  });
});

describe("MessageVerifier: Ed25519 and downgrade", () => {
  const edVerifier = (): MessageVerifier => verifier({ keys: () => edKey });
  const edSigned = (): Record<string, unknown> => signMessage(result(), { ed25519Key: ed.privateKey, signerId: "w1", now: NOW });

  it("accepts an Ed25519 message from a worker configured with its public key", async () => {
    await expect(edVerifier().verify(edSigned(), ctx)).resolves.toBeUndefined();
    await expect(verifier({ keys: () => ({ alg: "ed25519", publicKey: ed.publicKey.toPem() }) }).verify(edSigned(), ctx)).resolves.toBeUndefined();
  });

  it("refuses an HMAC message (no alg, or alg hmac) for a worker configured with Ed25519: no downgrade", async () => {
    // An attacker who knows the public key tries it as an HMAC secret.
    const forged = signMessage(result(), { secret: ed.publicKey.toHex(), signerId: "w1", now: NOW });
    expect(await reason(edVerifier().verify(forged, ctx))).toMatchObject({ reason: "alg_mismatch", status: 403 });
    const declared = { ...forged, security: { ...(forged.security as object), metadata: { alg: "hmac-sha256" } } };
    expect(await reason(edVerifier().verify(declared, ctx))).toMatchObject({ reason: "alg_mismatch" });
  });

  it("refuses an Ed25519 message for a worker configured with HMAC", async () => {
    expect(await reason(verifier().verify(edSigned(), ctx))).toMatchObject({ reason: "alg_mismatch" });
  });

  it("refuses an Ed25519 message whose kid names another key, or whose signature is wrong", async () => {
    const message = edSigned();
    const security = message.security as Record<string, unknown>;
    const otherKid = { ...message, security: { ...security, metadata: { alg: "ed25519", kid: "0000000000000000" } } };
    expect(await reason(edVerifier().verify(otherKid, ctx))).toMatchObject({ reason: "alg_mismatch" });
    const other = generateEd25519KeyPair();
    const wrong = signMessage(result(), { ed25519Key: other.privateKey, signerId: "w1", now: NOW });
    const relabelled = { ...wrong, security: { ...(wrong.security as object), metadata: { alg: "ed25519", kid: ed.publicKey.kid } } };
    expect(await reason(edVerifier().verify(relabelled, ctx))).toMatchObject({ reason: "bad_signature" });
  });

  it("accepts the reference's upper-case HMAC alg label", async () => {
    const message = signed(result());
    const labelled = { ...message, security: { ...(message.security as object), metadata: { alg: "HMAC-SHA256", kid: "k-2026-01" } } };
    await expect(verifier().verify(labelled, ctx)).resolves.toBeUndefined();
    expect(signHmac(labelled, "worker-token")).toBe((message.security as { signature: string }).signature);
  });
});

describe("MessageVerifier: replays", () => {
  it("refuses an exact replay inside the window but accepts a re-signed retry", async () => {
    let now = NOW;
    const v = verifier({ clock: () => now });
    const message = signed(result());
    await v.verify(message, ctx);
    expect(await reason(v.verify(structuredClone(message), ctx))).toMatchObject({ reason: "replay", status: 403 });
    now += 1000;
    await expect(v.verify(signMessage(result(), { secret: "worker-token", signerId: "w1", now }), ctx)).resolves.toBeUndefined();
  });

  it("refuses replayed heartbeats (identified by their signature) and events (by event_id)", async () => {
    const v = verifier();
    const heartbeat = signed({ worker_id: "w1", status: "idle" });
    await v.verify(heartbeat, { workerId: "w1", kind: "heartbeat" });
    expect(await reason(v.verify(heartbeat, { workerId: "w1", kind: "heartbeat" }))).toMatchObject({ reason: "replay" });
    const event = signMessage({ event_id: "e-7", worker_id: "w1", payload: {} }, { secret: "worker-token", signerId: "w1", now: NOW, ignoreFields: ["bubbling_chain"] });
    await v.verify(event, { workerId: "w1", kind: "event" });
    expect(await reason(v.verify({ ...event, bubbling_chain: ["x"] }, { workerId: "w1", kind: "event" }))).toMatchObject({ reason: "replay" });
  });

  it("keeps each sender's messages apart: another worker cannot use up a task's result identity", async () => {
    const keys = (id: string): SignerKey | null => (id === "w1" ? hmacKey : id === "w2" ? { alg: "hmac-sha256", secret: "other-token" } : null);
    const v = verifier({ keys });
    const foreign = signed(result({ worker_id: "w2" }), "other-token", "w2");
    await v.verify(foreign, { workerId: "w2", kind: "result" });
    await expect(v.verify(signed(result()), ctx)).resolves.toBeUndefined();
    expect(await reason(v.verify(foreign, { workerId: "w2", kind: "result" }))).toMatchObject({ reason: "replay" });
  });

  it("does not remember refused messages, and can be switched off", async () => {
    const v = verifier();
    const message = signed(result());
    await expect(v.verify({ ...message, status: "x" }, ctx)).rejects.toThrow(AuthError);
    await expect(v.verify(message, ctx)).resolves.toBeUndefined();
    const open = verifier({ replay: false });
    await open.verify(message, ctx);
    await expect(open.verify(message, ctx)).resolves.toBeUndefined();
  });

  it("answers 429 when the replay guard is full, and takes its window from the guard", async () => {
    const guard = new ReplayGuard({ clock, maxEntries: 1, windowMs: 10_000 });
    const v = verifier({ replay: guard });
    await v.verify(signed(result()), ctx);
    const error = await v.verify(signed(result({ task_id: "task-2" })), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    const late = signMessage(result(), { secret: "worker-token", signerId: "w1", now: NOW - 30_000 });
    await expect(v.verify(late, ctx)).rejects.toThrow(AuthError);
  });
});

describe("MessageVerifier: configuration errors", () => {
  it("reports an unusable configured key as a server error without the key", async () => {
    const v = verifier({ keys: () => ({ alg: "ed25519", publicKey: "not-a-key" }) });
    const refusal = await reason(v.verify(signed(result()), ctx));
    expect(refusal).toMatchObject({ type: "RxonError", status: 500, reason: "bad_key" });
    expect(refusal.message).not.toContain("not-a-key");
  });
});
