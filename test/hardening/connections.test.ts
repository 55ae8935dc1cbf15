/**
 * Issue 12 item 1: connections that never finish are dropped after a bounded time, connections
 * are capped in all and per remote address, and legitimate clients are served while an attacker
 * holds its cap; held long-polls and WebSockets are not cut by those timeouts.
 */
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Hub } from "../../src/hub/index.js";
import { serve, type HubServer } from "../../src/hub/server.js";
import { addressKey, capConnections } from "../../src/listener/index.js";
import { silentLogger } from "../../src/logger.js";
import { request as httpsRequest } from "node:https";
import { makeCerts } from "../listener/certs.js";
import { call, start, type Started } from "../listener/helpers.js";
import { destroyAll, open, settled, type Watched } from "./sockets.js";

const ATTACKER = "127.0.0.2";
const LEGIT = "127.0.0.1";
/** Small timeouts so that the test is quick; the defaults are in docs/security.md. */
const FAST = { headersTimeoutMs: 300, requestTimeoutMs: 600, connectionsCheckIntervalMs: 100 };

const sockets: Watched[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  destroyAll(sockets.splice(0));
  for (const c of cleanups.splice(0)) await c();
});

async function listener(limits: Record<string, number>): Promise<Started> {
  const s = await start({ handler: () => undefined, limits: { ...FAST, ...limits } });
  cleanups.push(() => s.stop());
  return s;
}

