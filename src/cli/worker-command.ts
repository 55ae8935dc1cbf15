/** `rxon worker`: connects to a hub and runs skills from a module until SIGINT/SIGTERM. */
import { Worker } from "../worker/index.js";
import type { Resources } from "../../generated/types.js";
import { decode } from "../wire/codec.js";
import { parseJson } from "../wire/json.js";
import { isValidIdentifier } from "../contracts/identifiers.js";
import { loadConfig, optionsHelp, printableConfig, redactUrl, type ConfigSource, type OptionTable } from "./config.js";
import { CliFailure, ExitCode, readText, UsageError, type CliIo } from "./io.js";
import { cliLogger, LOG_FORMATS, LOG_LEVELS, type CliLogLevel, type LogFormat } from "./log.js";
import { importTooling } from "./optional.js";
import { loadSkills } from "./skills-module.js";
import { exitOnSecondSignal, waitForSignal } from "./signals.js";

/**
 * Options of `rxon worker`, one line each (environment variable default `RXON_WORKER_<NAME>`).
 * The same table drives parsing, `--config`, `--print-config` and the help.
 */
export const WORKER_OPTIONS = {
  url: { type: "string", arg: "<url>", urlWithPassword: true, help: "hub URL (http, https, ws, wss)" },
  id: { type: "string", arg: "<id>", help: "worker id (letters, digits, _ and -)" },
  skills: { type: "string", arg: "<module>", help: "module exporting the skills (.js; .ts on Node >= 22.18 or through tsx)" },
  token: { type: "string", arg: "<t>", env: "RXON_TOKEN", secret: true, help: "X-Worker-Token (prefer --token-file or the env: argv is visible)" },
  "token-file": { type: "string", arg: "<file>", env: "RXON_TOKEN_FILE", help: "read the token from a file" },
  secret: { type: "string", arg: "<s>", env: "RXON_SECRET", secret: true, help: "HMAC signing secret (default: the token)" },
  "secret-file": { type: "string", arg: "<file>", env: "RXON_SECRET_FILE", help: "read the HMAC signing secret from a file" },
  "ed25519-key": { type: "string", arg: "<file|hex>", env: "RXON_ED25519_KEY", secret: true, help: "sign with this Ed25519 private key instead of HMAC" },
  insecure: { type: "boolean", default: false, help: "run without a worker token (only for a hub that asks for none)" },
  "orchestrator-key-file": { type: "string", arg: "<file>", help: "run only tasks signed (sig) with the secret in this file" },
  "orchestrator-key": { type: "string", arg: "<key>", env: "RXON_ORCHESTRATOR_KEY", secret: true, help: "the same secret given directly (prefer the file or the env)" },
  resources: { type: "string", arg: "<json|file>", help: `Resources offered, e.g. '{"devices":[{"type":"gpu","properties":{"vram_gb":24}}]}'` },
  concurrency: { type: "int", arg: "<n>", default: 1, min: 1, help: "tasks run at the same time" },
  "heartbeat-interval": { type: "int", arg: "<ms>", default: 15_000, min: 1, help: "heartbeat interval" },
  grace: { type: "int", arg: "<ms>", default: 10_000, help: "how long a shutdown waits for running tasks" },
  "tls-ca": { type: "string", arg: "<file>", help: "CA that verifies the hub's certificate" },
  "tls-cert": { type: "string", arg: "<file>", help: "client certificate (mTLS)" },
  "tls-key": { type: "string", arg: "<file>", help: "its key" },
  "metrics-port": { type: "int", arg: "<n>", max: 65535, help: "serve the worker's /metrics on this port (needs prom-client)" },
  "metrics-host": { type: "string", arg: "<addr>", default: "127.0.0.1", help: "interface of --metrics-port" },
  "log-level": { type: "string", arg: "<level>", default: "info", env: "RXON_LOG_LEVEL", choices: LOG_LEVELS, help: LOG_LEVELS.join(", ") },
  "log-format": { type: "string", arg: "<format>", default: "json", env: "RXON_LOG_FORMAT", choices: LOG_FORMATS, help: "json (one object a line) or pretty" },
} as const satisfies OptionTable;

export const workerHelp = `Usage: rxon worker --url <hub url> --id <worker id> --skills <module> [options]

Registers with a hub, heartbeats, polls for tasks and runs the skills exported by <module>
(values made with defineSkill; see examples/skills.ts). SIGINT/SIGTERM drain: no new work, tasks
in hand finish (up to --grace), then a final offline heartbeat.

Options (each also from the environment variable in brackets, or from --config; a flag wins over
the environment, which wins over the file):
${optionsHelp("worker", WORKER_OPTIONS)}

Logs go to stderr as JSON lines (snake_case keys, secrets redacted).
Exit codes: 0 after a clean shutdown, 1 on failure, 2 on usage errors.
`;

const RANK: Record<ConfigSource, number> = { flag: 3, env: 2, file: 1, default: 0 };

