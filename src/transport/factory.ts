/**
 * `createTransport(url, workerId, token, options)`: the transport factory of PROTOCOL.md 10.4.
 */
import { ValidationError } from "../errors.js";
import { HttpTransport } from "./http-transport.js";
import type { TransportOptions } from "./options.js";
import { transportMaker } from "./schemes.js";
import type { WorkerTransport } from "./types.js";

const SCHEME = /^(https?|wss?|mock):\/\//;
const IDENTIFIER = /^[A-Za-z0-9_-]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_UNSAFE = /[\u0000-\u001f\u007f]|[^\u0000-\u00ff]/;

/**
 * A transport for the orchestrator at `url`:
 * - `http://`, `https://`: HTTP transport on that base URL (trailing `/` removed);
 * - `ws://`, `wss://`: the same, with the first `ws` replaced by `http` (as the reference does);
 * - `mock://`: an in-memory `MockTransport` (TLS settings ignored); available once `rxon/testing`
 *   is imported, since production code does not load test helpers.
 *
 * Schemes are case-sensitive, like the reference's. Throws {@link ValidationError} for any other
 * scheme (`Unsupported transport scheme in URL: <url>`), an unparseable URL, a worker id that is
 * not an identifier (letters, digits, `_`, `-`) or a token that cannot travel in a header.
 */
export function createTransport(url: string, workerId: string, token: string, options: TransportOptions = {}): WorkerTransport {
  if (typeof url !== "string" || !SCHEME.test(url)) {
    throw new ValidationError(`Unsupported transport scheme in URL: ${String(url)}`, [{ path: "/url", message: "scheme must be http, https, ws, wss or mock" }]);
  }
  if (typeof workerId !== "string" || !IDENTIFIER.test(workerId)) {
    throw new ValidationError(`Invalid worker_id: '${String(workerId)}'. Must be alphanumeric, underscores, or hyphens only.`, [
      { path: "/workerId", message: "must match ^[A-Za-z0-9_-]+$" },
    ]);
  }
  if (typeof token !== "string" || HEADER_UNSAFE.test(token)) {
    throw new ValidationError("Invalid token: it must be a string of printable Latin-1 characters", [{ path: "/token", message: "not a valid header value" }]);
  }
  if (url.startsWith("mock://")) {
    const maker = transportMaker("mock");
    if (maker === undefined) {
      throw new ValidationError("mock:// transports come from rxon/testing: import it before creating one", [{ path: "/url", message: "mock scheme not loaded" }]);
    }
    return maker(url, workerId, token, options);
  }
  const base = (url.startsWith("ws") ? url.replace(/^ws/, "http") : url).replace(/\/+$/, "");
  try {
    new URL(base);
  } catch (cause) {
    throw new ValidationError(`Invalid orchestrator URL: ${url}`, [{ path: "/url", message: "not a valid URL" }], { cause });
  }
  return new HttpTransport(base, workerId, token, options);
}
