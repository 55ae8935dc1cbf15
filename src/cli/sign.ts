/**
 * `rxon sign` and `rxon verify`: HMAC-SHA256 or Ed25519 over the canonical form of a JSON message
 * (PROTOCOL.md 6.3), exactly as workers and the hub do it. Secrets are never printed.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseJson } from "../wire/json.js";
import { ValidationError } from "../errors.js";
import { signMessage, verifyEd25519, verifyHmac } from "../security/index.js";
import { ExitCode, parse, readText, UsageError, type CliIo } from "./io.js";

export const signHelp = `Usage: rxon sign <file.json|-> (--secret <s> | --secret-file <f> | --key <file>) [options]

Prints the message signed as a worker sends it: integer "timestamp" set to now, then
"security" = {signature, signer_id} (plus metadata {alg, kid} for Ed25519).

Options:
  --secret <s>          HMAC secret (prefer --secret-file or RXON_SECRET: argv is visible to others)
  --secret-file <f>     read the HMAC secret from a file
  --key <file|hex>      Ed25519 private key (PKCS#8 PEM file or 64 hex characters)
  --signer-id <id>      signer id (default: the message's worker_id)
  --ignore-field <f>    top-level member left out of the signature (repeatable; events: bubbling_chain)
  --keep-timestamp      keep the message's timestamp instead of stamping now
  -h, --help            show this help
`;

export const verifyHelp = `Usage: rxon verify <file.json|-> (--secret <s> | --secret-file <f> | --public-key <file|hex>) [options]

Checks security.signature of a signed message. Prints "valid" (exit 0) or "invalid" (exit 1).
Timestamps are not checked against the clock (that is the receiver's replay protection).

Options:
  --secret <s>            HMAC secret (or --secret-file, or RXON_SECRET)
  --secret-file <f>       read the HMAC secret from a file
  --public-key <file|hex> Ed25519 public key (SPKI PEM file or 64 hex characters)
  --ignore-field <f>      top-level member left out of the signature (repeatable)
  -h, --help              show this help
`;

function readSecret(io: CliIo, values: { secret?: string | undefined; "secret-file"?: string | undefined }): string | undefined {
  if (values.secret !== undefined) return values.secret;
  if (values["secret-file"] !== undefined) return readText(io, values["secret-file"]).replace(/\r?\n$/, "");
  return io.env.RXON_SECRET || undefined;
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
    key: { type: "string" },
    "signer-id": { type: "string" },
    "ignore-field": { type: "string", multiple: true },
    "keep-timestamp": { type: "boolean" },
  });
  if (values.help) return void io.stdout.write(signHelp), ExitCode.OK;
  if (positionals.length !== 1) throw new UsageError("expected one <file.json>");
  const secret = readSecret(io, values);
  if ((secret === undefined) === (values.key === undefined)) throw new UsageError("give exactly one of --secret/--secret-file/RXON_SECRET and --key");
  const message = readMessage(io, positionals[0]!);
  const signerId = values["signer-id"] ?? (typeof message.worker_id === "string" ? message.worker_id : undefined);
  if (signerId === undefined) throw new UsageError("--signer-id is required when the message has no worker_id");
  const signed = signMessage(message, {
    signerId,
    ignoreFields: values["ignore-field"] ?? [],
    keepTimestamp: values["keep-timestamp"] === true,
    ...(secret !== undefined ? { secret } : { ed25519Key: readKey(io, values.key!) }),
  });
  io.stdout.write(jsonText(signed) + "\n");
  return ExitCode.OK;
}

/** `rxon verify`. */
export async function verifyCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    secret: { type: "string" },
    "secret-file": { type: "string" },
    "public-key": { type: "string" },
    "ignore-field": { type: "string", multiple: true },
  });
  if (values.help) return void io.stdout.write(verifyHelp), ExitCode.OK;
  if (positionals.length !== 1) throw new UsageError("expected one <file.json>");
  const secret = readSecret(io, values);
  if ((secret === undefined) === (values["public-key"] === undefined)) throw new UsageError("give exactly one of --secret/--secret-file/RXON_SECRET and --public-key");
  const message = readMessage(io, positionals[0]!);
  const security = message.security as { signature?: unknown } | undefined;
  const signature = security?.signature;
  const ignoreFields = values["ignore-field"] ?? [];
  const ok =
    secret !== undefined
      ? verifyHmac(message, signature, secret, { ignoreFields })
      : verifyEd25519(message, signature, readKey(io, values["public-key"]!), { ignoreFields });
  io.stdout.write(ok ? "valid\n" : "invalid\n");
  return ok ? ExitCode.OK : ExitCode.FAILURE;
}
