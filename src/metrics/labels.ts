/**
 * Label values of rxon's metrics that must stay within a fixed set whatever arrives: the route of
 * a request (never its raw path, which holds worker and job ids) and the category of a refusal.
 * No dependency, so the hub's server can count requests without loading the metrics library.
 */
import { matchRoute, matchWebSocket, pathOf } from "../listener/routes.js";
import { CLIENT_PREFIX } from "../hub/client-api.js";
import { METRICS_PATH } from "./serve.js";

/** Refusal categories of `rxon_hub_refused_total`. */
export type RefusalCategory = "signature" | "replay" | "auth" | "limits" | "other";

const SIGNATURE = new Set(["bad_signature", "missing_security", "missing_signature", "missing_signer_id", "signer_mismatch", "alg_mismatch", "no_key", "bad_key", "bad_core", "unknown_signer", "malformed_entry", "path_mismatch", "origin_mismatch", "sender_mismatch", "missing_chain"]);
const REPLAY = new Set(["replay", "timestamp_expired", "timestamp_future", "missing_timestamp", "bad_timestamp"]);
const AUTH = new Set(["bad_token", "missing_token", "missing_worker_id", "cn_mismatch", "owner_mismatch", "bad_refresh_token", "worker_mismatch", "forbidden", "unauthorized"]);
const LIMITS = new Set(["replay_capacity", "limits", "body_too_large", "rate_limited"]);

/** The category a refusal reason is counted under (a fixed set, whatever the reason text). */
export function refusalCategory(reason: string): RefusalCategory {
  if (SIGNATURE.has(reason)) return "signature";
  if (REPLAY.has(reason)) return "replay";
  if (AUTH.has(reason)) return "auth";
  if (LIMITS.has(reason)) return "limits";
  return "other";
}

/**
 * The `route` label of a request: the RXON action (`register`, `poll`, `result`, `heartbeat`,
 * `event`, `sts_token`, `sts_refresh`, `websocket`), `client_tasks`/`client_task` for the client
 * API, `metrics`, `healthz`, `readyz`, or `other`. Never the raw path (ids would explode the series).
 */
export function routeLabel(method: string | undefined, url: string | undefined): string {
  const { path } = pathOf(url);
  if (path === METRICS_PATH) return "metrics";
  if (path === "/healthz") return "healthz";
  if (path === "/readyz") return "readyz";
  if (path === `${CLIENT_PREFIX}/tasks`) return "client_tasks";
  if (path.startsWith(`${CLIENT_PREFIX}/tasks/`)) return "client_task";
  if (path.startsWith(CLIENT_PREFIX)) return "other";
  const match = matchRoute(method ?? "GET", path);
  if (match.kind === "route") return match.action;
  if (match.kind === "method_not_allowed") return "method_not_allowed";
  return matchWebSocket(path) !== null ? "websocket" : "other";
}

