// Talking to the hub: the admin token (kept in sessionStorage, sent as X-Client-Token on every
// fetch) and the live stream (an EventSource opened with a short-lived, single-use ticket, so
// the token itself never appears in a URL).

const KEY = "rxon.dashboard.token";

/** An API answer that was not 2xx. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

let onRefused = () => {};

/** Called when the hub refuses the token (401/403): the app goes back to the login form. */
export function whenRefused(fn) {
  onRefused = fn;
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  sessionStorage.setItem(KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/** A JSON API call under api/; throws ApiError. */
export async function api(path, method = "GET") {
  const t = token();
  if (t === null) {
    onRefused("");
    throw new ApiError(401, "No admin token");
  }
  const res = await fetch(`api/${path}`, { method, headers: { "X-Client-Token": t }, cache: "no-store" });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const message = body && typeof body.error === "string" ? body.error : `HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403) onRefused(`The hub refused this token (${res.status}: ${message}).`);
    throw new ApiError(res.status, message);
  }
  return body;
}

/**
 * Follows the live stream: `onSummary(summary)` for every summary, `onState(live)` when it
 * connects or drops. Reconnects with a fresh ticket after a drop. Returns a stop function.
 */
export function follow(onSummary, onState) {
  let source = null;
  let stopped = false;
  let delay = 1000;
  let timer = null;
  const connect = async () => {
    if (stopped) return;
    let ticket;
    try {
      ticket = (await api("ticket", "POST")).ticket;
    } catch (err) {
      onState(false);
      if (!(err instanceof ApiError && (err.status === 401 || err.status === 403))) retry();
      return;
    }
    if (stopped) return;
    source = new EventSource(`api/stream?ticket=${encodeURIComponent(ticket)}`);
    source.addEventListener("open", () => {
      delay = 1000;
      onState(true);
    });
    source.addEventListener("summary", (e) => {
      try {
        onSummary(JSON.parse(e.data));
      } catch {
        // A malformed frame is skipped.
      }
    });
    source.addEventListener("error", () => {
      // The browser would retry with the same, now used, ticket: reconnect with a new one instead.
      source.close();
      source = null;
      onState(false);
      retry();
    });
  };
  const retry = () => {
    if (stopped) return;
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 15000);
  };
  void connect();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    if (source !== null) source.close();
    onState(false);
  };
}
