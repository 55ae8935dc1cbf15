/** `rxon keygen`: an Ed25519 key pair for signing worker messages (PROTOCOL.md 7.8). */
import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { generateEd25519KeyPair } from "../security/index.js";
import { CliFailure, ExitCode, parse, UsageError, type CliIo } from "./io.js";

export const keygenHelp = `Usage: rxon keygen --out <prefix> [--format pem|hex]

Creates an Ed25519 key pair: <prefix>.key (private, mode 0600) and <prefix>.pub (public). Prints
the public key and its kid (first 16 hex characters of SHA-256 over the raw public key). Configure
the public key on the hub for that worker; the private key stays with the worker.

Options:
  --out <prefix>        where to write the key files (required)
  --format pem|hex      file format (default pem)
  --force               overwrite existing files
  -h, --help            show this help
`;

/** Runs the command; returns the exit code. */
export async function keygenCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: "string" }, format: { type: "string" }, force: { type: "boolean" } }, false);
  if (values.help) return void io.stdout.write(keygenHelp), ExitCode.OK;
  void positionals;
  const format = values.format ?? "pem";
  if (format !== "pem" && format !== "hex") throw new UsageError("--format must be pem or hex");
  if (values.out === undefined) throw new UsageError("--out <prefix> is required (the private key is never printed)");
  const base = resolve(io.cwd, values.out);
  if (!values.force) {
    // Checked before anything is written, so an existing pair is never half replaced.
    const existing = [`${values.out}.key`, `${values.out}.pub`].filter((f) => existsSync(resolve(io.cwd, f)));
    if (existing.length > 0) {
      throw new CliFailure(`${existing.join(" and ")} already exist${existing.length === 1 ? "s" : ""}; keygen never overwrites a key (workers and hubs may rely on it): choose another --out, or add --force to replace it`);
    }
  }
  const { privateKey, publicKey } = generateEd25519KeyPair();
  const flag = values.force ? "w" : "wx";
  try {
    writeFileSync(`${base}.key`, format === "pem" ? privateKey.toPem() : privateKey.toHex() + "\n", { mode: 0o600, flag });
    writeFileSync(`${base}.pub`, format === "pem" ? publicKey.toPem() : publicKey.toHex() + "\n", { flag });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliFailure(`cannot write ${values.out}.key / ${values.out}.pub: ${code === "EEXIST" ? "a file appeared meanwhile; nothing was replaced" : code === "ENOENT" ? "the folder does not exist" : code === "EACCES" ? "permission denied" : (err as Error).message}`);
  }
  io.stdout.write(`kid: ${publicKey.kid}\npublic key (hex): ${publicKey.toHex()}\nwrote ${base}.key and ${base}.pub\n`);
  return ExitCode.OK;
}
