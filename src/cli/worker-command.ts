/** `rxon worker`: connects to a hub and runs skills from a module until SIGINT/SIGTERM. */
import { Worker } from "../worker/index.js";
import type { Resources } from "../../generated/types.js";
import { decode } from "../wire/codec.js";
import { parseJson } from "../wire/json.js";
import { consoleLogger, type LogLevel } from "../logger.js";
import { ExitCode, intOption, parse, readText, UsageError, type CliIo } from "./io.js";
import { loadSkills } from "./skills-module.js";
import { waitForSignal } from "./signals.js";

export const workerHelp = `Usage: rxon worker --url <hub url> --id <worker id> --skills <module> [options]

Registers with a hub, heartbeats, polls for tasks and runs the skills exported by <module>
(values made with defineSkill; see examples/skills.ts). SIGINT/SIGTERM drain: no new work, tasks
in hand finish (up to --grace), then a final offline heartbeat.

Options:
  --url <url>                hub URL (http, https, ws, wss)
  --id <id>                  worker id (letters, digits, _ and -)
  --skills <module>          module exporting the skills (.ts works when run with tsx)
  --token <t>                X-Worker-Token (prefer --token-file or RXON_TOKEN: argv is visible)
  --token-file <file>        read the token from a file
  --insecure                 run without a worker token (only for a hub that asks for none)
  --secret <s>               HMAC signing secret (default: the token; or RXON_SECRET)
  --ed25519-key <file|hex>   sign with Ed25519 instead of HMAC
  --orchestrator-key-file <file>
                             run only tasks signed (sig) with this secret (or RXON_ORCHESTRATOR_KEY)
  --resources <json|file>    Resources offered, e.g. '{"devices":[{"type":"gpu","properties":{"vram_gb":24}}]}'
  --concurrency <n>          tasks run at the same time (default 1)
  --heartbeat-interval <ms>  heartbeat interval (default 15000)
  --grace <ms>               how long a shutdown waits for running tasks (default 10000)
  --tls-ca <file>            CA that verifies the hub's certificate
  --tls-cert <file>          client certificate (mTLS)
  --tls-key <file>           its key
  --log-level <level>        debug, info, warn, error, silent (default info)
  -h, --help                 show this help
`;

const LEVELS = ["debug", "info", "warn", "error", "silent"];

function readResources(io: CliIo, value: string): Resources {
  const text = value.trim().startsWith("{") ? value : readText(io, value);
  return decode("Resources", parseJson(text));
}

/** Runs the command; resolves with the exit code once the worker has stopped. */
export async function workerCommand(argv: readonly string[], io: CliIo, stop?: AbortSignal): Promise<number> {
  const { values } = parse(
    argv,
    {
      url: { type: "string" },
      id: { type: "string" },
      skills: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      secret: { type: "string" },
      "ed25519-key": { type: "string" },
      resources: { type: "string" },
      concurrency: { type: "string" },
      "heartbeat-interval": { type: "string" },
      grace: { type: "string" },
      "tls-ca": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "log-level": { type: "string" },
      insecure: { type: "boolean" },
      "orchestrator-key-file": { type: "string" },
    },
    false,
  );
  if (values.help) return void io.stdout.write(workerHelp), ExitCode.OK;
  if (values.url === undefined || values.id === undefined || values.skills === undefined) throw new UsageError("--url, --id and --skills are required");
  const level = values["log-level"] ?? "info";
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}`);
  const token = values.token ?? (values["token-file"] !== undefined ? readText(io, values["token-file"]).trim() : io.env.RXON_TOKEN) ?? "";
  // The Python SDK signs with its token; so does this worker unless told otherwise.
  const secret = values.secret ?? io.env.RXON_SECRET ?? (values["ed25519-key"] === undefined && token !== "" ? token : undefined);
  if (token === "" && values["tls-cert"] === undefined && values.insecure !== true) {
    // A worker without credentials is almost always a missing variable, not a choice: say so before connecting.
    throw new UsageError("no worker token: give --token-file, --token or RXON_TOKEN (or --tls-cert for mTLS, or --insecure to run without one)");
  }
  const keyFile = values["orchestrator-key-file"];
  const orchestratorKey = keyFile !== undefined ? readText(io, keyFile).trim() : io.env.RXON_ORCHESTRATOR_KEY || undefined;
  if (orchestratorKey === "") throw new UsageError(`the orchestrator key file ${keyFile} is empty`);
  const skills = await loadSkills(values.skills, io.cwd);
  const logger = consoleLogger(level as LogLevel, io.stderr);
  const tlsCa = values["tls-ca"];
  const tlsCert = values["tls-cert"];
  const tlsKey = values["tls-key"];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  const worker = new Worker({
    url: values.url,
    workerId: values.id,
    token,
    skills,
    logger,
    concurrency: intOption(values.concurrency, "concurrency", 1, 1),
    heartbeatIntervalMs: intOption(values["heartbeat-interval"], "heartbeat-interval", 15_000, 1),
    ...(values.resources !== undefined ? { resources: readResources(io, values.resources) } : {}),
    ...(secret !== undefined && secret !== "" ? { secret } : {}),
    ...(orchestratorKey !== undefined ? { orchestratorKey } : {}),
    ...(values["ed25519-key"] !== undefined ? { ed25519Key: readKeyText(io, values["ed25519-key"]) } : {}),
    ...(tlsCa !== undefined || tlsCert !== undefined
      ? {
          transportOptions: {
            tls: {
              ...(tlsCa !== undefined ? { ca: readText(io, tlsCa) } : {}),
              ...(tlsCert !== undefined ? { cert: readText(io, tlsCert), key: readText(io, tlsKey!) } : {}),
            },
          },
        }
      : {}),
  });
  worker.on("registered", ({ count }) => io.stdout.write(`rxon worker ${values.id} registered (${count})\n`));
  // Ends on SIGINT/SIGTERM, on `stop`, or when the hub refuses the worker's credentials for good.
  const quit = new AbortController();
  const onStop = (): void => quit.abort();
  if (stop?.aborted) quit.abort();
  else stop?.addEventListener("abort", onStop, { once: true });
  let refused: unknown;
  const started = worker.start().catch((err: unknown) => {
    refused = err;
    quit.abort();
  });
  const signal = await waitForSignal(quit.signal);
  stop?.removeEventListener("abort", onStop);
  if (refused === undefined) logger.info(`worker: ${signal}, draining`);
  await worker.stop({ graceMs: intOption(values.grace, "grace", 10_000) });
  await started;
  if (refused !== undefined) {
    io.stderr.write(`rxon worker ${values.id}: ${refused instanceof Error ? refused.message : String(refused)}\n`);
    return ExitCode.FAILURE;
  }
  io.stdout.write(`rxon worker ${values.id} stopped\n`);
  return ExitCode.OK;
}

function readKeyText(io: CliIo, value: string): string {
  return /^[0-9a-fA-F]{64}$/.test(value.trim()) ? value.trim() : readText(io, value);
}
