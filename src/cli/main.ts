#!/usr/bin/env node
/**
 * The `rxon` command line. One rule for exit codes: 0 success; 1 the command line was fine but
 * the work failed (a file missing or invalid, a bad signature, a refusal, a network error);
 * 2 usage error (unknown option, missing or malformed option value from a flag, the environment
 * or --config).
 */
import { pathToFileURL } from "node:url";
import { realpathSync } from "node:fs";
import { ExitCode, processIo, UsageError, type CliIo } from "./io.js";
import { importTooling } from "./optional.js";

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

// Each command is imported only when it runs: `rxon --version` must not load the hub, the
// worker, ajv or the codegen tooling.
const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  demo: { load: async () => (await importTooling("demo", () => import("./demo.js"))).demoCommand, summary: "hub + workers in one process, a batch of tasks, a summary" },
  hub: { load: async () => (await import("./hub-command.js")).hubCommand, summary: "run the reference hub (orchestrator)" },
  worker: { load: async () => (await import("./worker-command.js")).workerCommand, summary: "run a worker with skills from a module" },
  submit: { load: async () => (await import("./submit-command.js")).submitCommand, summary: "submit a task to a hub (client API); --wait for its outcome" },
  task: { load: async () => (await import("./submit-command.js")).taskCommand, summary: "show (or --wait for) a submitted task" },
  cancel: { load: async () => (await import("./submit-command.js")).cancelCommand, summary: "cancel a submitted task" },
  validate: { load: async () => (await import("./validate.js")).validateCommand, summary: "check a JSON file against a protocol model" },
  sign: { load: async () => (await import("./sign.js")).signCommand, summary: "sign a JSON message (HMAC-SHA256 or Ed25519)" },
  verify: { load: async () => (await import("./sign.js")).verifyCommand, summary: "verify a signed JSON message" },
  keygen: { load: async () => (await import("./keygen.js")).keygenCommand, summary: "create an Ed25519 key pair" },
  contract: {
    load: async () => {
      const { contractCommand } = await import("./contract.js");
      return (argv, io) => contractCommand([...argv], { stdout: (s) => void io.stdout.write(s), stderr: (s) => void io.stderr.write(s), cwd: io.cwd });
    },
    summary: "skill contracts from TypeScript types (needs ts-morph)",
  },
  codegen: { load: async () => (await import("./codegen.js")).codegenCommand, summary: "types and validators from a schema folder (needs json-schema-to-typescript, ts-morph)" },
  conformance: { load: async () => (await import("./conformance.js")).conformanceCommand, summary: "check a live orchestrator route by route" },
};

/** The package version, read from package.json next to the build (no JSON import at load time). */
async function version(): Promise<string> {
  const { readFileSync } = await import("node:fs");
  for (const rel of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "rxon" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not at this level (src/cli in a clone, dist/src/cli in the package)
    }
  }
  return "unknown";
}

/** Top-level help text. */
export const mainHelp = `Usage: rxon <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Run \`rxon <command> --help\` for the options of a command.
Exit codes: 0 success, 1 failure, 2 usage error.
`;

/** Runs the command line `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(mainHelp);
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    io.stdout.write(`rxon ${await version()}\n`);
    return ExitCode.OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr.write(`rxon: unknown command '${name}'\n\n${mainHelp}`);
    return ExitCode.USAGE;
  }
  try {
    const run = await command.load();
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`rxon ${name}: ${err.message}\nRun \`rxon ${name} --help\` for usage.\n`);
      return ExitCode.USAGE;
    }
    // One line, never a stack: CliFailure and rxon errors carry a message meant for people.
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    io.stderr.write(`rxon ${name}: ${message}\n`);
    return ExitCode.FAILURE;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

/**
 * How long a long-running command that ended well may take to exit by itself: it has closed
 * everything, but a skill handler that ignored its abort (the worker names it in a warn line) can
 * hold the process open with its own timers or sockets for ever.
 */
const LINGER_MS = 2_000;

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Short commands must not wait on stray handles; long-running ones exit by themselves, at the latest after LINGER_MS.
  const short = code !== ExitCode.OK || !["hub", "worker"].includes(process.argv[2] ?? "");
  setTimeout(() => process.exit(code), short ? 50 : LINGER_MS).unref();
}
