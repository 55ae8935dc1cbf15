/** `rxon hub`: runs the reference hub until SIGINT/SIGTERM. */
import { Hub } from "../hub/index.js";
import { loadConfig, optionsHelp, printableConfig, type OptionTable } from "./config.js";
import { loadClientTokens, loadCredentials } from "./credentials.js";
import { CliFailure, ExitCode, readText, UsageError, type CliIo } from "./io.js";
import { cliLogger, LOG_FORMATS, LOG_LEVELS, type CliLogLevel, type LogFormat } from "./log.js";
import { waitForSignal } from "./signals.js";

/**
 * Options of `rxon hub`, one line each: flag name, type, default, environment variable (default
 * `RXON_HUB_<NAME>`), secret or not. The same table drives parsing, `--config`, `--print-config`
 * and the help.
 */
export const HUB_OPTIONS = {
  port: { type: "int", arg: "<n>", default: 8080, max: 65535, help: "TCP port (0 = any free port)" },
  host: { type: "string", arg: "<addr>", default: "127.0.0.1", help: "interface (0.0.0.0 for all)" },
  tokens: { type: "string", arg: "<file.json>", env: "RXON_HUB_TOKENS_FILE", help: "worker credentials file (see below; RXON_TOKENS and RXON_GLOBAL_TOKEN add to it)" },
  insecure: { type: "boolean", default: false, help: "run without worker credentials (anyone may act as any worker)" },
  "client-tokens": { type: "string", arg: "<file|list>", env: "RXON_CLIENT_TOKENS", secret: true, help: "enable the client API with these X-Client-Token values: a file (one a line, # comments, or a JSON array) or a comma list (prefer a file or the env: argv is visible)" },
  "tls-cert": { type: "string", arg: "<file>", help: "serve HTTPS with this certificate (PEM)" },
  "tls-key": { type: "string", arg: "<file>", help: "its private key (PEM)" },
  "tls-ca": { type: "string", arg: "<file>", help: "CA bundle that verifies client certificates" },
  "require-client-cert": { type: "boolean", default: false, help: "refuse clients without a certificate signed by --tls-ca" },
  "heartbeat-interval": { type: "int", arg: "<ms>", default: 60_000, min: 1, help: "heartbeat interval expected of workers (TTL = 2x)" },
  "max-retries": { type: "int", arg: "<n>", default: 3, help: "re-runs after transient failures or lost workers" },
  "log-level": { type: "string", arg: "<level>", default: "info", env: "RXON_LOG_LEVEL", choices: LOG_LEVELS, help: LOG_LEVELS.join(", ") },
  "log-format": { type: "string", arg: "<format>", default: "json", env: "RXON_LOG_FORMAT", choices: LOG_FORMATS, help: "json (one object a line) or pretty" },
} as const satisfies OptionTable;

export const hubHelp = `Usage: rxon hub [options]

Runs the reference hub (orchestrator): workers connect to it; with --client-tokens, clients
submit tasks over HTTP (rxon submit, or POST /_client/tasks with X-Client-Token).

Options (each also from the environment variable in brackets, or from --config; a flag wins over
the environment, which wins over the file):
${optionsHelp("hub", HUB_OPTIONS)}

Worker credentials: {"worker-id": "secret"} or
{"tokens": {...}, "globalToken": "...", "ed25519Keys": {"worker-id": "<hex or PEM>"}}, from
--tokens, RXON_TOKENS (the same JSON, or id=secret,id=secret) and RXON_GLOBAL_TOKEN.

Logs go to stderr as JSON lines (snake_case keys, secrets redacted); stdout says where the hub
listens.

Exit codes: 0 after a clean shutdown, 1 on failure, 2 on usage errors.
`;

/** Runs the command; resolves with the exit code once the hub has stopped. */
export async function hubCommand(argv: readonly string[], io: CliIo, stop?: AbortSignal): Promise<number> {
  const config = loadConfig("hub", HUB_OPTIONS, argv, io);
  const values = config.values;
  if (config.help) return void io.stdout.write(hubHelp), ExitCode.OK;
  if (config.printConfig) return void io.stdout.write(JSON.stringify(printableConfig(HUB_OPTIONS, config), null, 2) + "\n"), ExitCode.OK;
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (values["require-client-cert"] === true && values["tls-ca"] === undefined) throw new UsageError("--require-client-cert needs --tls-ca");
  const auth = loadCredentials(io, values.tokens);
  const hasCredentials = Object.keys(auth.tokens ?? {}).length > 0 || auth.globalToken !== undefined || Object.keys(auth.ed25519Keys ?? {}).length > 0;
  if (!hasCredentials && values.insecure !== true && values["tls-ca"] === undefined) {
    throw new UsageError("no worker credentials: give --tokens, RXON_TOKENS or RXON_GLOBAL_TOKEN (or --insecure for development)");
  }
  const clientTokens = loadClientTokens(io, values["client-tokens"]);
  const secrets = [
    ...config.secrets,
    ...clientTokens,
    ...Object.values(auth.tokens ?? {}),
    ...(auth.globalToken !== undefined ? [auth.globalToken] : []),
  ].filter((s): s is string => typeof s === "string");
  const logger = cliLogger({ level: values["log-level"] as CliLogLevel, format: values["log-format"] as LogFormat, stream: io.stderr, secrets });
  const hub = new Hub({
    ...(clientTokens.length > 0 ? { clientTokens } : {}),
    auth: { ...auth, allowAnonymous: values.insecure === true },
    logger,
    heartbeatIntervalMs: values["heartbeat-interval"],
    maxRetries: values["max-retries"],
  });
  const tls =
    values["tls-cert"] !== undefined
      ? {
          cert: readText(io, values["tls-cert"]),
          key: readText(io, values["tls-key"]!),
          ...(values["tls-ca"] !== undefined ? { ca: readText(io, values["tls-ca"]), requestCert: true } : {}),
          rejectUnauthorized: values["require-client-cert"] === true,
        }
      : undefined;
  let server;
  try {
    server = await hub.listen({ port: values.port, host: values.host, ...(tls ? { tls } : {}) });
  } catch (err) {
    await hub.close();
    throw new CliFailure(`cannot listen on ${values.host}:${values.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (hub.insecure) logger.warn({ insecure: true }, "hub: running WITHOUT worker credentials (--insecure)");
  logger.info({ url: server.url, workers_configured: Object.keys(auth.tokens ?? {}).length, client_api: clientTokens.length > 0, client_tokens_count: clientTokens.length }, "hub: listening");
  io.stdout.write(`rxon hub listening on ${server.url}\n`);
  const signal = await waitForSignal(stop);
  logger.info({ signal }, "hub: shutting down");
  await hub.close();
  return ExitCode.OK;
}
