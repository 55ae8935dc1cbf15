/**
 * Ed25519 (RFC 8032, pure) over the canonical signing text, as proposed in PROTOCOL.md 7.8.
 *
 * node:crypto does the work; @noble/ed25519 is the portable fallback and gives byte-identical
 * signatures. Keys are small immutable objects holding the raw 32 bytes; the node KeyObject is
 * built once per key, because rebuilding it on every call is an order of magnitude slower.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from "node:crypto";
import * as noble from "@noble/ed25519";
import { ValidationError } from "../errors.js";
import { signingText, type SigningTextOptions } from "../wire/canonical.js";

/** Which implementation signs and verifies. */
export type Ed25519Backend = "node" | "noble";

/** Length of an Ed25519 signature in hex characters. */
export const ED25519_SIGNATURE_LENGTH = 128;

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const LOWER_HEX_128 = /^[0-9a-f]{128}$/;
const HEX_64 = /^[0-9a-fA-F]{64}$/;

// noble's synchronous API needs a SHA-512; node's is the fastest available.
noble.hashes.sha512 = (message) => {
  const digest = createHash("sha512").update(message).digest();
  const out = new Uint8Array(new ArrayBuffer(digest.length));
  out.set(digest);
  return out;
};

const nodeHasEd25519 = ((): boolean => {
  try {
    createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.alloc(32, 1)]), format: "der", type: "pkcs8" });
    return true;
  } catch {
    return false;
  }
})();

let backend: Ed25519Backend = nodeHasEd25519 ? "node" : "noble";

/** Selects the implementation used by every Ed25519 call (tests run both). Default: node when available. */
export function setEd25519Backend(name: Ed25519Backend): void {
  if (name !== "node" && name !== "noble") throw new ValidationError(`Unknown Ed25519 backend "${String(name)}"`);
  if (name === "node" && !nodeHasEd25519) throw new ValidationError("node:crypto has no Ed25519 on this platform");
  backend = name;
}

/** The implementation currently in use. */
export function getEd25519Backend(): Ed25519Backend {
  return backend;
}

function keyError(message: string, cause?: unknown): ValidationError {
  return new ValidationError(message, [{ path: "", message }], { cause, details: { reason: "bad_key" } });
}

/** An Ed25519 public key (32 raw bytes). */
export class Ed25519PublicKey {
  /** The raw 32-byte key; do not modify. */
  readonly bytes: Uint8Array;
  #node: KeyObject | undefined;
  #kid: string | undefined;

  /** Wraps 32 raw bytes (copied). Prefer {@link importEd25519PublicKey} for hex or PEM. */
  constructor(bytes: Uint8Array) {
    if (bytes.length !== 32) throw keyError("An Ed25519 public key is 32 bytes");
    this.bytes = Uint8Array.from(bytes);
  }

