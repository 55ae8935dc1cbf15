/**
 * Connection caps of a server: a total and one per remote address, enforced when a TCP
 * connection is accepted (before any byte is parsed), so that one client holding many idle
 * sockets exhausts its own share, not the process's file descriptors.
 */
import type { Server as NetServer, Socket } from "node:net";

/** Connection caps; 0 disables a cap. */
export interface ConnectionCaps {
  /** Open connections in all (`server.maxConnections`). */
  maxConnections: number;
  /** Open connections from one remote address (IPv6: one /64 network). */
  maxConnectionsPerAddress: number;
}

/** What {@link capConnections} installed, to read counts and remove it. */
export interface ConnectionGuard {
  /** Open connections counted for `address` (as given by `socket.remoteAddress`). */
  countOf(address: string): number;
  /** Connections refused by the per-address cap so far. */
  readonly refused: number;
  /** Removes the per-address listener (the total cap stays set on the server). */
  remove(): void;
}

const guards = new WeakMap<NetServer, ConnectionGuard>();

/**
 * The key connections are counted under: the address itself, IPv4-mapped IPv6 as IPv4, and other
 * IPv6 addresses by their /64 network (one host usually owns a whole /64).
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === "") return "?";
  if (address.startsWith("::ffff:") && address.includes(".")) return address.slice(7);
  if (!address.includes(":")) return address;
  const zone = address.indexOf("%");
  const bare = zone === -1 ? address : address.slice(0, zone);
  const [head = "", tail = ""] = bare.split("::", 2) as [string, string?];
  const left = head === "" ? [] : head.split(":");
  const right = bare.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = bare.includes("::") ? [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  return groups
    .slice(0, 4)
    .map((g) => (g === "" ? "0" : g.toLowerCase().replace(/^0+(?=.)/, "")))
    .join(":") + "::/64";
}

/**
 * Caps the connections of `server`: sets `server.maxConnections` (Node refuses connections above
 * it) unless the application already set one, and closes at once any connection from an address
 * that already holds `maxConnectionsPerAddress`, unless `evict(key)` closes one of that address's
 * connections to make room (`attach()` passes the stranger guard's: an idle connection that never
 * authenticated gives way to a newcomer). Installed once per server; later calls return the
 * installed guard.
 */
export function capConnections(server: NetServer, caps: ConnectionCaps, evict?: (key: string) => boolean): ConnectionGuard {
  const existing = guards.get(server);
  if (existing !== undefined) return existing;
  if (caps.maxConnections > 0 && !(server.maxConnections > 0)) server.maxConnections = caps.maxConnections;
  const open = new Map<string, number>();
  let refused = 0;
  const onConnection = (socket: Socket): void => {
    const key = addressKey(socket.remoteAddress);
    const count = open.get(key) ?? 0;
    if (caps.maxConnectionsPerAddress > 0 && count >= caps.maxConnectionsPerAddress && evict?.(key) !== true) {
      refused++;
      // Nothing has been read yet: no answer is owed, and writing one would cost more than the close.
      socket.on("error", noop);
      socket.destroy();
      return;
    }
    open.set(key, count + 1);
    socket.once("close", () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left <= 0) open.delete(key);
      else open.set(key, left);
    });
  };
  // First in line, so a refused socket never reaches the HTTP machinery.
  server.prependListener("connection", onConnection);
  const guard: ConnectionGuard = {
    countOf: (address) => open.get(addressKey(address)) ?? 0,
    get refused() {
      return refused;
    },
    remove() {
      server.off("connection", onConnection);
      guards.delete(server);
    },
  };
  guards.set(server, guard);
  return guard;
}

/** The guard {@link capConnections} installed on `server`, if any (installs nothing). */
export function connectionGuardOf(server: NetServer): ConnectionGuard | undefined {
  return guards.get(server);
}

function noop(): void {}
