/** Raw sockets for the hardening tests: connect from a chosen loopback address and watch for the close. */
import { connect, type Socket } from "node:net";

/** A raw TCP connection and what happened to it. */
export interface Watched {
  socket: Socket;
  /** Everything received, as latin1 text. */
  received: () => string;
  /** Resolves true when the server closed the connection, false when `ms` passed first. */
  closedWithin: (ms: number) => Promise<boolean>;
  readonly closed: boolean;
}

/** Opens a connection to 127.0.0.1:`port` from `localAddress`, writing `data` once connected. */
export function open(port: number, localAddress: string, data?: string): Watched {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  let text = "";
  let closed = false;
  const waiters: (() => void)[] = [];
  socket.on("data", (d) => (text += d.toString("latin1")));
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  if (data !== undefined) socket.on("connect", () => socket.write(data));
  return {
    socket,
    received: () => text,
    get closed() {
      return closed;
    },
    closedWithin: (ms) =>
      closed
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), ms);
            waiters.push(() => {
              clearTimeout(timer);
              resolve(true);
            });
          }),
  };
}

/** Resolves once every socket is connected or closed (whichever comes first for each). */
export async function settled(list: Watched[]): Promise<void> {
  await Promise.all(
    list.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.closed || !w.socket.connecting) return resolve();
          w.socket.once("connect", () => resolve());
          w.socket.once("close", () => resolve());
        }),
    ),
  );
}

/** Ends every socket of the test. */
export function destroyAll(list: Watched[]): void {
  for (const w of list) w.socket.destroy();
}
