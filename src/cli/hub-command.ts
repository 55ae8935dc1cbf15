/** `rxon hub`: runs the reference hub until SIGINT/SIGTERM. */
import { Hub } from "../hub/index.js";
import { consoleLogger, type LogLevel } from "../logger.js";
import { loadClientTokens, loadCredentials } from "./credentials.js";
import { ExitCode, intOption, parse, readText, UsageError, type CliIo } from "./io.js";
import { waitForSignal } from "./signals.js";

export const hubHelp = `Usage: rxon hub [options]

Runs the reference hub (orchestrator): workers connect to it; with --client-tokens, clients
submit tasks over HTTP (rxon submit, or POST /_client/tasks with X-Client-Token).

Options:
  --port <n>                 TCP port (default 8080; 0 = any free port)
  --host <addr>              interface (default 127.0.0.1; 0.0.0.0 for all)
  --tokens <file.json>       worker credentials: {"worker-id": "secret"} or
                             {"tokens": {...}, "globalToken": "...", "ed25519Keys": {...}}
                             (also RXON_TOKENS and RXON_GLOBAL_TOKEN)
  --insecure                 run without credentials (anyone may act as any worker)
  --client-tokens <file|list>  enable the client API with these X-Client-Token values: a file
                             (one token a line, # comments; or a JSON array) or a comma list
                             (also RXON_CLIENT_TOKENS; prefer a file or the env: argv is visible)
  --tls-cert <file>          serve HTTPS with this certificate (PEM)
  --tls-key <file>           its private key (PEM)
  --tls-ca <file>            CA bundle that verifies client certificates
  --require-client-cert      refuse clients without a certificate signed by --tls-ca
  --heartbeat-interval <ms>  heartbeat interval expected of workers (TTL = 2x; default 60000)
  --max-retries <n>          re-runs after transient failures or lost workers (default 3)
  --log-level <level>        debug, info, warn, error, silent (default info)
  -h, --help                 show this help

Exit codes: 0 after a clean shutdown, 1 on failure, 2 on usage errors.
`;

const LEVELS = ["debug", "info", "warn", "error", "silent"];

/** Runs the command; resolves with the exit code once the hub has stopped. */
export async function hubCommand(argv: readonly string[], io: CliIo, stop?: AbortSignal): Promise<number> {
  const { values } = parse(
    argv,
    {
      port: { type: "string" },
      host: { type: "string" },
      tokens: { type: "string" },
      insecure: { type: "boolean" },
      "client-tokens": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-ca": { type: "string" },
      "require-client-cert": { type: "boolean" },
      "heartbeat-interval": { type: "string" },
      "max-retries": { type: "string" },
      "log-level": { type: "string" },
    },
    false,
  );
  if (values.help) return void io.stdout.write(hubHelp), ExitCode.OK;
  const level = values["log-level"] ?? "info";
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}`);
  const port = intOption(values.port, "port", 8080);
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (values["require-client-cert"] && values["tls-ca"] === undefined) throw new UsageError("--require-client-cert needs --tls-ca");
  const auth = loadCredentials(io, values.tokens);
  const hasCredentials = Object.keys(auth.tokens ?? {}).length > 0 || auth.globalToken !== undefined;
  if (!hasCredentials && !values.insecure && values["tls-ca"] === undefined) {
    throw new UsageError("no worker credentials: give --tokens, RXON_TOKENS or RXON_GLOBAL_TOKEN (or --insecure for development)");
  }
  const clientTokens = loadClientTokens(io, values["client-tokens"]);
  const logger = consoleLogger(level as LogLevel, io.stderr);
  const hub = new Hub({
    ...(clientTokens.length > 0 ? { clientTokens } : {}),
    auth: { ...auth, allowAnonymous: values.insecure === true },
    logger,
    heartbeatIntervalMs: intOption(values["heartbeat-interval"], "heartbeat-interval", 60_000, 1),
    maxRetries: intOption(values["max-retries"], "max-retries", 3),
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
    server = await hub.listen({ port, host: values.host ?? "127.0.0.1", ...(tls ? { tls } : {}) });
  } catch (err) {
    await hub.close();
    io.stderr.write(`rxon hub: cannot listen: ${(err as Error).message}\n`);
    return ExitCode.FAILURE;
  }
  if (hub.insecure) logger.warn("hub: running WITHOUT worker credentials (--insecure)");
  if (clientTokens.length > 0) logger.info(`hub: client API enabled at ${server.url}/_client/tasks (${clientTokens.length} token${clientTokens.length > 1 ? "s" : ""})`);
  io.stdout.write(`rxon hub listening on ${server.url}\n`);
  await waitForSignal(stop);
  logger.info("hub: shutting down");
  await hub.close();
  return ExitCode.OK;
}
