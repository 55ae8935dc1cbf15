/**
 * Serving a hub over HTTP(S): a node:http(s) server with the listener attached.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Header, ProtocolVersion } from "../../generated/constants.js";
import { RxonListener, type PreAuthenticate, type RateLimitOptions } from "../listener/index.js";
import type { RxonHandler } from "../listener/types.js";
import type { Logger } from "../logger.js";
import type { HubServerLimits, ListenOptions } from "./listen-options.js";
import { opsMount } from "./ops-mount.js";

export type { HubServerLimits } from "./listen-options.js";

/** Something answering some of a server's requests (the client API, `/skills/call`, the dashboard): true when it answered. */
export interface RequestMount {
  handle(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean>;
}

/** Hardening options of {@link serve}, beside the hub's {@link ListenOptions}. */
export interface ServeOptions {
  /** Timeouts and connection caps (defaults in docs/security.md). */
  limits?: HubServerLimits;
  /** The listener's pre-body authentication hook, e.g. `(action, ctx) => auth.preAuthenticate(action, ctx)`. */
  authenticate?: PreAuthenticate;
  /** The listener's per-worker rate limit; `false` disables it. Default on (10,000/s, bursts of 20,000). */
  rateLimit?: RateLimitOptions | false;
  /** Hears of tasks whose poll answer did not reach the worker (the hub re-queues them). */
  onUndelivered?: (workerId: string, task: unknown) => void;
}

/** A running server of a hub. */
export interface HubServer {
  /** Base URL workers connect to, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** The node server. */
  readonly server: Server;
  /** Stops the listener (held polls answered, WebSockets closed) and the server. */
  close(): Promise<void>;
}

/**
 * Starts a server for `handler` (and `mounts`, e.g. the client API, `/skills/call` and the
 * dashboard, next to the worker routes; each is asked in turn) and resolves once it listens.
 * `hardening` may also be given as fields of `options` (`limits`, `authenticate`, `rateLimit`);
 * the explicit argument wins.
 */
export async function serve(
  handler: RxonHandler,
  options: ListenOptions,
  logger: Logger,
  mounts: RequestMount | readonly RequestMount[] = [],
  hardening: ServeOptions = {},
): Promise<HubServer> {
  const mounted: readonly RequestMount[] = "handle" in mounts ? [mounts as RequestMount] : (mounts as readonly RequestMount[]);
  const extra = { ...(options as ServeOptions), ...hardening };
  const limits = extra.limits ?? {};
  const tls = options.tls;
  const server: Server = tls
    ? (createHttpsServer({
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        requestCert: tls.requestCert ?? false,
        rejectUnauthorized: tls.rejectUnauthorized ?? tls.requestCert ?? false,
        minVersion: "TLSv1.2",
        handshakeTimeout: limits.handshakeTimeoutMs ?? 10_000,
      }) as unknown as Server)
    : createHttpServer();
  // Many workers keep connections open; the default keep-alive (5 s) would churn them.
  server.keepAliveTimeout = limits.keepAliveTimeoutMs ?? 65_000;
  let closing: Promise<void> | undefined;
  // /metrics, /healthz and /readyz: asked first, unauthenticated.
  const ops = opsMount(options, () => closing !== undefined);
  // Registered before the listener attaches: it keeps worker routes and passes everything else here.
  server.on("request", (req, res) => {
    if (ops.handle(req, res)) return;
    const handled = answer(mounted, req, res, 0);
    if (handled === true) return;
    if (handled === false) notFound(res);
    else void handled.then((done) => done || notFound(res));
  });
  // attach() sets the header/request timeouts, their checking interval and the connection caps.
  const listener = new RxonListener({
    handler,
    logger,
    limits,
    ...(extra.authenticate !== undefined ? { authenticate: extra.authenticate } : {}),
    ...(extra.rateLimit !== undefined ? { rateLimit: extra.rateLimit } : {}),
    ...(extra.onUndelivered !== undefined ? { onUndelivered: extra.onUndelivered } : {}),
    // The hub's poll answers a no-hold poll at once, so a result may carry its worker's next task.
    answerNextTask: true,
  });
  listener.attach(server);
  ops.countRequests(server);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  return {
    url: `${tls ? "https" : "http"}://${shownHost}:${port}`,
    port,
    server,
    close: () =>
      (closing ??= (async () => {
        await listener.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })()),
  };
}

/** Asks each mount in turn from `from` on; true once one answered (a promise only once a mount answers with one). */
function answer(mounts: readonly RequestMount[], req: IncomingMessage, res: ServerResponse, from: number): boolean | Promise<boolean> {
  for (let i = from; i < mounts.length; i++) {
    const done = mounts[i]!.handle(req, res);
    if (done === true) return true;
    if (done !== false) return done.then((yes) => yes || answer(mounts, req, res, i + 1));
  }
  return false;
}

/** As the listener answers unknown paths when it is alone on a server. */
function notFound(res: ServerResponse): boolean {
  if (!res.headersSent) {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", [Header.VERSION]: ProtocolVersion.CURRENT });
    res.end("404: Not Found");
  }
  return true;
}
