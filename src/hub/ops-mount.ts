/**
 * The operations endpoints of a hub's server as one mount: `GET /metrics` (when metrics are given
 * and served here), `GET /healthz` and `GET /readyz`, all unauthenticated; and the request
 * counter, which sees every request of the server, worker routes included.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { pathOf } from "../listener/routes.js";
import { routeLabel } from "../metrics/labels.js";
import { CLIENT_PREFIX } from "./client-api.js";
import { DASHBOARD_PREFIX } from "./dashboard/dashboard.js";
import { METRICS_PATH } from "../metrics/serve.js";
import { answerHealth, HEALTH_PATHS, type HealthState } from "./health.js";
import type { ListenOptions } from "./listen-options.js";
import { connectionGuardOf } from "../listener/connections.js";
import { strangerGuardOf } from "../listener/strangers.js";

/** Answers the operations paths of a hub's server. */
export interface OpsMount {
  /** Answers `/metrics`, `/healthz` or `/readyz` and returns true; false, touching nothing, otherwise (decided at once). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Counts every request of `server` by route and code (call after the RXON listener attached:
   * the counter goes first, so worker routes are seen too). No-op without metrics.
   */
  countRequests(server: Server): void;
}

/** The operations mount for a server started with `options`; `closing` tells whether the server is shutting down. */
export function opsMount(options: Pick<ListenOptions, "metrics" | "serveMetrics" | "ready">, closing: () => boolean): OpsMount {
  const metrics = options.metrics;
  const serveMetrics = metrics !== undefined && options.serveMetrics !== false;
  const health: HealthState = { closing, ...(options.ready !== undefined ? { ready: options.ready } : {}) };
  return {
    handle: (req, res) => {
      const { path } = pathOf(req.url);
      if (serveMetrics && path === METRICS_PATH) {
        metrics.handler(req, res);
        return true;
      }
      if (!HEALTH_PATHS.has(path)) return false;
      void answerHealth(req, res, health);
      return true;
    },
    countRequests: (server) => {
      if (metrics === undefined) return;
      metrics.countingHttpLimits = true;
      metrics.countConnections(() => ({
        cap: connectionGuardOf(server)?.refused ?? 0,
        idle_stranger: strangerGuardOf(server)?.expired ?? 0,
        evicted: strangerGuardOf(server)?.evicted ?? 0,
      }));
      // One handler shared by every response (no closure per request); the route is read from
      // the request at the end, whose method and URL do not change.
      function counted(this: ServerResponse): void {
        const code = this.headersSent ? this.statusCode : "aborted";
        metrics!.countRequest(routeLabel(this.req.method, this.req.url), code);
        // Oversized bodies and rate limits are answered before (or instead of) the hub's checks.
        if (code === 413 || code === 429) metrics!.countRefusal("limits");
        // Refused client and admin tokens (client API, dashboard): the worker routes announce their
        // refusals (message:refused), these routes do not.
        else if ((code === 401 || code === 403) && isClientOrDashboard(this.req.url)) metrics!.countRefusal("bad_token");
      }
      server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
        res.on("close", counted);
      });
    },
  };
}

function isClientOrDashboard(url: string | undefined): boolean {
  const { path } = pathOf(url);
  return path.startsWith(CLIENT_PREFIX + "/") || path === DASHBOARD_PREFIX || path.startsWith(DASHBOARD_PREFIX + "/");
}
