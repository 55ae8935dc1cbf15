/**
 * The stranger deadline (`strangerIdleTimeoutMs`): a connection that has not carried an
 * authenticated request is closed when it stays without a request, from accept (TLS handshake
 * included) and between requests, so that one client cannot hold an address's whole share of
 * connections for the header or keep-alive timeouts and lock out the workers behind the same NAT
 * address. Held polls, bodies on their way, authenticated keep-alive connections and WebSockets
 * are not cut.
 */
import { createServer as createHttpsServer } from "node:https";
import { get as httpGet } from "node:http";
import type { AddressInfo } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { AuthError } from "../../src/errors.js";
import { Dashboard } from "../../src/hub/dashboard/dashboard.js";
import { Hub } from "../../src/hub/index.js";
import { serve } from "../../src/hub/server.js";
import { guardStrangers, RxonListener, type RxonHandler } from "../../src/listener/index.js";
import { silentLogger } from "../../src/logger.js";
import { makeCerts } from "../listener/certs.js";
import { start, until, type Started } from "../listener/helpers.js";
import { destroyAll, open, settled, type Watched } from "./sockets.js";

const HOST = "127.0.0.1";
/** A short deadline, and header/request timeouts far beyond it: only the deadline can close a socket here. */
const LIMITS = { strangerIdleTimeoutMs: 300, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000, connectionsCheckIntervalMs: 100 };
/** Several deadlines: what outlives it was not cut. */
const PAST_DEADLINE_MS = 1200;

