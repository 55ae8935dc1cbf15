/**
 * Serving a hub over HTTP(S): a node:http(s) server with the listener attached.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Header, ProtocolVersion } from "../../generated/constants.js";
import { RxonListener } from "../listener/index.js";
import type { RxonHandler } from "../listener/types.js";
import type { Logger } from "../logger.js";
import type { ListenOptions } from "./types.js";

/** Something answering some of a server's requests (the client API, `/skills/call`, the dashboard): true when it answered. */
export interface RequestMount {
  handle(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean>;
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
 * Starts a server for `handler` (and `mounts`, next to the worker routes) and resolves once it
 * listens. `onUndelivered` hears of tasks whose poll answer did not reach the worker.
 */
export async function serve(
  handler: RxonHandler,
  options: ListenOptions,
  logger: Logger,
  mounts: readonly RequestMount[] = [],
  onUndelivered?: (workerId: string, task: unknown) => void,
): Promise<HubServer> {
  const tls = options.tls;
  const server: Server = tls
    ? (createHttpsServer({
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        requestCert: tls.requestCert ?? false,
        rejectUnauthorized: tls.rejectUnauthorized ?? tls.requestCert ?? false,
        minVersion: "TLSv1.2",
      }) as unknown as Server)
    : createHttpServer();
  // Many workers keep connections open; the default keep-alive (5 s) would churn them.
  server.keepAliveTimeout = 65_000;
  // Registered before the listener attaches: it keeps worker routes and passes everything else here.
  server.on("request", (req, res) => {
    void answer(mounts, req, res).then((handled) => {
      if (!handled && !res.headersSent) {
        // As the listener answers unknown paths when it is alone on a server.
        res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", [Header.VERSION]: ProtocolVersion.CURRENT });
        res.end("404: Not Found");
      }
    });
  });
  const listener = new RxonListener({ handler, logger, ...(onUndelivered !== undefined ? { onUndelivered } : {}) });
  listener.attach(server);
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
  let closing: Promise<void> | undefined;
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

/** Asks each mount in turn; true once one answered. */
async function answer(mounts: readonly RequestMount[], req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  for (const m of mounts) if (await m.handle(req, res)) return true;
  return false;
}