  /** Key id of PROTOCOL.md 7.8: first 16 lowercase hex characters of SHA-256 over the raw key. */
  get kid(): string {
    return (this.#kid ??= createHash("sha256").update(this.bytes).digest("hex").slice(0, 16));
  }

  /** Raw key as 64 lowercase hex characters. */
  toHex(): string {
    return Buffer.from(this.bytes).toString("hex");
  }

  /** SPKI PEM (`-----BEGIN PUBLIC KEY-----`). */
  toPem(): string {
    return this.nodeKey().export({ format: "pem", type: "spki" }).toString();
  }

  /** The node:crypto key, built once. */
  nodeKey(): KeyObject {
    return (this.#node ??= createPublicKey({ key: Buffer.concat([SPKI_PREFIX, this.bytes]), format: "der", type: "spki" }));
  }
}

/** An Ed25519 private key (the 32-byte seed of RFC 8032) with its public key. */
export class Ed25519PrivateKey {
  readonly #seed: Uint8Array;
  #node: KeyObject | undefined;
  /** The matching public key. */
  readonly publicKey: Ed25519PublicKey;

  /** Wraps a 32-byte seed (copied). Prefer {@link importEd25519PrivateKey} for hex or PEM. */
  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw keyError("An Ed25519 private key (seed) is 32 bytes");
    this.#seed = Uint8Array.from(seed);
    this.publicKey = new Ed25519PublicKey(nodeHasEd25519 ? jwkBytes(createPublicKey(this.nodeKey()), "x") : noble.getPublicKey(this.#seed));
  }

  /** The 32-byte seed as 64 lowercase hex characters (secret: handle with care). */
  toHex(): string {
    return Buffer.from(this.#seed).toString("hex");
  }

  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  toPem(): string {
    return this.nodeKey().export({ format: "pem", type: "pkcs8" }).toString();
  }

  /** The node:crypto key, built once. */
  nodeKey(): KeyObject {
    return (this.#node ??= createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, this.#seed]), format: "der", type: "pkcs8" }));
  }

  /** Signs raw bytes with the current backend. */
  signBytes(message: Uint8Array): Uint8Array {
    if (backend === "node") return new Uint8Array(nodeSign(null, message, this.nodeKey()));
    return noble.sign(message, this.#seed);
  }

  /** Keeps the seed out of logs and JSON. */
  toJSON(): { publicKey: string } {
    return { publicKey: this.publicKey.toHex() };
  }
}

/** A fresh random key pair. */
export function generateEd25519KeyPair(): { privateKey: Ed25519PrivateKey; publicKey: Ed25519PublicKey } {
  const privateKey = new Ed25519PrivateKey(randomBytes(32));
  return { privateKey, publicKey: privateKey.publicKey };
}

/** Imports a private key from a 32-byte seed: raw bytes, 64 hex characters or PKCS#8 PEM. */
export function importEd25519PrivateKey(key: Ed25519PrivateKey | Uint8Array | string): Ed25519PrivateKey {
  if (key instanceof Ed25519PrivateKey) return key;
  if (key instanceof Uint8Array) return new Ed25519PrivateKey(key);
  if (typeof key !== "string") throw keyError("An Ed25519 private key must be hex, PEM or bytes");
  const text = key.trim();
  if (HEX_64.test(text)) return new Ed25519PrivateKey(Buffer.from(text, "hex"));
  let node: KeyObject;
  try {
    node = createPrivateKey({ key: text, format: "pem" });
  } catch (cause) {
    throw keyError("Not an Ed25519 private key (expected 64 hex characters or PKCS#8 PEM)", cause);
  }
  return new Ed25519PrivateKey(jwkBytes(node, "d"));
}

/** Imports a public key: raw bytes, 64 hex characters or SPKI PEM. */
export function importEd25519PublicKey(key: Ed25519PublicKey | Uint8Array | string): Ed25519PublicKey {
  if (key instanceof Ed25519PublicKey) return key;
  if (key instanceof Uint8Array) return new Ed25519PublicKey(key);
  if (typeof key !== "string") throw keyError("An Ed25519 public key must be hex, PEM or bytes");
  const text = key.trim();
  if (HEX_64.test(text)) return new Ed25519PublicKey(Buffer.from(text, "hex"));
  let node: KeyObject;
  try {
    node = createPublicKey({ key: text, format: "pem" });
  } catch (cause) {
    throw keyError("Not an Ed25519 public key (expected 64 hex characters or SPKI PEM)", cause);
  }
  return new Ed25519PublicKey(jwkBytes(node, "x"));
}

function jwkBytes(node: KeyObject, member: "d" | "x"): Uint8Array {
  if (node.asymmetricKeyType !== "ed25519") throw keyError(`Expected an Ed25519 key, got ${node.asymmetricKeyType ?? "unknown"}`);
  const jwk = node.export({ format: "jwk" }) as { [k: string]: unknown };
  const value = jwk[member];
  if (typeof value !== "string") throw keyError("Key export failed");
  return Buffer.from(value, "base64url");
}

/** Key id of PROTOCOL.md 7.8 for a public key given in any importable form. */
export function keyId(publicKey: Ed25519PublicKey | Uint8Array | string): string {
  return importEd25519PublicKey(publicKey).kid;
}

/** Verifies a raw signature over raw bytes with the current backend; false for malformed input. */
export function verifyEd25519Bytes(signature: Uint8Array, message: Uint8Array, publicKey: Ed25519PublicKey): boolean {
  if (signature.length !== 64) return false;
  try {
    if (backend === "node") return nodeVerify(null, message, publicKey.nodeKey(), signature);
    // RFC 8032 rules, as OpenSSL applies them, so both backends give the same verdicts.
    return noble.verify(signature, message, publicKey.bytes, { zip215: false });
  } catch {
    return false;
  }
}

/** Signs raw bytes with the current backend; 64 bytes. */
export function signEd25519Bytes(message: Uint8Array, privateKey: Ed25519PrivateKey): Uint8Array {
  return privateKey.signBytes(message);
}

/**
 * Signs the canonical signing text of `message` (top-level `security` and `ignoreFields` left out)
 * and returns 128 lowercase hex characters. Throws {@link ValidationError} for a value the
 * reference cannot canonicalize or a key that cannot be imported.
 */
export function signEd25519(
  message: unknown,
  privateKey: Ed25519PrivateKey | Uint8Array | string,
  options: SigningTextOptions = {},
): string {
  const key = importEd25519PrivateKey(privateKey);
  return Buffer.from(key.signBytes(Buffer.from(signingText(message, options), "utf8"))).toString("hex");
}

/**
 * Checks an Ed25519 signature over the signing text of `message`. Returns false, never throws, for
 * a signature that is not 128 lowercase hex characters, a key that cannot be imported, or a
 * message that cannot be canonicalized.
 */
export function verifyEd25519(
  message: unknown,
  signature: unknown,
  publicKey: Ed25519PublicKey | Uint8Array | string,
  options: SigningTextOptions = {},
): boolean {
  if (typeof signature !== "string" || !LOWER_HEX_128.test(signature)) return false;
  try {
    const key = importEd25519PublicKey(publicKey);
    const text = signingText(message, options);
    return verifyEd25519Bytes(Buffer.from(signature, "hex"), Buffer.from(text, "utf8"), key);
  } catch {
    return false;
  }
}
