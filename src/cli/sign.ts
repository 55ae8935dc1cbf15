/**
 * `rxon sign` and `rxon verify`: HMAC-SHA256 or Ed25519 over the canonical form of a JSON message
 * (PROTOCOL.md 6.3), exactly as workers and the hub do it. Secrets are never printed.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseJson } from "../wire/json.js";
import { ValidationError } from "../errors.js";
import { importEd25519PublicKey, signMessage, verifyEd25519, verifyHmac } from "../security/index.js";
import { CliFailure, ExitCode, parse, readText, UsageError, type CliIo } from "./io.js";

export const signHelp = `Usage: rxon sign <file.json|-> (--secret <s> | --secret-file <f> | --ed25519-key <file|hex>) [options]

Prints the message signed as a worker sends it: integer "timestamp" set to now, then
"security" = {signature, signer_id} (plus metadata {alg, kid} for Ed25519).

Options:
  --secret <s>          HMAC secret (prefer --secret-file or RXON_SECRET: argv is visible to others)
  --secret-file <f>     read the HMAC secret from a file
  --ed25519-key <file|hex>  Ed25519 private key (PKCS#8 PEM file or 64 hex characters)
  --signer-id <id>      signer id (default: the message's worker_id)
  --ignore-field <f>    top-level member left out of the signature (repeatable; events: bubbling_chain)
  --keep-timestamp      keep the message's timestamp instead of stamping now
  -h, --help            show this help
`;

export const verifyHelp = `Usage: rxon verify <file.json|-> (--secret <s> | --secret-file <f> | --ed25519-key <file|hex>) [options]

Checks security.signature of a signed message. Prints "valid" (exit 0) or "invalid: <why>" (exit 1).
Timestamps are not checked against the clock (that is the receiver's replay protection).

Options:
  --secret <s>            HMAC secret (or --secret-file, or RXON_SECRET)
  --secret-file <f>       read the HMAC secret from a file
  --ed25519-key <file|hex> Ed25519 public key (SPKI PEM file or 64 hex characters)
  --ignore-field <f>      top-level member left out of the signature (repeatable)
  -h, --help              show this help
`;

function readSecret(io: CliIo, values: { secret?: string | undefined; "secret-file"?: string | undefined }): string | undefined {
  if (values.secret !== undefined) return values.secret;
  if (values["secret-file"] !== undefined) return readText(io, values["secret-file"]).replace(/\r?\n$/, "");
  return io.env.RXON_SECRET || undefined;
}

// One name per concept: --ed25519-key everywhere (worker, sign, verify). The older --key (sign)
// and --public-key (verify) still work and are not shown in the help.
const ED25519_KEY = { "ed25519-key": { type: "string" }, key: { type: "string" }, "public-key": { type: "string" } } as const;

function ed25519KeyOption(values: { "ed25519-key"?: string | undefined; key?: string | undefined; "public-key"?: string | undefined }): string | undefined {
  return values["ed25519-key"] ?? values.key ?? values["public-key"];
}

/** A key given inline (hex) or as a file path. */
function readKey(io: CliIo, value: string): string {
  const path = resolve(io.cwd, value);
  return existsSync(path) ? readText(io, value) : value;
}

function readMessage(io: CliIo, file: string): Record<string, unknown> {
  const value = parseJson(readText(io, file));
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ValidationError("The message must be a JSON object");
  return value as Record<string, unknown>;
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v), 2);
}

/** `rxon sign`. */
export async function signCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    secret: { type: "string" },
    "secret-file": { type: "string" },
    ...ED25519_KEY,
    "signer-id": { type: "string" },
    "ignore-field": { type: "string", multiple: true },
    "keep-timestamp": { type: "boolean" },
  });
  if (values.help) return void io.stdout.write(signHelp), ExitCode.OK;
  if (positionals.length !== 1) throw new UsageError("expected one <file.json>");
  const secret = readSecret(io, values);
  const key = ed25519KeyOption(values);
  if ((secret === undefined) === (key === undefined)) throw new UsageError("give exactly one of --secret/--secret-file/RXON_SECRET and --ed25519-key");
  const message = readMessage(io, positionals[0]!);
  const signerId = values["signer-id"] ?? (typeof message.worker_id === "string" ? message.worker_id : undefined);
  if (signerId === undefined) throw new UsageError("--signer-id is required when the message has no worker_id");
  const signed = signMessage(message, {
    signerId,
    ignoreFields: values["ignore-field"] ?? [],
    keepTimestamp: values["keep-timestamp"] === true,
    ...(secret !== undefined ? { secret } : { ed25519Key: readKey(io, key!) }),
  });
  io.stdout.write(jsonText(signed) + "\n");
  return ExitCode.OK;
}

