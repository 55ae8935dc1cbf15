import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { signHmac, verifyHmac } from "../../src/security/hmac.js";
import { signMessage } from "../../src/security/sign-message.js";
import { generateEd25519KeyPair, verifyEd25519 } from "../../src/security/ed25519.js";

describe("HMAC-SHA256", () => {
  const message = { worker_id: "w1", timestamp: 1700000000, data: { x: 1 } };

  it("refuses an empty secret when signing with the reference's text", () => {
    expect(() => signHmac(message, "")).toThrow(ValidationError);
    expect(() => signHmac(message, "")).toThrow("Secret key for signing cannot be empty.");
  });

  it("returns false, never throws, for malformed signatures, empty secrets and uncanonicalizable messages", () => {
    const good = signHmac(message, "k");
    expect(verifyHmac(message, good, "k")).toBe(true);
    for (const bad of [undefined, null, 1, {}, [], "", good.slice(1), good + "0", good.toUpperCase(), "g" + good.slice(1), "é".repeat(64)]) {
      expect(verifyHmac(message, bad, "k")).toBe(false);
    }
    expect(verifyHmac(message, good, "")).toBe(false);
    expect(verifyHmac({ ...message, big: 2n ** 64n }, good, "k")).toBe(false);
    expect(verifyHmac(message, good, "other")).toBe(false);
  });

  it("uses the UTF-8 bytes of a non-ASCII secret", () => {
    expect(signHmac({ a: 1 }, "clé")).not.toBe(signHmac({ a: 1 }, "cl\u00e9".normalize("NFD")));
  });
});

describe("signMessage", () => {
  it("stamps an integer timestamp, signs without security and attaches {signature, signer_id}", () => {
    const input = { worker_id: "w1", status: "idle", security: { signature: "stale" } };
    const signed = signMessage(input, { secret: "s3cret", signerId: "w1", now: 1_700_000_000_999 });
    expect(signed.timestamp).toBe(1_700_000_000);
    expect(signed.security.signer_id).toBe("w1");
    expect(signed.security.metadata).toBeUndefined();
    expect(verifyHmac(signed, signed.security.signature, "s3cret")).toBe(true);
    expect(input.security.signature).toBe("stale");
    expect("timestamp" in input).toBe(false);
  });

  it("keeps the timestamp on request and carries the identity chain", () => {
    const signed = signMessage(
      { timestamp: 5, security: { identity_chain: ["a:b"] } },
      { secret: "k", signerId: "w", keepTimestamp: true, now: 99_000 },
    );
    expect(signed.timestamp).toBe(5);
    expect(signed.security.identity_chain).toEqual(["a:b"]);
  });

  it("signs with Ed25519 and writes alg and kid", () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const signed = signMessage({ event_id: "e", bubbling_chain: [] }, { ed25519Key: privateKey, signerId: "w", ignoreFields: ["bubbling_chain"] });
    expect(signed.security.metadata).toEqual({ alg: "ed25519", kid: publicKey.kid });
    expect(signed.security.signature).toHaveLength(128);
    expect(verifyEd25519({ ...signed, bubbling_chain: ["x"] }, signed.security.signature, publicKey, { ignoreFields: ["bubbling_chain"] })).toBe(true);
  });

  it("needs exactly one key and a signer id", () => {
    expect(() => signMessage({}, { signerId: "w" })).toThrow(ValidationError);
    expect(() => signMessage({}, { signerId: "w", secret: "k", ed25519Key: generateEd25519KeyPair().privateKey })).toThrow(ValidationError);
    expect(() => signMessage({}, { signerId: "", secret: "k" })).toThrow(ValidationError);
    expect(() => signMessage({}, { signerId: "w", secret: "" })).toThrow(ValidationError);
  });
});
