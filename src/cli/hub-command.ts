/** `rxon hub`: runs the reference hub until SIGINT/SIGTERM. */
import { Hub, type HubStore } from "../hub/index.js";
import { DEFAULT_CLASSES_PER_SKILL } from "../hub/core.js";
import type { Logger } from "../logger.js";
import type { HubOps } from "./ops.js";
import { importTooling } from "./optional.js";
import { loadConfig, optionsHelp, printableConfig, redactUrl, type OptionTable } from "./config.js";
import { loadClientTokens, loadCredentials } from "./credentials.js";
import { CliFailure, ExitCode, readText, UsageError, type CliIo } from "./io.js";
import { cliLogger, LOG_FORMATS, LOG_LEVELS, type CliLogLevel, type LogFormat } from "./log.js";
import { exitOnSecondSignal, waitForSignal } from "./signals.js";

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
  "admin-tokens": { type: "string", arg: "<file|list>", env: "RXON_ADMIN_TOKENS", secret: true, help: "client tokens with the admin scope (see every job, open the dashboard); same forms as --client-tokens" },
  store: { type: "string", arg: "<url>", default: "memory", env: "RXON_STORE", urlWithPassword: true, help: "where state lives: memory, or redis://[user:pass@]host:port/db (several hubs on one Redis serve one fleet)" },
  "store-prefix": { type: "string", arg: "<prefix>", default: "rxon", env: "RXON_STORE_PREFIX", help: "key prefix in the Redis store (one fleet per prefix)" },
  "store-timeout": { type: "int", arg: "<ms>", default: 5000, min: 1, env: "RXON_STORE_TIMEOUT", help: "longest wait for a Redis command, reconnects included; requests that need the store are then answered 503" },
  "heartbeat-interval": { type: "int", arg: "<ms>", default: 15_000, min: 1, help: "heartbeat interval expected of workers (a worker is gone after 3x without one)" },
  "lease-grace": { type: "int", arg: "<ms>", min: 1, help: "re-queue a task its worker has not listed for this long (default 2x heartbeat interval)" },
  "max-retries": { type: "int", arg: "<n>", default: 3, help: "re-runs after transient failures or lost workers" },
  "queue-limit": { type: "int", arg: "<n>", min: 1, help: "most waiting tasks in all (then 429)" },
  "queue-limit-per-skill": { type: "int", arg: "<n>", min: 1, help: "most waiting tasks per skill (then 429)" },
  "queue-limit-per-client": { type: "int", arg: "<n>", min: 1, help: "most waiting tasks per client token (then 429)" },
  "queue-classes-per-skill": { type: "int", arg: "<n>", min: 1, default: DEFAULT_CLASSES_PER_SKILL, help: "most distinct requirement classes with tasks waiting per skill (then 429)" },
  "max-skill-calls-per-worker": { type: "int", arg: "<n>", help: "most POST /skills/call requests one worker holds open at once (default 256; 0 = no cap; then 429)" },
  "max-waits-per-client": { type: "int", arg: "<n>", help: "most ?wait requests one client token holds open at once (default 1024; 0 = no cap; then 429)" },
  "max-connections": { type: "int", arg: "<n>", help: "most open connections in all (default 4096; 0 = no cap); keep it below ulimit -n" },
  "max-connections-per-address": { type: "int", arg: "<n>", help: "most open connections from one address, IPv6 /64 (default 256; 0 = no cap, e.g. behind a reverse proxy, whose connections all come from its addresses)" },
  "stranger-idle-timeout": { type: "int", arg: "<ms>", help: "close a connection that waits this long for a request before any of its requests was authenticated (default 5000; 0 = off, e.g. behind a reverse proxy with a longer idle time)" },
  "orchestrator-key-file": { type: "string", arg: "<file>", env: "RXON_ORCHESTRATOR_KEY_FILE", help: "sign every dispatched task (sig) with the secret in this file" },
  dashboard: { type: "boolean", default: false, help: "serve the live dashboard at /_dashboard (admins sign in with an --admin-tokens token)" },
  "metrics-port": { type: "int", arg: "<n>", max: 65535, help: "serve /metrics only on this port (default: on the hub's port, if prom-client is installed)" },
  "metrics-host": { type: "string", arg: "<addr>", default: "127.0.0.1", help: "interface of --metrics-port" },
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
  const adminTokens = loadClientTokens(io, values["admin-tokens"]);
  if (values.dashboard === true && adminTokens.length === 0) throw new UsageError("--dashboard needs --admin-tokens (admins sign in to the dashboard with one)");
  const orchestratorKey = values["orchestrator-key-file"] !== undefined ? readText(io, values["orchestrator-key-file"]).trim() : undefined;
  if (orchestratorKey === "") throw new UsageError(`the orchestrator key file ${values["orchestrator-key-file"]} is empty`);
  const store = await openStore(values.store, values["store-prefix"], values["store-timeout"]);
  const secrets = [
    ...config.secrets,
    ...clientTokens,
    ...adminTokens,
    ...(orchestratorKey !== undefined ? [orchestratorKey] : []),
    ...Object.values(auth.tokens ?? {}),
    ...(auth.globalToken !== undefined ? [auth.globalToken] : []),
  ].filter((s): s is string => typeof s === "string");
  const logger = cliLogger({ level: values["log-level"] as CliLogLevel, format: values["log-format"] as LogFormat, stream: io.stderr, secrets });
  const allClientTokens = [...clientTokens, ...adminTokens.map((token) => ({ token, scope: "admin" as const }))];
  const queueLimits = {
    ...(values["queue-limit"] !== undefined ? { total: values["queue-limit"] } : {}),
    ...(values["queue-limit-per-skill"] !== undefined ? { perSkill: values["queue-limit-per-skill"] } : {}),
    ...(values["queue-limit-per-client"] !== undefined ? { perOwner: values["queue-limit-per-client"] } : {}),
    classesPerSkill: values["queue-classes-per-skill"],
  };
  const hub = new Hub({
    ...(allClientTokens.length > 0 ? { clientTokens: allClientTokens } : {}),
    ...(values["max-waits-per-client"] !== undefined ? { clientApi: { maxWaitsPerClient: values["max-waits-per-client"] } } : {}),
    ...(store !== undefined ? { store } : {}),
    auth: { ...auth, allowAnonymous: values.insecure === true },
    logger,
    heartbeatIntervalMs: values["heartbeat-interval"],
    ...(values["lease-grace"] !== undefined ? { leaseGraceMs: values["lease-grace"] } : {}),
    maxRetries: values["max-retries"],
    ...(values["max-skill-calls-per-worker"] !== undefined ? { maxSkillCallsPerWorker: values["max-skill-calls-per-worker"] } : {}),
    queueLimits,
    ...(orchestratorKey !== undefined ? { orchestratorKey } : {}),
    ...(values.dashboard === true ? { dashboard: true } : {}),
  });
  const ops = await opsFor(hub, values["metrics-port"], values["metrics-host"], logger);
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
    const limits = {
      ...(values["max-connections"] !== undefined ? { maxConnections: values["max-connections"] } : {}),
      ...(values["max-connections-per-address"] !== undefined ? { maxConnectionsPerAddress: values["max-connections-per-address"] } : {}),
      ...(values["stranger-idle-timeout"] !== undefined ? { strangerIdleTimeoutMs: values["stranger-idle-timeout"] } : {}),
    };
    server = await hub.listen({ ...ops?.listen, port: values.port, host: values.host, limits, ...(tls ? { tls } : {}) });
  } catch (err) {
    await hub.close();
    await ops?.close();
    await store?.close();
    throw new CliFailure(`cannot listen on ${values.host}:${values.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (hub.insecure) logger.warn({ insecure: true }, "hub: running WITHOUT worker credentials (--insecure)");
  logger.info(
    { url: server.url, store: values.store === "memory" ? "memory" : "redis", workers_configured: Object.keys(auth.tokens ?? {}).length, client_api: allClientTokens.length > 0, client_tokens_count: allClientTokens.length, dashboard: values.dashboard === true },
    "hub: listening",
  );
  io.stdout.write(`rxon hub listening on ${server.url}\n`);
  const signal = await waitForSignal(stop);
  logger.info({ signal }, "hub: shutting down");
  const forced = signal === "SIGINT" || signal === "SIGTERM" ? exitOnSecondSignal((second) => logger.warn({ signal: second }, "hub: second signal, exiting now")) : undefined;
  await hub.close();
  await ops?.close();
  await store?.close();
  forced?.();
  return ExitCode.OK;
}

/** The store of `--store`: undefined for memory (the hub's default), a RedisStore for redis:// URLs. */
async function openStore(url: string, prefix: string, commandTimeoutMs: number): Promise<HubStore | undefined> {
  if (url === "memory") return undefined;
  if (!/^rediss?:\/\//.test(url)) throw new UsageError(`--store must be memory or a redis:// URL, not '${url.slice(0, 64)}'`);
  const { RedisStore, storeNotNow } = await importTooling("redis", () => import("../hub/redis/redis-store.js"));
  let store: HubStore;
  try {
    store = new RedisStore({ url, prefix, commandTimeoutMs });
  } catch (err) {
    throw new UsageError(`--store-prefix: ${(err as Error).message}`);
  }
  // A Redis starting beside the hub (not listening yet, or loading its file) is waited for, up to
  // --store-timeout; one that refuses the hub (a wrong password) fails at once.
  const deadline = Date.now() + Math.max(1000, commandTimeoutMs);
  for (;;) {
    try {
      await store.ping();
      return store;
    } catch (err) {
      if (!storeNotNow(err) || Date.now() >= deadline) {
        await store.close();
        throw new CliFailure(`cannot reach the store at ${redactUrl(url)}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Metrics, spans and readiness when prom-client is installed (an optional peer dependency):
 * `/metrics` on the hub's port, or only on `--metrics-port`. Without it, `--metrics-port` is a
 * failure naming the package; otherwise the hub runs without metrics and says so once.
 */
async function opsFor(hub: Hub, metricsPort: number | undefined, metricsHost: string, logger: Logger): Promise<HubOps | undefined> {
  try {
    const { hubOps } = await importTooling("metrics", () => import("./ops.js"));
    return await hubOps(hub, { ...(metricsPort !== undefined ? { metricsPort } : {}), metricsHost });
  } catch (err) {
    if (metricsPort !== undefined || !(err instanceof CliFailure)) throw err;
    logger.info({ reason: err.message }, "hub: metrics off");
    return undefined;
  }
}