describe("connection limits of the listener's servers", () => {
  it("drops a socket that sends nothing, one stuck in its request line and one stuck in its headers", async () => {
    const s = await listener({});
    const idle = open(s.port, LEGIT);
    const half = open(s.port, LEGIT, "GET /_worker/tasks/n");
    const headers = open(s.port, LEGIT, "POST /_worker/tasks/result HTTP/1.1\r\nHost: x\r\nContent-Type: appl");
    sockets.push(idle, half, headers);
    // Bounded: headers timeout (300 ms) + one check interval, with a wide margin for a loaded machine.
    expect(await idle.closedWithin(5000)).toBe(true);
    expect(await half.closedWithin(5000)).toBe(true);
    expect(await headers.closedWithin(5000)).toBe(true);
    expect(half.received()).toContain("408");
  });

  it("caps connections per address: an attacker at its cap is refused, a client elsewhere is served", async () => {
    // The cap alone: without the stranger deadline no connection gives way to a newcomer (see strangers.test.ts).
    const s = await listener({ maxConnectionsPerAddress: 5, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000, strangerIdleTimeoutMs: 0 });
    const held = Array.from({ length: 12 }, () => open(s.port, ATTACKER));
    sockets.push(...held);
    await settled(held);
    // The sockets over the cap are closed by the server at once, the first five stay open.
    await Promise.all(held.slice(5).map((w) => w.closedWithin(5000)));
    expect(held.filter((w) => w.closed)).toHaveLength(7);
    expect(held.slice(0, 5).every((w) => !w.closed)).toBe(true);
    const answer = await call(s.base, "POST", "/_worker/events", { event_id: "e", worker_id: "w", origin_worker_id: "w", event_type: "progress", payload: {} });
    expect(answer.status).toBe(200);
    // Once the attacker lets go, it gets its share back.
    const guard = capConnections(s.server, { maxConnections: 0, maxConnectionsPerAddress: 0 });
    expect(guard.countOf(ATTACKER)).toBe(5);
    expect(guard.refused).toBe(7);
    destroyAll(held);
    await until(() => guard.countOf(ATTACKER) === 0);
    const again = open(s.port, ATTACKER, "GET /_worker/workers/w/tasks/next HTTP/1.1\r\nHost: x\r\n\r\n");
    sockets.push(again);
    await until(() => again.received().includes("HTTP/1.1 204"));
  });

  it("caps connections in all", async () => {
    const s = await listener({ maxConnections: 4, maxConnectionsPerAddress: 0, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
    const held = Array.from({ length: 7 }, (_, i) => open(s.port, i % 2 === 0 ? ATTACKER : LEGIT));
    sockets.push(...held);
    await settled(held);
    await until(() => held.filter((w) => w.closed).length === 3);
    expect(s.server.maxConnections).toBe(4);
  });
});

describe("addresses counted together", () => {
  it("counts IPv4-mapped IPv6 as IPv4 and IPv6 by /64", () => {
    expect(addressKey("::ffff:127.0.0.2")).toBe("127.0.0.2");
    expect(addressKey("10.1.2.3")).toBe("10.1.2.3");
    expect(addressKey("2001:db8:0:1::5")).toBe(addressKey("2001:0db8:0000:0001:ffff:1:2:3"));
    expect(addressKey("2001:db8:0:1::5")).not.toBe(addressKey("2001:db8:0:2::5"));
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });
});

describe("the hub's server", () => {
  it("drops silent sockets, caps an address, and keeps held polls and WebSockets open past the timeouts", async () => {
    const hub = new Hub({ maxPollHoldMs: 1500 });
    let server: HubServer | undefined;
    cleanups.push(async () => {
      await server?.close();
      await hub.close();
    });
    server = await serve(hub.handler, { port: 0 }, silentLogger, undefined, { limits: { ...FAST, maxConnectionsPerAddress: 4, keepAliveTimeoutMs: 300 } });
    expect(server.server.keepAliveTimeout).toBe(300);
    const idle = open(server.port, ATTACKER);
    const flood = Array.from({ length: 8 }, () => open(server!.port, ATTACKER));
    sockets.push(idle, ...flood);
    await settled([idle, ...flood]);
    await until(() => [idle, ...flood].filter((w) => w.closed).length >= 5);
    expect(await idle.closedWithin(5000)).toBe(true);

    // A held long-poll (1.5 s, five headers timeouts) is answered, not cut.
    const base = server.url;
    const reg = await call(base, "POST", "/_worker/workers/register", { worker_id: "w-1", worker_type: "cpu", supported_skills: [{ name: "echo", version: "1.0.0" }] }, { "x-worker-id": "w-1" });
    expect(reg.status).toBe(200);
    const ws = new WebSocket(`${base.replace("http", "ws")}/_worker/ws/w-1`, { headers: { "x-worker-id": "w-1" } });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const polled = await call(base, "GET", "/_worker/workers/w-1/tasks/next?timeout=1.5", undefined, { "x-worker-id": "w-1" });
    expect(polled.status).toBe(204);
    // The WebSocket outlived the header, request and keep-alive timeouts and still carries commands.
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const handle = await hub.submit({ type: "echo", params: {} });
    const got = await call(base, "GET", "/_worker/workers/w-1/tasks/next?timeout=5", undefined, { "x-worker-id": "w-1" });
    expect(got.status).toBe(200);
    const received = new Promise<string>((resolve) => ws.once("message", (d) => resolve(String(d))));
    await handle.cancel();
    expect(JSON.parse(await received)).toMatchObject({ command: "cancel_task" });
    ws.close();
  }, 20_000);
});

describe("the hub's HTTPS server", () => {
  it("drops sockets that never finish the TLS handshake and caps an address before TLS starts", async () => {
    const certs = makeCerts("w-1");
    const hub = new Hub();
    const server = await serve(hub.handler, { port: 0, tls: { cert: certs.serverCert, key: certs.serverKey } }, silentLogger, undefined, {
      limits: { maxConnectionsPerAddress: 2, handshakeTimeoutMs: 300 },
    });
    cleanups.push(async () => {
      await server.close();
      await hub.close();
    });
    const silent = Array.from({ length: 5 }, () => open(server.port, ATTACKER));
    sockets.push(...silent);
    await settled(silent);
    await until(() => silent.filter((w) => w.closed).length >= 3);
    // The two within the cap never start TLS: the handshake timeout ends them (Node's default is 120 s).
    expect(await silent[0]!.closedWithin(5000)).toBe(true);
    expect(await silent[1]!.closedWithin(5000)).toBe(true);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      // Any quick answer will do: an unknown path is 404 at once (a poll would be held).
      const req = httpsRequest(`${server.url}/nothing-here`, { ca: certs.ca, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(404);
  });
});

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
