/**
 * The stranger deadline of a server: a connection that has not yet carried an authenticated
 * request must keep sending requests, or go. It has `timeoutMs` from accept (a TLS handshake
 * included) to deliver its first request's headers, and again from the end of each answer to
 * deliver the next one's; past it, it is destroyed. The answer to a request that was not
 * authenticated also says `Connection: close`, so a well-behaved client does not wait for that.
 *
 * Without it, one client holding connections that send nothing (or one cheap request, then
 * nothing) keeps its address's whole share under the per-address cap for the header timeout
 * (20 s) or the keep-alive timeout (65 s), again and again, and every honest worker behind the
 * same NAT address is refused meanwhile, without the client ever proving anything.
 *
 * The deadline is lifted while a request is being answered (a held poll, a body still arriving
 * after its headers: the body and request timeouts rule those), ends for good once a request of
 * the connection was authenticated ({@link trustConnection}) and when the connection is upgraded
 * (a WebSocket leaves HTTP). No `data` listener is added to any socket: the HTTP parser keeps the
 * stream, and the deadline is one timer per connection, cleared by the server's `request` event.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server as NetServer, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { Server as TlsServer } from "node:tls";
import { addressKey } from "./connections.js";

/** What {@link guardStrangers} installed. */
export interface StrangerGuard {
  /** Connections destroyed by the deadline so far. */
  readonly expired: number;
  /** Connections closed by {@link StrangerGuard.evictIdle} so far. */
  readonly evicted: number;
  /**
   * Closes the connection from `key` (an {@link addressKey}) that has waited longest without a
   * request while none of its requests was authenticated; false when there is none. The
   * per-address cap calls it so that a newcomer takes a stranger's place instead of being refused.
   */
  evictIdle(key: string): boolean;
  /**
   * A request's headers arrived (call it from the server's `request` listener, first): the
   * deadline is lifted until its answer ends, then set again unless the connection is trusted.
   */
  requestStarted(req: IncomingMessage, res: ServerResponse): void;
  /** The connection of `socket` leaves HTTP (an upgrade): the deadline ends for good. */
  upgraded(socket: Duplex): void;
  /** Removes the server's listeners (deadlines already set still run). */
  remove(): void;
}

/** One connection under the deadline. */
interface Watch {
  /** The accepted TCP socket. */
  readonly raw: Socket;
  /** Its remote address's {@link addressKey}. */
  readonly key: string;
  /** The socket the HTTP parser reads: `raw`, or its TLS socket once the handshake is done. */
  http: Socket | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Requests of the connection whose answers have not ended. */
  active: number;
  /** Trusted, upgraded or closed: never set again. */
  done: boolean;
}

/** The longest delay of a Node timer. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** HTTP-level sockets of connections that carried an authenticated request. */
const trusted = new WeakSet<object>();
/**
 * The answer in progress on a stranger's connection, told to close the connection after it
 * (`Connection: close`), and whether it would have kept it open: restored if the request turns
 * out to be authenticated before the answer's head is written.
 */
const answering = new WeakMap<object, { res: ServerResponse; keepAlive: boolean }>();
const guards = new WeakMap<NetServer, StrangerGuard>();

/**
 * Marks the connection of a request as authenticated: the stranger deadline no longer applies to
 * it (its idle keep-alive time is the server's `keepAliveTimeout`). Pass `req.socket` once the
 * request's credentials were accepted. The listener calls it for worker requests; call it for
 * your own authenticated routes sharing a server the listener is attached to.
 */
export function trustConnection(socket: object | null | undefined): void {
  // Called at each step of an authenticated request (and of every later one): once is enough.
  if (socket === null || socket === undefined || trusted.has(socket)) return;
  trusted.add(socket);
  // The answer being made on it may keep the connection open after all.
  const answer = answering.get(socket);
  if (answer !== undefined && !answer.res.headersSent) answer.res.shouldKeepAlive = answer.keepAlive;
}

/**
 * Installs the stranger deadline (see the module's description) on `server`, an HTTP or HTTPS
 * server whose `request` and `upgrade` listeners call {@link StrangerGuard.requestStarted} and
 * {@link StrangerGuard.upgraded} (`RxonListener.attach()` does). Installed once per server; later
 * calls return the installed guard.
 */
