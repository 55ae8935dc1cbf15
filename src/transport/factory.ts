/**
 * `createTransport(url, workerId, token, options)`: the transport factory of PROTOCOL.md 10.4.
 */
import { ValidationError } from "../errors.js";
import { MockTransport } from "../testing/mock-transport.js";
import { HttpTransport } from "./http-transport.js";
import type { TransportOptions } from "./options.js";
import type { WorkerTransport } from "./types.js";

const SCHEME = /^(https?|wss?|mock):\/\//;
const IDENTIFIER = /^[A-Za-z0-9_-]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_UNSAFE = /[\u0000-\u001f\u007f]|[^\u0000-\u00ff]/;

/**
 * A transport for the orchestrator at `url`:
 * - `http://`, `https://`: HTTP transport on that base URL (trailing `/` removed);
 * - `ws://`, `wss://`: the same, with the first `ws` replaced by `http` (as the reference does);
 * - `mock://`: an in-memory {@link MockTransport} (TLS settings ignored).
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
    return new MockTransport({ workerId, token, ...pick(options) });
  }
  const base = (url.startsWith("ws") ? url.replace(/^ws/, "http") : url).replace(/\/+$/, "");
  try {
    new URL(base);
  } catch (cause) {
    throw new ValidationError(`Invalid orchestrator URL: ${url}`, [{ path: "/url", message: "not a valid URL" }], { cause });
  }
  return new HttpTransport(base, workerId, token, options);
}

/** The options that also mean something to the mock. */
function pick(options: TransportOptions): Pick<TransportOptions, "logger" | "clock" | "secret" | "ed25519Key" | "sign" | "signatureAlgorithm"> {
  const out: Pick<TransportOptions, "logger" | "clock" | "secret" | "ed25519Key" | "sign" | "signatureAlgorithm"> = {};
  if (options.logger !== undefined) out.logger = options.logger;
  if (options.clock !== undefined) out.clock = options.clock;
  if (options.secret !== undefined) out.secret = options.secret;
  if (options.ed25519Key !== undefined) out.ed25519Key = options.ed25519Key;
  if (options.sign !== undefined) out.sign = options.sign;
  if (options.signatureAlgorithm !== undefined) out.signatureAlgorithm = options.signatureAlgorithm;
  return out;
}
