/**
 * `/healthz` and `/readyz` on the hub's server: tiny unauthenticated answers; readiness follows a
 * store's ping against a real TCP backend (a Redis-like PING/PONG server that can go down) and
 * the hub's closing state.
 */
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Hub, MemoryStore, hubReadiness, readiness, storeReadiness } from "../../src/hub/index.js";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A backend answering `PING` with `+PONG`, as Redis does; `down` makes it drop connections. */
async function pingBackend(): Promise<{ port: number; down: boolean; server: TcpServer; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = {
    port: 0,
    down: false,
    server: createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      if (state.down) return socket.destroy();
      socket.on("data", (d) => {
        if (d.toString().startsWith("PING")) socket.write("+PONG\r\n");
      });
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        state.server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}

/** A MemoryStore whose ping asks the backend, with a bound of its own. */
class PingedStore extends MemoryStore {
  constructor(private readonly port: number) {
    super();
  }
  override ping(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, "127.0.0.1");
      const fail = (err: unknown): void => {
        socket.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      socket.setTimeout(1_000, () => fail(new Error("ping timed out")));
      socket.once("error", fail);
      socket.once("close", () => fail(new Error("connection closed")));
      socket.once("connect", () => socket.write("PING\r\n"));
      socket.once("data", (d) => {
        socket.removeAllListeners("close");
        socket.end();
        if (d.toString().startsWith("+PONG")) resolve();
        else fail(new Error("unexpected answer"));
      });
    });
  }
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") };
}

describe("health endpoints", () => {
  it("/healthz answers while the process serves, without credentials, in a few bytes", async () => {
    const hub = new Hub({ auth: { tokens: { w: "secret-token" } }, clientTokens: ["client-token"] });
    cleanup.push(() => hub.close());
    const { url } = await hub.listen({ port: 0 });
    const healthz = await get(`${url}/healthz`);
    expect(healthz).toEqual({ status: 200, body: '{"status":"ok"}', type: "application/json" });
    expect((await get(`${url}/healthz`, { method: "HEAD" })).body).toBe("");
    expect((await get(`${url}/healthz`, { method: "POST", body: "x" })).status).toBe(405);
    // Without a readiness check, ready means "not closing".
    expect(await get(`${url}/readyz`)).toEqual({ status: 200, body: '{"status":"ready"}', type: "application/json" });
    // The neighbouring routes still answer as before.
    expect((await get(`${url}/_client/tasks/x`)).status).toBe(401);
    expect((await get(`${url}/nothing-here`)).status).toBe(404);
  });

  it("/readyz follows the store's ping: 503 while the backend is down, 200 again when it is back", async () => {
    const backend = await pingBackend();
    cleanup.push(() => backend.stop());
    const store = new PingedStore(backend.port);
    const hub = new Hub({ store });
    cleanup.push(() => hub.close());
    const { url } = await hub.listen({ port: 0, ready: hubReadiness(hub) });

    expect(await get(`${url}/readyz`)).toMatchObject({ status: 200, body: '{"status":"ready"}' });
    backend.down = true;
    expect(await get(`${url}/readyz`)).toMatchObject({ status: 503, body: '{"status":"not_ready","reason":"store"}' });
    // Liveness does not depend on the store.
    expect((await get(`${url}/healthz`)).status).toBe(200);
    backend.down = false;
    expect((await get(`${url}/readyz`)).status).toBe(200);
    await backend.stop();
    const refused = await get(`${url}/readyz`);
    expect(refused).toMatchObject({ status: 503, body: '{"status":"not_ready","reason":"store"}' });
    // No error text (addresses, ports) leaks into the answer.
    expect(refused.body).not.toContain(String(backend.port));
  });

  it("/readyz is 503 while the hub is closing", async () => {
    const hub = new Hub();
    cleanup.push(() => hub.close());
    let closing = false;
    const view = {
      store: hub.store,
      get closing() {
        return closing;
      },
    };
    const { url } = await hub.listen({ port: 0, ready: hubReadiness(view) });
    expect((await get(`${url}/readyz`)).status).toBe(200);
    closing = true;
    expect(await get(`${url}/readyz`)).toMatchObject({ status: 503, body: '{"status":"not_ready","reason":"closing"}' });
  });

  it("a store that does not answer counts as not ready after the bound", async () => {
    const never = storeReadiness({ ping: () => new Promise(() => {}) });
    expect(await readiness({ closing: () => false, ready: never, timeoutMs: 50 })).toBe("store");
    expect(await readiness({ closing: () => false, ready: storeReadiness({}) })).toBeUndefined();
    expect(await readiness({ closing: () => false, ready: () => Promise.reject(new Error("x")) })).toBe("store");
    expect(await readiness({ closing: () => true })).toBe("closing");
  });
});
