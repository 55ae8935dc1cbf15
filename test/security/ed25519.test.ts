import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import {
  generateEd25519KeyPair,
  getEd25519Backend,
  importEd25519PrivateKey,
  importEd25519PublicKey,
  keyId,
  setEd25519Backend,
  signEd25519,
  signEd25519Bytes,
  verifyEd25519,
  verifyEd25519Bytes,
  type Ed25519Backend,
} from "../../src/security/ed25519.js";

/** RFC 8032 section 7.1, tests 1–3. */
const RFC8032 = [
  {
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
];

const initial = getEd25519Backend();
afterEach(() => setEd25519Backend(initial));

for (const backend of ["node", "noble"] as Ed25519Backend[]) {
  describe(`RFC 8032 vectors with the ${backend} backend`, () => {
    RFC8032.forEach((v, i) => {
      it(`test ${i + 1}`, () => {
        setEd25519Backend(backend);
        const key = importEd25519PrivateKey(v.secret);
        expect(key.publicKey.toHex()).toBe(v.public);
        const message = Buffer.from(v.message, "hex");
        const signature = Buffer.from(signEd25519Bytes(message, key)).toString("hex");
        expect(signature).toBe(v.signature);
        const publicKey = importEd25519PublicKey(v.public);
        expect(verifyEd25519Bytes(Buffer.from(v.signature, "hex"), message, publicKey)).toBe(true);
        const tampered = Buffer.from(v.signature, "hex");
        tampered[0]! ^= 1;
        expect(verifyEd25519Bytes(tampered, message, publicKey)).toBe(false);
        expect(verifyEd25519Bytes(Buffer.from(v.signature, "hex"), Buffer.from("00", "hex"), publicKey)).toBe(false);
      });
    });
  });
}

describe("Ed25519 over canonical messages", () => {
  it("gives identical signatures and verdicts with both backends", () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    for (let i = 0; i < 20; i++) {
      const message = { n: i, blob: randomBytes(64).toString("base64"), nested: { z: 1, a: [i, null] } };
      setEd25519Backend("node");
      const fromNode = signEd25519(message, privateKey);
      setEd25519Backend("noble");
      const fromNoble = signEd25519(message, privateKey);
      expect(fromNoble).toBe(fromNode);
      expect(verifyEd25519(message, fromNode, publicKey)).toBe(true);
      setEd25519Backend("node");
      expect(verifyEd25519(message, fromNoble, publicKey)).toBe(true);
    }
  });

  it("signs 128 lowercase hex characters over the signing text (security and ignored fields excluded)", () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const event = { a: 1, bubbling_chain: ["x"], security: { signature: "old" } };
    const signature = signEd25519(event, privateKey, { ignoreFields: ["bubbling_chain"] });
    expect(signature).toMatch(/^[0-9a-f]{128}$/);
    expect(verifyEd25519({ ...event, bubbling_chain: ["y"], security: {} }, signature, publicKey, { ignoreFields: ["bubbling_chain"] })).toBe(true);
    expect(verifyEd25519({ ...event, bubbling_chain: ["y"] }, signature, publicKey)).toBe(false);
    expect(verifyEd25519({ ...event, a: 2 }, signature, publicKey, { ignoreFields: ["bubbling_chain"] })).toBe(false);
  });

  it("returns false, never throws, for bad signatures, keys and messages", () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const signature = signEd25519({ a: 1 }, privateKey);
    for (const backend of ["node", "noble"] as Ed25519Backend[]) {
      setEd25519Backend(backend);
      for (const bad of [undefined, null, 42, "", signature.slice(2), signature.toUpperCase(), "zz" + signature.slice(2), signature + "00"]) {
        expect(verifyEd25519({ a: 1 }, bad, publicKey)).toBe(false);
      }
      expect(verifyEd25519({ a: 1 }, signature, "not a key")).toBe(false);
      expect(verifyEd25519({ a: 1 }, signature, "00".repeat(32))).toBe(false);
      expect(verifyEd25519({ a: 2n ** 70n }, signature, publicKey)).toBe(false);
      expect(verifyEd25519Bytes(new Uint8Array(10), new Uint8Array(), publicKey)).toBe(false);
    }
  });

  it("imports and exports raw hex and PEM, private and public", () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    expect(privateKey.toPem()).toContain("-----BEGIN PRIVATE KEY-----");
    expect(publicKey.toPem()).toContain("-----BEGIN PUBLIC KEY-----");
    expect(importEd25519PrivateKey(privateKey.toPem()).toHex()).toBe(privateKey.toHex());
    expect(importEd25519PrivateKey(privateKey.toHex()).publicKey.toHex()).toBe(publicKey.toHex());
    expect(importEd25519PublicKey(publicKey.toPem()).toHex()).toBe(publicKey.toHex());
    expect(importEd25519PublicKey(publicKey.toHex().toUpperCase()).toHex()).toBe(publicKey.toHex());
    expect(JSON.stringify(privateKey)).not.toContain(privateKey.toHex());
  });

  it("refuses keys that are not Ed25519 with a typed error", () => {
    expect(() => importEd25519PublicKey("abcd")).toThrow(ValidationError);
    expect(() => importEd25519PrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")).toThrow(ValidationError);
    expect(() => importEd25519PrivateKey(new Uint8Array(31))).toThrow(ValidationError);
  });

  it("computes the key id as the first 16 hex characters of SHA-256 over the raw key", () => {
    // sha256 of RFC 8032 test 1's public key.
    const kid = keyId(RFC8032[0]!.public);
    expect(kid).toMatch(/^[0-9a-f]{16}$/);
    expect(kid).toBe(importEd25519PublicKey(RFC8032[0]!.public).kid);
    expect(keyId(Buffer.from(RFC8032[0]!.public, "hex"))).toBe(kid);
  });
});
