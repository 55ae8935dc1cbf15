/** A tiny client of the hub's HTTP client API for tests (real requests over undici). */
import { request } from "undici";

/** A client-API answer. */
export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown> | null;
  text: string;
}

/** Options of {@link api}: the client token (null for none), a JSON body or a raw text, headers, a signal. */
export interface ApiOptions {
  token?: string | null;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** One request to the client API; `defaultToken` is sent unless `o.token` says otherwise. */
export async function api(url: string, method: string, path: string, o: ApiOptions = {}, defaultToken?: string): Promise<Answer> {
  const token = o.token === undefined ? defaultToken : o.token;
  const text = o.raw ?? (o.body !== undefined ? JSON.stringify(o.body) : undefined);
  const res = await request(url + path, {
    method: method as "GET",
    headers: {
      ...(token !== null && token !== undefined ? { "X-Client-Token": token } : {}),
      ...(text !== undefined ? { "Content-Type": "application/json" } : {}),
      ...o.headers,
    },
    ...(text !== undefined ? { body: text } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const out = await res.body.text();
  let body: Record<string, unknown> | null = null;
  try {
    body = out === "" ? null : (JSON.parse(out) as Record<string, unknown>);
  } catch {
    body = null;
  }
  return { status: res.statusCode, headers: res.headers, body, text: out };
}
