/**
 * Serving a Prometheus registry: a request handler answering the text exposition format, and a
 * small standalone server for `--metrics-port` (so metrics can stay on a private interface while
 * the hub's port faces the workers).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** Anything that renders an exposition: a prom-client `Registry`, or the `HubMetrics`/`WorkerMetrics` objects. */
export interface MetricsSource {
  /** `Content-Type` of the exposition. */
  readonly contentType: string;
  /** The exposition text. */
  metrics(): Promise<string>;
}

/** The path metrics are served at. */
export const METRICS_PATH = "/metrics";

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/**
 * A request handler answering `GET`/`HEAD` with the exposition of `source` (whatever the path: mount
 * it where you like). Other methods get 405. A failing collection answers 500 without details
 * (they go to `onError`).
 */
export function metricsHandler(source: MetricsSource | Registry, onError?: (err: unknown) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      plain(res, 405, "405: Method Not Allowed", { Allow: "GET, HEAD" });
      return;
    }
    source.metrics().then(
      (text) => {
        if (res.destroyed) return;
        res.writeHead(200, { "Content-Type": source.contentType, "Content-Length": String(Buffer.byteLength(text)), "Cache-Control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (err: unknown) => {
        onError?.(err);
        if (!res.destroyed && !res.headersSent) plain(res, 500, "500: metrics collection failed");
      },
    );
  };
}

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface. Default 127.0.0.1 (metrics are for a scraper next to the process or on a private network). */
  host?: string;
  /** What to serve. */
  registry: MetricsSource | Registry;
  /** Called with collection errors (the scraper only sees a 500). */
  onError?: (err: unknown) => void;
}

/** A running metrics server. */
export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (and `GET /healthz`, so the port can be probed) on its own port; every
 * other path is 404. Resolves once listening.
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  const handle = metricsHandler(options.registry, options.onError);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === METRICS_PATH) return handle(req, res);
    if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) return plain(res, 200, "ok\n");
    plain(res, 404, "404: Not Found");
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    server,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
