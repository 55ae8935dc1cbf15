/**
 * The RXON route table (PROTOCOL.md 2.2): exact paths, no trailing-slash variants. A path may
 * match several routes with different methods (`PATCH /_worker/workers/register` is a heartbeat
 * of the worker "register", as in the reference's router), so matching considers both.
 */
import { Endpoint } from "../../generated/constants.js";
import type { HandlerAction } from "./types.js";

/** Actions served over plain HTTP (the WebSocket route is matched by {@link matchWebSocket}). */
export type HttpAction = Exclude<HandlerAction, "websocket_auth" | "websocket">;

/** Result of matching a request line against the table. */
export type RouteMatch =
  | { kind: "route"; action: HttpAction; workerId: string | null }
  | { kind: "method_not_allowed"; allow: string }
  | { kind: "none" };

interface Route {
  method: string;
  action: HttpAction;
  /** Fixed path, or a prefix/suffix pair around one `{worker_id}` segment. */
  exact?: string;
  prefix?: string;
  suffix?: string;
}

function split(template: string): { prefix: string; suffix: string } {
  const [prefix, suffix] = template.split("{worker_id}") as [string, string];
  return { prefix, suffix };
}

const ROUTES: readonly Route[] = [
  { method: "POST", action: "register", exact: Endpoint.REGISTER },
  { method: "GET", action: "poll", ...split(Endpoint.NEXT_TASK) },
  { method: "POST", action: "result", exact: Endpoint.RESULT },
  { method: "PATCH", action: "heartbeat", ...split(Endpoint.HEARTBEAT) },
  { method: "POST", action: "event", exact: Endpoint.EVENTS },
  { method: "POST", action: "sts_token", exact: Endpoint.STS_TOKEN },
  { method: "POST", action: "sts_refresh", exact: Endpoint.STS_REFRESH },
];

const WS = split(Endpoint.WEBSOCKET);

/** Longest worker id segment accepted in a path (ids are identifiers; this only bounds work). */
const MAX_ID_LENGTH = 256;

/** The path part of a request target (origin form or absolute form), without the query. */
export function pathOf(url: string | undefined): { path: string; query: string } {
  let target = url ?? "/";
  if (!target.startsWith("/")) {
    // Absolute form ("http://host/path?q"): keep what follows the authority.
    const slash = target.indexOf("/", target.indexOf("//") + 2);
    target = slash === -1 ? "/" : target.slice(slash);
  }
  const q = target.indexOf("?");
  return q === -1 ? { path: target, query: "" } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** The decoded `{worker_id}` segment when `path` is `prefix + id + suffix`, else null. */
function segment(path: string, prefix: string, suffix: string): string | null {
  if (!path.startsWith(prefix) || !path.endsWith(suffix)) return null;
  const raw = path.slice(prefix.length, path.length - suffix.length);
  if (raw.length === 0 || raw.length > MAX_ID_LENGTH * 3 || raw.includes("/")) return null;
  try {
    const id = decodeURIComponent(raw);
    return id.length === 0 || id.length > MAX_ID_LENGTH || id.includes("/") ? null : id;
  } catch {
    return null;
  }
}

/** Matches a method and path against the RXON HTTP routes. */
export function matchRoute(method: string, path: string): RouteMatch {
  let allow: string[] | undefined;
  for (const route of ROUTES) {
    let workerId: string | null = null;
    if (route.exact !== undefined) {
      if (path !== route.exact) continue;
    } else {
      workerId = segment(path, route.prefix!, route.suffix!);
      if (workerId === null) continue;
    }
    if (route.method === method) return { kind: "route", action: route.action, workerId };
    (allow ??= []).push(route.method);
  }
  return allow === undefined ? { kind: "none" } : { kind: "method_not_allowed", allow: allow.join(", ") };
}

/** The worker id of a WebSocket route path, or null when the path is not the WebSocket route. */
export function matchWebSocket(path: string): string | null {
  return segment(path, WS.prefix, WS.suffix);
}
