/**
 * Health endpoints of the hub's server, unauthenticated like any probe target and answering a few
 * bytes: `GET /healthz` says the process serves requests; `GET /readyz` says it should get
 * traffic: the server is not closing and the store answers its `ping()` (when it has one) in time.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pathOf } from "../listener/routes.js";

/** Paths answered by {@link answerHealth}. */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/**
 * A readiness check: resolves (with anything but `false` or `"closing"`) when ready; `false`,
 * throwing or not answering within the timeout means the store is not reachable; `"closing"`
 * means the hub is shutting down.
 */
export type ReadinessCheck = () => unknown;

/** What a store may offer to be probed. */
export interface PingableStore {
  /** Resolves when the backend answers; rejects (or resolves `false`) when it does not. */
  ping?(): unknown;
}

/** Default bound of a readiness check, in ms: a probe must answer even when the store hangs. */
export const READY_TIMEOUT_MS = 2_000;

/** The readiness check of a store: its `ping()` (see {@link PingableStore}) when it has one, otherwise always ready (an in-memory store). */
export function storeReadiness(store: object): ReadinessCheck {
  const s = store as PingableStore;
  return () => (typeof s.ping === "function" ? s.ping() : true);
}

/**
 * The readiness check of a hub: not closing (when the hub tells, through a `closing` or `closed`
 * flag) and its store answering {@link storeReadiness}.
 */
export function hubReadiness(hub: { readonly store: object; readonly closing?: boolean; readonly closed?: boolean }): ReadinessCheck {
  const store = storeReadiness(hub.store);
  return () => (hub.closing === true || hub.closed === true ? "closing" : store());
}

/** State {@link answerHealth} consults. */
export interface HealthState {
  /** True once the server (or the hub) started closing. */
  closing(): boolean;
  /** Extra readiness check (e.g. {@link storeReadiness}). */
  ready?: ReadinessCheck;
  /** Bound of `ready`, in ms. Default {@link READY_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Why a readiness check failed, as `/readyz` tells it (fixed words only: no error text leaks). */
export type NotReadyReason = "closing" | "store";

/** Runs the readiness checks: `undefined` when ready, or the reason it is not. Never rejects. */
export async function readiness(state: HealthState): Promise<NotReadyReason | undefined> {
  if (state.closing()) return "closing";
  if (state.ready === undefined) return undefined;
  const check = state.ready;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), state.timeoutMs ?? READY_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const ok = await Promise.race([(async () => check())(), timedOut]);
    if (ok === false) return "store";
    if (ok === "closing") return "closing";
  } catch {
    return "store";
  } finally {
    clearTimeout(timer);
  }
  return state.closing() ? "closing" : undefined;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, body: Record<string, string>, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)), "Cache-Control": "no-store", ...headers });
  res.end(req.method === "HEAD" ? undefined : text);
}

/**
 * Answers `/healthz` and `/readyz` and resolves true; resolves false, touching nothing, for other
 * paths. `/healthz`: 200 `{"status":"ok"}`. `/readyz`: 200 `{"status":"ready"}`, or 503
 * `{"status":"not_ready","reason":"closing"|"store"}`. Methods other than GET and HEAD: 405.
 * A request body, if any, is not read.
 */
export async function answerHealth(req: IncomingMessage, res: ServerResponse, state: HealthState): Promise<boolean> {
  const { path } = pathOf(req.url);
  if (!HEALTH_PATHS.has(path)) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(req, res, 405, { status: "method_not_allowed" }, { Allow: "GET, HEAD", Connection: "close" });
    return true;
  }
  if (path === "/healthz") {
    send(req, res, 200, { status: "ok" });
    return true;
  }
  const reason = await readiness(state);
  if (res.destroyed) return true;
  if (reason === undefined) send(req, res, 200, { status: "ready" });
  else send(req, res, 503, { status: "not_ready", reason });
  return true;
}