/** `rxon verify`. */
export async function verifyCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    secret: { type: "string" },
    "secret-file": { type: "string" },
    ...ED25519_KEY,
    "ignore-field": { type: "string", multiple: true },
  });
  if (values.help) return void io.stdout.write(verifyHelp), ExitCode.OK;
  if (positionals.length !== 1) throw new UsageError("expected one <file.json>");
  const secret = readSecret(io, values);
  const key = ed25519KeyOption(values);
  if ((secret === undefined) === (key === undefined)) throw new UsageError("give exactly one of --secret/--secret-file/RXON_SECRET and --ed25519-key");
  const message = readMessage(io, positionals[0]!);
  const ignoreFields = values["ignore-field"] ?? [];
  const publicKey = key !== undefined ? readPublicKey(io, key) : undefined;
  const why = whyInvalid(message, secret !== undefined ? "hmac" : "ed25519");
  const ok =
    why === undefined &&
    (secret !== undefined
      ? verifyHmac(message, (message.security as { signature?: unknown }).signature, secret, { ignoreFields })
      : verifyEd25519(message, (message.security as { signature?: unknown }).signature, publicKey!, { ignoreFields }));
  if (ok) {
    io.stdout.write("valid\n");
    return ExitCode.OK;
  }
  io.stdout.write(`invalid: ${why ?? mismatch(secret !== undefined, ignoreFields, message)}\n`);
  return ExitCode.FAILURE;
}

function readPublicKey(io: CliIo, value: string): string {
  const text = readKey(io, value);
  try {
    importEd25519PublicKey(text.trim());
  } catch {
    throw new CliFailure(`${value} is not an Ed25519 public key (SPKI PEM or 64 hex characters)${/PRIVATE KEY/.test(text) ? ": it is a private key; give the .pub file" : ""}`);
  }
  return text.trim();
}

/** The reason a message cannot verify before any cryptography, if there is one. */
export function whyInvalid(message: Record<string, unknown>, alg: "hmac" | "ed25519"): string | undefined {
  const security = message.security;
  if (security === undefined || security === null) return "the message has no security block (it was not signed)";
  if (typeof security !== "object" || Array.isArray(security)) return "security is not an object";
  const { signature, metadata } = security as { signature?: unknown; metadata?: { alg?: unknown } };
  if (signature === undefined || signature === null || signature === "") return "security.signature is missing";
  if (typeof signature !== "string") return "security.signature is not a string";
  const signedAlg = typeof metadata?.alg === "string" ? metadata.alg.toLowerCase() : "hmac";
  if (alg === "hmac" && signedAlg === "ed25519") return "the message is signed with Ed25519 (security.metadata.alg); verify with --ed25519-key";
  if (alg === "ed25519" && signedAlg !== "ed25519") return "the message is signed with HMAC (no security.metadata.alg ed25519); verify with --secret";
  if (alg === "hmac" && !/^[0-9a-f]{64}$/.test(signature)) return `security.signature is not an HMAC-SHA256 signature (64 lowercase hex characters; got ${signature.length} characters)`;
  if (alg === "ed25519" && !/^[0-9a-f]{128}$/.test(signature)) return `security.signature is not an Ed25519 signature (128 lowercase hex characters; got ${signature.length} characters)`;
  return undefined;
}

function mismatch(hmac: boolean, ignoreFields: readonly string[], message: Record<string, unknown>): string {
  const key = hmac ? "a different secret" : "a different key";
  const hint = "bubbling_chain" in message && !ignoreFields.includes("bubbling_chain") ? "; events are signed without bubbling_chain: add --ignore-field bubbling_chain" : "";
  return `the signature does not match: the message changed after signing, or it was signed with ${key}${hint}`;
}
