/** Options of `Hub.listen()` (and of the server it starts). */
import type { ReadinessCheck } from "./health.js";
import type { HubMetrics } from "./metrics.js";
import type { ListenerLimits } from "../listener/options.js";

/** Limits of a hub's server: the listener's, plus the ones of the server it creates. */
export interface HubServerLimits extends ListenerLimits {
  /**
   * How long an idle keep-alive connection is kept between requests, once one of its requests was
   * authenticated (a worker's, a client's or an admin's; before that, `strangerIdleTimeoutMs`
   * applies). Default 65 s: many workers keep connections open, and Node's 5 s would churn them.
   * Bounded by the per-address cap.
   */
  keepAliveTimeoutMs?: number;
  /** HTTPS only: time allowed for the TLS handshake (Node's default is 120 s). Default 10 s. */
  handshakeTimeoutMs?: number;
}


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
  /**
   * Timeouts and connection caps of the server (defaults in docs/security.md): e.g.
   * `maxConnectionsPerAddress: 0` behind a reverse proxy, whose connections all come from its own
   * addresses and which enforces its own limits.
   */
  limits?: HubServerLimits;
  /** Readiness check of `GET /readyz`, besides the server not closing (e.g. `hubReadiness(hub)`). Default: none. */
  ready?: ReadinessCheck;
}
