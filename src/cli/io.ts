/**
 * What every command gets: output streams, environment and working directory (injectable so
 * commands can be tested in process), plus the shared exit codes and argument helpers.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Streams and environment of a command run. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** Exit codes scripts can rely on. */
export const ExitCode = Object.freeze({ OK: 0, FAILURE: 1, USAGE: 2 } as const);

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** A wrong command line: printed with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type HelpOption = { help: { type: "boolean"; short: "h" } };
/** What {@link parse} returns for options `O`. */
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O & HelpOption; allowPositionals: boolean; strict: true }>>;

/** node:util parseArgs with `--help`, strict, and parse errors turned into UsageErrors. */
export function parse<O extends Options>(argv: readonly string[], options: O, allowPositionals = true): Parsed<O> {
  try {
    const help: HelpOption = { help: { type: "boolean", short: "h" } };
    return parseArgs({ args: [...argv], options: { ...options, ...help }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * The command line is fine but the work failed (a file missing or invalid, a refusal, a network
 * error): printed as one line, exit code 1.
 */
export class CliFailure extends Error {
  override readonly name = "CliFailure";
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a parent is not a directory",
};

/** Reads a file relative to the working directory (`-` = stdin); a failure is a one-line CliFailure. */
export function readText(io: CliIo, path: string): string {
  try {
    return readFileSync(path === "-" ? 0 : resolve(io.cwd, path), "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    throw new CliFailure(`cannot read ${path}: ${READ_ERRORS[code] ?? code ?? (err as Error).message}`);
  }
}

/** Parses a positive integer option. */
export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}`);
  return n;
}
