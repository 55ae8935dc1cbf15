#!/usr/bin/env node
/**
 * The `rxon` command line. Exit codes: 0 success, 1 failure (invalid input, bad signature...),
 * 2 usage error.
 */
import { pathToFileURL } from "node:url";
import { realpathSync } from "node:fs";
import { contractCommand } from "./contract.js";
import { codegenCommand } from "./codegen.js";
import { demoCommand } from "./demo.js";
import { hubCommand } from "./hub-command.js";
import { ExitCode, processIo, UsageError, type CliIo } from "./io.js";
import { keygenCommand } from "./keygen.js";
import { signCommand, verifyCommand } from "./sign.js";
import { cancelCommand, submitCommand, taskCommand } from "./submit-command.js";
import { validateCommand } from "./validate.js";
import { workerCommand } from "./worker-command.js";

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  demo: { run: demoCommand, summary: "hub + workers in one process, a batch of tasks, a summary" },
  hub: { run: hubCommand, summary: "run the reference hub (orchestrator)" },
  worker: { run: workerCommand, summary: "run a worker with skills from a module" },
  submit: { run: submitCommand, summary: "submit a task to a hub (client API); --wait for its outcome" },
  task: { run: taskCommand, summary: "show (or --wait for) a submitted task" },
  cancel: { run: cancelCommand, summary: "cancel a submitted task" },
  validate: { run: validateCommand, summary: "check a JSON file against a protocol model" },
  sign: { run: signCommand, summary: "sign a JSON message (HMAC-SHA256 or Ed25519)" },
  verify: { run: verifyCommand, summary: "verify a signed JSON message" },
  keygen: { run: keygenCommand, summary: "create an Ed25519 key pair" },
  contract: { run: (argv, io) => contractCommand([...argv], { stdout: (s) => void io.stdout.write(s), stderr: (s) => void io.stderr.write(s) }), summary: "skill contracts (see rxon contract --help)" },
  codegen: { run: codegenCommand, summary: "generate types and validators from a schema folder" },
  conformance: { run: (argv, io) => import("./conformance.js").then((m) => m.conformanceCommand(argv, io)), summary: "check a live orchestrator route by route" },
};

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
  if (name === "--version") {
    io.stdout.write("rxon 0.1.0\n");
    return ExitCode.OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr.write(`rxon: unknown command '${name}'\n\n${mainHelp}`);
    return ExitCode.USAGE;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`rxon ${name}: ${err.message}\nRun \`rxon ${name} --help\` for usage.\n`);
      return ExitCode.USAGE;
    }
    io.stderr.write(`rxon ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
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

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Long-running commands have closed everything; short ones must not wait on stray handles.
  if (code !== ExitCode.OK || !["hub", "worker"].includes(process.argv[2] ?? "")) setTimeout(() => process.exit(code), 50).unref();
}
