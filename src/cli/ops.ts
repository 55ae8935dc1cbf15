/**
 * Operations wiring shared by `rxon hub` and `rxon worker`: metrics attached to the process's
 * hub or worker, served on the hub's own port or, with `--metrics-port`, only on a port of their
 * own; and the hub's readiness check for `/readyz`. The metrics library is imported when a
 * command starts, not when the CLI loads.
 */
import type { Hub, ListenOptions } from "../hub/index.js";
import { hubReadiness } from "../hub/health.js";
import { serveMetrics, type MetricsServer } from "../metrics/serve.js";
import { attachHubTracing } from "../tracing/hub.js";
import type { MetricsWorker } from "../worker/metrics.js";

/** Options of {@link hubOps} and {@link workerOps}. */
export interface OpsOptions {
  /** Serve metrics only on this port (`--metrics-port`); the hub's port then answers 404 on `/metrics`. */
  metricsPort?: number;
  /** Interface of the metrics port. Default 127.0.0.1. */
  metricsHost?: string;
}

/** What {@link hubOps} set up. */
export interface HubOps {
  /** Spread into `hub.listen(...)`: metrics, where they are served, readiness. */
  readonly listen: Pick<ListenOptions, "metrics" | "serveMetrics" | "ready">;
  /** The metrics server of `metricsPort`, if any. */
  readonly metricsServer: MetricsServer | undefined;
  /** Stops the metrics server and the hub's span recording. */
  close(): Promise<void>;
}

/**
 * Metrics, spans and readiness for a CLI hub:
 * `const ops = await hubOps(hub, { metricsPort }); await hub.listen({ ...ops.listen, port, host })`,
 * and `await ops.close()` after `hub.close()`.
 */
export async function hubOps(hub: Hub, options: OpsOptions = {}): Promise<HubOps> {
  const { attachHubMetrics } = await import("../hub/metrics.js");
  const metrics = attachHubMetrics(hub);
  const stopTracing = attachHubTracing(hub);
  const metricsServer =
    options.metricsPort === undefined ? undefined : await serveMetrics({ port: options.metricsPort, host: options.metricsHost ?? "127.0.0.1", registry: metrics, onError: (err) => hub.logger.error({ err }, "hub: metrics collection failed") });
  return {
    listen: { metrics, serveMetrics: metricsServer === undefined, ready: hubReadiness(hub) },
    metricsServer,
    close: async () => {
      stopTracing();
      metrics.detach();
      await metricsServer?.close();
    },
  };
}

/** What {@link workerOps} set up. */
export interface WorkerOps {
  readonly metricsServer: MetricsServer | undefined;
  close(): Promise<void>;
}

/**
 * Metrics of a CLI worker, served on `metricsPort` when given (a worker has no port of its own):
 * `const ops = await workerOps(worker, { metricsPort, concurrency })`, `await ops.close()` after `worker.stop()`.
 */
export async function workerOps(worker: MetricsWorker, options: OpsOptions & { concurrency?: number } = {}): Promise<WorkerOps> {
  if (options.metricsPort === undefined) return { metricsServer: undefined, close: async () => {} };
  const { attachWorkerMetrics } = await import("../worker/metrics.js");
  const metrics = attachWorkerMetrics(worker, options.concurrency !== undefined ? { concurrency: options.concurrency } : {});
  const metricsServer = await serveMetrics({ port: options.metricsPort, host: options.metricsHost ?? "127.0.0.1", registry: metrics });
  return {
    metricsServer,
    close: async () => {
      metrics.detach();
      await metricsServer.close();
    },
  };
}