const sockets: Watched[] = [];
const tlsSockets: TLSSocket[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  destroyAll(sockets.splice(0));
  for (const s of tlsSockets.splice(0)) s.destroy();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A handler that knows one token: anything else is refused (403) before the action runs. */
const handler = ((action: string, _payload: unknown, ctx: { token: string | null; signal: AbortSignal }) => {
  if (ctx.token !== "good") throw new AuthError("Forbidden");
  if (action === "poll") return sleep(PAST_DEADLINE_MS).then(() => null);
  return undefined;
}) as unknown as RxonHandler;

async function listener(): Promise<Started> {
  const s = await start({ handler, limits: LIMITS, rateLimit: false });
  cleanups.push(() => s.stop());
  return s;
}

const EVENT = JSON.stringify({ event_id: "e", worker_id: "w", origin_worker_id: "w", event_type: "progress", payload: {} });
function eventRequest(token: string): string {
  return `POST /_worker/events HTTP/1.1\r\nHost: x\r\nX-Worker-Token: ${token}\r\nContent-Type: application/json\r\nContent-Length: ${EVENT.length}\r\n\r\n${EVENT}`;
}
const answers = (text: string): number => text.split("HTTP/1.1 ").length - 1;

describe("the stranger deadline of the listener", () => {
  it("closes a socket that sends nothing, one stuck in its request line, and one that idles after a refused or unknown request", async () => {
    const s = await listener();
    const silent = open(s.port, HOST);
    const partial = open(s.port, HOST, "GET /_worker/work");
    const notFound = open(s.port, HOST, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n");
    const refused = open(s.port, HOST, eventRequest("bad"));
    const all = [silent, partial, notFound, refused];
    sockets.push(...all);
    // Bounded by the deadline (300 ms), with a wide margin; the header timeout (60 s) and the
    // keep-alive timeout (Node's 5 s) cannot have closed them by then.
    for (const w of all) expect(await w.closedWithin(4000)).toBe(true);
    // The answered ones were told, and closed after their answers; the others by the deadline.
    expect(notFound.received()).toMatch(/^HTTP\/1\.1 404[^]*\r\nConnection: close\r\n/i);
    expect(refused.received()).toMatch(/^HTTP\/1\.1 403[^]*\r\nConnection: close\r\n/i);
    expect(guardStrangers(s.server, 1).expired).toBe(2);
  });

  it("does not cut a held poll, a body on its way, an authenticated keep-alive connection or a WebSocket", async () => {
    const s = await listener();
    // A poll held past several deadlines, on a fresh connection whose first request it is.
    const poll = open(s.port, HOST, "GET /_worker/workers/w/tasks/next HTTP/1.1\r\nHost: x\r\nX-Worker-Token: good\r\n\r\n");
    // Headers at once, the body in pieces over several deadlines.
    const head = `POST /_worker/events HTTP/1.1\r\nHost: x\r\nX-Worker-Token: good\r\nContent-Type: application/json\r\nContent-Length: ${EVENT.length}\r\n\r\n`;
    const upload = open(s.port, HOST, head);
    // An authenticated request, then an idle time of several deadlines, then another.
    const kept = open(s.port, HOST, eventRequest("good"));
    sockets.push(poll, upload, kept);
    const ws = new WebSocket(`ws://${HOST}:${s.port}/_worker/ws/w`, { headers: { "x-worker-token": "good" } });
    cleanups.push(async () => void ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    await settled([poll, upload, kept]);
    for (let i = 0; i < 4; i++) {
      await sleep(PAST_DEADLINE_MS / 4);
      upload.socket.write(EVENT.slice((i * EVENT.length) / 4, ((i + 1) * EVENT.length) / 4));
    }
    await until(() => poll.received().includes("HTTP/1.1 204") && upload.received().includes("HTTP/1.1 200"));
    expect(answers(kept.received())).toBe(1);
    expect(kept.closed).toBe(false);
    kept.socket.write(eventRequest("good"));
    await until(() => answers(kept.received()) === 2);
    expect(kept.received()).not.toContain("HTTP/1.1 4");
    expect(ws.readyState).toBe(WebSocket.OPEN);
    for (const w of [poll, upload, kept]) expect(w.closed).toBe(false);
    expect(guardStrangers(s.server, 1).expired).toBe(0);
  });

  it("at an address's cap, gives a newcomer the place of the longest idle stranger; authenticated and busy connections never give way", async () => {
    const s = await start({ handler, limits: { ...LIMITS, strangerIdleTimeoutMs: 60_000, maxConnectionsPerAddress: 4 } });
    cleanups.push(() => s.stop());
    // Two authenticated keep-alive connections and one held poll: none of them may be taken.
    const kept = [open(s.port, HOST, eventRequest("good")), open(s.port, HOST, eventRequest("good"))];
    const poll = open(s.port, HOST, "GET /_worker/workers/w/tasks/next HTTP/1.1\r\nHost: x\r\nX-Worker-Token: good\r\n\r\n");
    sockets.push(...kept, poll);
    await until(() => kept.every((w) => answers(w.received()) === 1));
    // Strangers from the same address, one after another: each takes the place of the one before.
    const strangers: Watched[] = [];
    for (let i = 0; i < 5; i++) {
      const w = open(s.port, HOST);
      strangers.push(w);
      sockets.push(w);
      await settled([w]);
      if (i > 0) expect(await strangers[i - 1]!.closedWithin(2000)).toBe(true);
    }
    expect(strangers.at(-1)!.closed).toBe(false);
    const guard = guardStrangers(s.server, 1);
    expect(guard.evicted).toBe(4);
    // A worker's new connection is served the same way, and once authenticated it stays.
    const worker = open(s.port, HOST, eventRequest("good"));
    sockets.push(worker);
    await until(() => answers(worker.received()) === 1);
    expect(worker.received()).toContain("HTTP/1.1 200");
    expect(await strangers.at(-1)!.closedWithin(2000)).toBe(true);
    // Now every connection of the address is authenticated or busy: a newcomer is refused at accept.
    const refused = open(s.port, HOST);
    sockets.push(refused);
    expect(await refused.closedWithin(2000)).toBe(true);
    expect(refused.received()).toBe("");
    await until(() => poll.received().includes("HTTP/1.1 204"));
    for (const w of [...kept, worker]) expect(w.closed).toBe(false);
    expect(guard.evicted).toBe(5);
    expect(guard.expired).toBe(0);
  });

  it("is off with strangerIdleTimeoutMs: 0, and one longer than a Node timer holds is not cut short", async () => {
    const off = await start({ handler, limits: { ...LIMITS, strangerIdleTimeoutMs: 0 } });
    const long = await start({ handler, limits: { ...LIMITS, strangerIdleTimeoutMs: 1e12 } });
    cleanups.push(() => off.stop(), () => long.stop());
    const silent = [open(off.port, HOST), open(long.port, HOST)];
    sockets.push(...silent);
    const closed = await Promise.all(silent.map((w) => w.closedWithin(PAST_DEADLINE_MS)));
    expect(closed).toEqual([false, false]);
  });
});

describe("the stranger deadline of a TLS server", () => {
  it("closes a socket that never starts TLS and one that finishes the handshake and sends nothing; keeps authenticated and held ones", async () => {
    const certs = makeCerts("w");
    // Node's TLS handshake timeout (120 s) left as it is: only the deadline can close the first socket.
    const server = createHttpsServer({ cert: certs.serverCert, key: certs.serverKey });
    const l = new RxonListener({ handler, limits: LIMITS, rateLimit: false });
    l.attach(server);
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    cleanups.push(async () => {
      await l.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as AddressInfo).port;
    const secure = (): Promise<{ socket: TLSSocket; text: () => string; closed: Promise<void> }> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: HOST, port, ca: certs.ca });
        tlsSockets.push(socket);
        let text = "";
        socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
        const closed = new Promise<void>((done) => socket.once("close", () => done()));
        socket.once("secureConnect", () => resolve({ socket, text: () => text, closed }));
        socket.once("error", reject);
      });

    const silentTcp = open(port, HOST);
    sockets.push(silentTcp);
    const silentTls = await secure();
    const kept = await secure();
    kept.socket.write(eventRequest("good"));
    const held = await secure();
    held.socket.write("GET /_worker/workers/w/tasks/next HTTP/1.1\r\nHost: x\r\nX-Worker-Token: good\r\n\r\n");

    expect(await silentTcp.closedWithin(4000)).toBe(true);
    const timedOut = await Promise.race([silentTls.closed.then(() => true), sleep(4000).then(() => false)]);
    expect(timedOut).toBe(true);
    await until(() => held.text().includes("HTTP/1.1 204") && answers(kept.text()) === 1);
    await sleep(PAST_DEADLINE_MS);
    kept.socket.write(eventRequest("good"));
    await until(() => answers(kept.text()) === 2);
    expect(kept.socket.destroyed).toBe(false);
    expect(held.socket.destroyed).toBe(false);
    expect(guardStrangers(server, 1).expired).toBe(2);
  });
});

