/**
 * rxon/metrics: Prometheus metrics of a hub and of a worker runtime (prom-client), a request
 * handler and a standalone server for them. A separate entry point so that `rxon/hub` and
 * `rxon/worker` do not load the metrics library for applications that do not use it.
 */
export { attachHubMetrics, hubMetricsHandler, type ClosedConnections, type HubMetrics, type HubMetricsOptions, type MetricsHub } from "../hub/metrics.js";
export { attachWorkerMetrics, type WorkerMetrics, type WorkerMetricsOptions, type MetricsWorker } from "../worker/metrics.js";
export { serveMetrics, metricsHandler, METRICS_PATH, type MetricsSource, type MetricsServer, type ServeMetricsOptions } from "./serve.js";
export { routeLabel, refusalCategory, type RefusalCategory } from "./labels.js";