/** Inline JSON that is wrong is a usage error (2); a file whose content is wrong, a failure (1). */
function readResources(io: CliIo, value: string): Resources {
  const inline = value.trim().startsWith("{");
  const text = inline ? value : readText(io, value);
  try {
    return decode("Resources", parseJson(text));
  } catch (err) {
    const message = `--resources${inline ? "" : ` ${value}`}: ${(err as Error).message}`;
    throw inline ? new UsageError(message) : new CliFailure(message);
  }
}

/** Runs the command; resolves with the exit code once the worker has stopped. */
export async function workerCommand(argv: readonly string[], io: CliIo, stop?: AbortSignal): Promise<number> {
  const config = loadConfig("worker", WORKER_OPTIONS, argv, io);
  const values = config.values;
  if (config.help) return void io.stdout.write(workerHelp), ExitCode.OK;
  if (config.printConfig) return void io.stdout.write(JSON.stringify(printableConfig(WORKER_OPTIONS, config), null, 2) + "\n"), ExitCode.OK;
  if (values.url === undefined || values.id === undefined || values.skills === undefined) throw new UsageError("--url, --id and --skills are required");
  // Malformed values of options are usage errors (exit 2) naming the option, before anything is loaded.
  if (!isValidIdentifier(values.id)) throw new UsageError(`--id must be letters, digits, _ and - only, not '${String(values.id).slice(0, 64)}'`);
  let hubUrl: URL;
  try {
    hubUrl = new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${redactUrl(values.url)}`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(hubUrl.protocol)) throw new UsageError(`--url must be http, https, ws or wss, not ${hubUrl.protocol}`);
  // A value or the file holding it: the one from the stronger source; both from the same one is a mistake.
  const valueOrFile = (name: "token" | "secret"): string | undefined => {
    const file = `${name}-file` as const;
    const valueRank = values[name] !== undefined ? RANK[config.sources[name] ?? "default"] : -1;
    const fileRank = values[file] !== undefined ? RANK[config.sources[file] ?? "default"] : -1;
    if (valueRank >= 0 && valueRank === fileRank) throw new UsageError(`give --${name} or --${file}, not both`);
    return fileRank > valueRank ? readText(io, values[file]!).trim() : values[name];
  };
  const token = valueOrFile("token") ?? "";
  const ed25519Key = values["ed25519-key"];
  // The Python SDK signs with its token; so does this worker unless told otherwise.
  const secret = valueOrFile("secret") ?? (ed25519Key === undefined && token !== "" ? token : undefined);
  if (token === "" && values["tls-cert"] === undefined && values.insecure !== true) {
    // A worker without credentials is almost always a missing variable, not a choice: say so before connecting.
    throw new UsageError("no worker token: give --token-file, --token or RXON_TOKEN (or --tls-cert for mTLS, or --insecure to run without one)");
  }
  const keyFile = values["orchestrator-key-file"];
  const orchestratorKey = keyFile !== undefined ? readText(io, keyFile).trim() : values["orchestrator-key"] || undefined;
  if (orchestratorKey === "") throw new UsageError(`the orchestrator key file ${keyFile} is empty`);
  const tlsCa = values["tls-ca"];
  const tlsCert = values["tls-cert"];
  const tlsKey = values["tls-key"];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  const keyText = ed25519Key !== undefined ? readKeyText(io, ed25519Key) : undefined;
  const logger = cliLogger({
    level: values["log-level"] as CliLogLevel,
    format: values["log-format"] as LogFormat,
    stream: io.stderr,
    secrets: [...config.secrets, token, secret ?? "", keyText ?? "", orchestratorKey ?? ""].filter((s) => s !== ""),
  });
  // Options first (cheap, and usage errors should not wait on loading a module), then the skills.
  const resources = values.resources !== undefined ? readResources(io, values.resources) : undefined;
  const skills = await loadSkills(values.skills, io.cwd);
  const worker = new Worker({
    url: values.url,
    workerId: values.id,
    token,
    skills,
    logger,
    concurrency: values.concurrency,
    heartbeatIntervalMs: values["heartbeat-interval"],
    ...(resources !== undefined ? { resources } : {}),
    ...(secret !== undefined && secret !== "" ? { secret } : {}),
    ...(keyText !== undefined ? { ed25519Key: keyText } : {}),
    ...(orchestratorKey !== undefined ? { orchestratorKey } : {}),
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
  const metricsPort = values["metrics-port"];
  const ops = metricsPort === undefined ? undefined : await (await importTooling("metrics", () => import("./ops.js"))).workerOps(worker, { metricsPort, metricsHost: values["metrics-host"], concurrency: values.concurrency });
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
  // The Worker adds `worker_id` to its own lines; this one is the command's.
  if (refused === undefined) logger.info({ worker_id: values.id, signal }, "worker: draining");
  const forced =
    signal === "SIGINT" || signal === "SIGTERM"
      ? exitOnSecondSignal((second) =>
          logger.warn({ worker_id: values.id, signal: second, in_flight: worker.stats.inFlight }, "worker: second signal, exiting now; tasks still running are abandoned (the hub runs them again once their leases lapse)"),
        )
      : undefined;
  await worker.stop({ graceMs: values.grace });
  forced?.();
  await started;
  await ops?.close();
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
