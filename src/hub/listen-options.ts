/** Options of `Hub.listen()` (and of the server it starts). */
import type { ReadinessCheck } from "./health.js";
import type { HubMetrics } from "./metrics.js";

/** Options of {@link Hub.listen}. */
export interface ListenOptions {
  /** TCP port (0 = any free one). Default 0. */
  port?: number;
  /** Interface. Default 127.0.0.1. */
  host?: string;
  /** Serve HTTPS: PEM texts or buffers; `requestCert` asks for client certificates verified against `ca`. */
  tls?: {
    cert: string | Buffer;
    key: string | Buffer;
    ca?: string | Buffer;
    requestCert?: boolean;
    rejectUnauthorized?: boolean;
  };
  /**
   * Metrics of the hub (from `attachHubMetrics` of `rxon/metrics`): the server counts its requests into them and
   * serves `GET /metrics`, unless `serveMetrics` is false.
   */
  metrics?: HubMetrics;
  /** Serve `GET /metrics` on this port when `metrics` is given. Default true; false to serve them elsewhere (`serveMetrics()`). */
  serveMetrics?: boolean;
  /** Readiness check of `GET /readyz`, besides the server not closing (e.g. `hubReadiness(hub)`). Default: none. */
  ready?: ReadinessCheck;
}