export function guardStrangers(server: NetServer, timeoutMs: number): StrangerGuard {
  const existing = guards.get(server);
  if (existing !== undefined) return existing;
  // Node turns a longer delay into 1 ms (with a warning): that would close every connection.
  const delay = Math.min(timeoutMs, MAX_DELAY_MS);
  const tls = server instanceof TlsServer;
  const watches = new WeakMap<object, Watch>();
  /** TLS connections still in their handshake, by their address pair (the TLS socket reports the same). */
  const handshaking = new Map<string, Watch>();
  /** Per address, the connections waiting for a request under the deadline, longest waiting first. */
  const idle = new Map<string, Set<Watch>>();
  let expired = 0;
  let evicted = 0;

  /** The connection is answering a request, or done: off the deadline and out of `idle`. */
  const busy = (w: Watch): void => {
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.timer = undefined;
    const set = idle.get(w.key);
    if (set !== undefined && set.delete(w) && set.size === 0) idle.delete(w.key);
  };
  const stop = (w: Watch): void => {
    w.done = true;
    busy(w);
  };
  const close = (w: Watch): void => {
    stop(w);
    w.http?.destroy();
    w.raw.destroy();
  };
  const expire = (w: Watch): void => {
    w.timer = undefined;
    if (w.done || w.active > 0) return;
    // A request Node answers without a `request` event (an application's `checkContinue`
    // listener) is being served: left to the request timeouts.
    if ((w.http as { _httpMessage?: unknown } | undefined)?._httpMessage) return stop(w);
    expired++;
    close(w);
  };
  const arm = (w: Watch): void => {
    busy(w);
    w.timer = setTimeout(expire, delay, w);
    w.timer.unref();
    let set = idle.get(w.key);
    if (set === undefined) idle.set(w.key, (set = new Set()));
    set.add(w);
  };

  const onConnection = (socket: Socket): void => {
    // Already refused (the connection caps run first).
    if (socket.destroyed) return;
    const w: Watch = { raw: socket, key: addressKey(socket.remoteAddress), http: tls ? undefined : socket, timer: undefined, active: 0, done: false };
    if (tls) {
      const key = pairOf(socket);
      // Not TCP (a pipe): nothing to find its TLS socket by; the handshake timeout rules it.
      if (key === undefined) return;
      handshaking.set(key, w);
      socket.once("close", () => {
        if (handshaking.get(key) === w) handshaking.delete(key);
        stop(w);
      });
    } else {
      watches.set(socket, w);
      socket.once("close", () => stop(w));
    }
    arm(w);
  };
  const onSecure = (socket: Socket): void => {
    const key = pairOf(socket);
    const w = key === undefined ? undefined : handshaking.get(key);
    if (w === undefined) return;
    handshaking.delete(key!);
    w.http = socket;
    watches.set(socket, w);
    socket.once("close", () => stop(w));
  };
  // First in line (after the connection caps, installed later and so prepended before this).
  server.prependListener("connection", onConnection);
  if (tls) server.prependListener("secureConnection", onSecure);

  const guard: StrangerGuard = {
    get expired() {
      return expired;
    },
    get evicted() {
      return evicted;
    },
    evictIdle(key) {
      const oldest = idle.get(key)?.values().next().value;
      if (oldest === undefined) return false;
      evicted++;
      close(oldest);
      return true;
    },
    requestStarted(req, res) {
      const w = watches.get(req.socket);
      if (w === undefined || w.done) return;
      if (trusted.has(req.socket)) return stop(w);
      busy(w);
      w.active++;
      // A stranger's answer closes its connection (`Connection: close`), unless the request is
      // authenticated before the answer's head goes out: the client is told, rather than finding
      // later that an idle connection it meant to reuse was closed under it.
      answering.set(req.socket, { res, keepAlive: res.shouldKeepAlive });
      res.shouldKeepAlive = false;
      res.once("close", () => {
        if (answering.get(req.socket)?.res === res) answering.delete(req.socket);
        w.active--;
        if (w.active > 0 || w.done) return;
        if (trusted.has(req.socket)) return stop(w);
        if (!req.socket.destroyed) arm(w);
      });
    },
    upgraded(socket) {
      const w = watches.get(socket);
      if (w !== undefined) stop(w);
    },
    remove() {
      server.off("connection", onConnection);
      server.off("secureConnection", onSecure);
      guards.delete(server);
    },
  };
  guards.set(server, guard);
  return guard;
}

/** The guard {@link guardStrangers} installed on `server`, if any (installs nothing). */
export function strangerGuardOf(server: NetServer): StrangerGuard | undefined {
  return guards.get(server);
}

/** The address pair of a TCP connection (both ends), as a TLS socket over it reports it too. */
function pairOf(socket: Socket): string | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined) return undefined;
  return `${remoteAddress}|${remotePort}|${localAddress ?? ""}|${localPort ?? ""}`;
}
