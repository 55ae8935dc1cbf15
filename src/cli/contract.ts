/**
 * `rxon contract <file.ts> [--export <name>] [--name <skill>] [--version <v>]`: prints the
 * SkillInfo JSON inferred from a TypeScript file's exported functions (or one exported function,
 * interface or type alias). Exit codes: 0 printed, 1 the file could not be described, 2 usage.
 */
import { resolve } from "node:path";
import { isRxonError } from "../errors.js";
import { importTooling } from "./optional.js";

/** Where output goes: a function, or anything with `write` (a stream, the CLI's io). */
export type OutputSink = ((text: string) => void) | { write(text: string): unknown };

/** The command's input/output; `cwd` resolves a relative file path (default: the process's). */
export interface ContractIo {
  stdout: OutputSink;
  stderr: OutputSink;
  cwd?: string;
}

const USAGE = `usage: rxon contract <file.ts> [--export <name>] [--name <skill>] [--version <version>]

Prints SkillInfo JSON inferred from TypeScript types: for each exported function, its first
parameter type becomes input_schema and its (awaited) return type output_schema. With --export,
only that function; an exported interface or type alias becomes the input_schema.
Without --export the output is a JSON array; with it, a single object.
Needs ts-morph (npm install --save-dev ts-morph).`;

/** Runs the `contract` command; returns the process exit code. */
export async function contractCommand(argv: readonly string[], sinks: ContractIo): Promise<number> {
  const emit = (sink: OutputSink) => (text: string): void => void (typeof sink === "function" ? sink(text) : sink.write(text));
  const io = { stdout: emit(sinks.stdout), stderr: emit(sinks.stderr) };
  const flags: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      io.stdout(USAGE + "\n");
      return 0;
    }
    const m = /^--(export|name|version)(?:=(.*))?$/.exec(arg);
    if (m) {
      const value = m[2] ?? argv[++i];
      if (value === undefined || value === "") {
        io.stderr(`--${m[1]} needs a value\n${USAGE}\n`);
        return 2;
      }
      flags[m[1]!] = value;
    } else if (arg.startsWith("-")) {
      io.stderr(`unknown option ${arg}\n${USAGE}\n`);
      return 2;
    } else positional.push(arg);
  }
  if (positional.length !== 1) {
    io.stderr(`${USAGE}\n`);
    return 2;
  }
  let contractsFromFile: typeof import("../contracts/from-types.js").contractsFromFile;
  try {
    // Loaded here: ts-morph is heavy, optional, and only this command needs it.
    ({ contractsFromFile } = await importTooling("contract", () => import("../contracts/from-types.js")));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n`);
    return 1;
  }
  try {
    const { skills, warnings } = contractsFromFile(resolve(sinks.cwd ?? process.cwd(), positional[0]!), { export: flags.export, name: flags.name, version: flags.version });
    for (const w of warnings) io.stderr(`warning: ${w}\n`);
    io.stdout(JSON.stringify(flags.export === undefined ? skills : skills[0], null, 2) + "\n");
    return 0;
  } catch (err) {
    io.stderr(`rxon contract: ${isRxonError(err) ? err.message : "cannot describe the file"}\n`);
    return 1;
  }
}