describe("the hub's server", () => {
  it("keeps the connections whose worker, client or admin credentials it accepted, and closes the refused ones", async () => {
    const CLIENT = "client-token-0123456789";
    const ADMIN = "admin-token-0123456789abcdef";
    const hub = new Hub({ auth: { tokens: { "w-1": "secret-of-w-1" } }, clientTokens: [CLIENT], logger: silentLogger });
    const dashboard = Dashboard.forHub(hub, { adminTokens: [ADMIN] });
    const server = await serve(hub.handler, { port: 0 }, silentLogger, [hub.clientApi, hub.skillCalls, dashboard], { limits: LIMITS });
    cleanups.push(async () => {
      await server.close();
      await hub.close();
      dashboard.close();
    });
    const worker = "X-Worker-Id: w-1\r\nX-Worker-Token: secret-of-w-1\r\n";
    const call = JSON.stringify({ skill_name: "no spaces" });
    const requests = {
      poll: `GET /_worker/workers/w-1/tasks/next?timeout=0.01 HTTP/1.1\r\nHost: x\r\n${worker}\r\n`,
      // Authenticated by the hub beside the listener; the body is then refused (400).
      skillCall: `POST /skills/call HTTP/1.1\r\nHost: x\r\n${worker}Content-Type: application/json\r\nContent-Length: ${call.length}\r\n\r\n${call}`,
      // An unknown job of an accepted client (404).
      client: `GET /_client/tasks/job-x HTTP/1.1\r\nHost: x\r\nX-Client-Token: ${CLIENT}\r\n\r\n`,
      admin: `GET /_dashboard/api/summary HTTP/1.1\r\nHost: x\r\nX-Client-Token: ${ADMIN}\r\n\r\n`,
    };
    const refused = {
      poll: `GET /_worker/workers/w-1/tasks/next?timeout=0.01 HTTP/1.1\r\nHost: x\r\nX-Worker-Id: w-1\r\nX-Worker-Token: wrong\r\n\r\n`,
      client: `GET /_client/tasks/job-x HTTP/1.1\r\nHost: x\r\nX-Client-Token: wrong\r\n\r\n`,
      health: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    const kept = Object.entries(requests).map(([name, text]) => ({ name, text, w: open(server.port, HOST, text) }));
    const dropped = Object.values(refused).map((text) => open(server.port, HOST, text));
    sockets.push(...kept.map((k) => k.w), ...dropped);
    for (const w of dropped) expect(await w.closedWithin(4000)).toBe(true);
    await until(() => kept.every((k) => answers(k.w.received()) === 1));
    await sleep(PAST_DEADLINE_MS);
    for (const k of kept) {
      expect({ name: k.name, closed: k.w.closed }).toEqual({ name: k.name, closed: false });
      k.w.socket.write(k.text);
    }
    await until(() => kept.every((k) => answers(k.w.received()) === 2));
    expect(kept.map((k) => k.w.received().match(/HTTP\/1\.1 (\d+)/g))).toEqual([
      ["HTTP/1.1 204", "HTTP/1.1 204"],
      ["HTTP/1.1 400", "HTTP/1.1 400"],
      ["HTTP/1.1 404", "HTTP/1.1 404"],
      ["HTTP/1.1 200", "HTTP/1.1 200"],
    ]);
  });
});

describe("the hub's server with its default limits", () => {
  it("serves a worker at once while one client holds an address's 256 connections idle, or keeps reopening them", async () => {
    const hub = new Hub({ auth: { tokens: { "w-1": "secret-of-w-1" } }, logger: silentLogger });
    const server = await hub.listen({ port: 0 });
    cleanups.push(async () => {
      await server.close();
      await hub.close();
    });
    // Half send nothing, half send one cheap request (404) and then nothing: they used to hold the
    // address's 256 connections for the header timeout (about 21 s) or the keep-alive timeout (66 s),
    // and a client that reopened them as they closed kept the address full for as long as it liked.
    const flood = Array.from({ length: 256 }, (_, i) => open(server.port, HOST, i % 2 === 0 ? undefined : "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"));
    sockets.push(...flood);
    await settled(flood);
    const poll = (): Promise<number | string> =>
      new Promise((resolve) => {
        const req = httpGet(`${server.url}/_worker/workers/w-1/tasks/next?timeout=0.01`, { agent: false, headers: { "x-worker-id": "w-1", "x-worker-token": "secret-of-w-1" } }, (res) => {
          res.resume();
          res.once("end", () => resolve(res.statusCode ?? 0));
        });
        req.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
      });
    expect(await poll()).toBe(204);
    // The client reopens whatever is closed, as fast as it can, for 2 s; every poll of the worker
    // (each on a new connection) is served meanwhile.
    let refilling = true;
    let reopened = 0;
    const refill = (async () => {
      while (refilling) {
        const batch = Array.from({ length: 32 }, () => open(server.port, HOST));
        sockets.push(...batch);
        reopened += batch.length;
        await settled(batch);
      }
    })();
    const statuses: (number | string)[] = [];
    const until2s = Date.now() + 2000;
    while (Date.now() < until2s) {
      statuses.push(await poll());
      await sleep(50);
    }
    refilling = false;
    await refill;
    expect(reopened).toBeGreaterThan(256);
    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.filter((x) => x !== 204)).toEqual([]);
  }, 30_000);
});
