/**
 * Extra URL schemes for `createTransport`. The factory itself knows only HTTP(S) and WebSocket
 * URLs; in-memory transports (`mock://` from `rxon/testing`) add themselves here when their module
 * is loaded, so production code never pulls test helpers in.
 */
import type { TransportOptions } from "./options.js";
import type { WorkerTransport } from "./types.js";

/** Builds a transport for a URL of a registered scheme (arguments already checked by the factory). */
export type TransportMaker = (url: string, workerId: string, token: string, options: TransportOptions) => WorkerTransport;

const makers = new Map<string, TransportMaker>();

/**
 * Makes `createTransport` hand URLs starting with `<scheme>://` to `maker`. `scheme` is lowercase
 * letters, digits, `+`, `-` or `.`; `http`, `https`, `ws` and `wss` cannot be replaced.
 */
export function registerTransportScheme(scheme: string, maker: TransportMaker): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme) || ["http", "https", "ws", "wss"].includes(scheme)) {
    throw new TypeError(`Cannot register transport scheme '${scheme}'`);
  }
  makers.set(scheme, maker);
}

/** The maker registered for `scheme`, if any. */
export function transportMaker(scheme: string): TransportMaker | undefined {
  return makers.get(scheme);
}
