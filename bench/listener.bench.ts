/**
 * Listener benchmarks on loopback. The server (listener or bare node:http floor) runs in this
 * process; the clients run in a child process (raw sockets, `ws`), so that the heap measured here
 * is the server's alone.
 *
 * Rows: polls answered immediately (16 keep-alive connections, vs a bare node:http server writing
 * the same bytes), 1,000 held polls answered by a burst of tasks, 10,000 concurrent held polls
 * (heap per held poll), 2,000 idle WebSockets (heap per socket; target < 20 KB).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { RxonListener } from "../src/listener/index.js";
import type { RxonHandler } from "../src/listener/index.js";
import { canonicalize } from "../src/wire/canonical.js";
import { median, type BenchRow } from "./harness.js";

setFlagsFromString("--expose-gc");
/**
 * Thousands of connections come from one load-generating process on one address here: the
 * connection caps (4,096 in all, 256 per address by default) are lifted for these measurements.
 */
const LOAD_LIMITS = { maxConnections: 0, maxConnectionsPerAddress: 0 } as const;

const gc = runInNewContext("gc") as () => void;

const TASK = { task_id: "task-0001", job_id: "job-1", type: "echo", params: { text: "hello" }, priority: 0 };
const TASK_TEXT = canonicalize(TASK);

/** The client process: raw keep-alive HTTP sockets and ws clients, driven by IPC messages. */
const CLIENT = String.raw`
const net = require("node:net");
let sockets = [];
let answered = 0, target = 0, running = false, deadline = 0;
const send = (s) => s.write("GET " + s.rxPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Worker-Token: t\r\nX-RXON-Version: 1.0b14\r\n\r\n");
function attach(s, loop) {
  let buf = "";
  s.on("data", (d) => {
    buf += d.toString("latin1");
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const m = /content-length: (\d+)/i.exec(buf.slice(0, end));
      const total = end + 4 + (m ? Number(m[1]) : 0);
      if (buf.length < total) return;
      buf = buf.slice(total);
      answered++;
      if (loop && running && Date.now() < deadline) send(s);
      if (target > 0 && answered >= target) { target = 0; process.send({ done: answered }); }
    }
  });
  s.on("error", () => {});
}
async function open(port, n, loop) {
  for (let i = 0; i < n; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, k) => new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1", resolve);
      s.rxPath = "/_worker/workers/w" + (i + k) + "/tasks/next?timeout=30.0";
      attach(s, loop);
      sockets.push(s);
    })));
  }
}
let wsClients = [];
process.on("message", async (m) => {
  if (m.cmd === "open") { await open(m.port, m.n, m.loop); process.send({ opened: sockets.length }); }
  else if (m.cmd === "poll") { answered = 0; target = m.expect; for (const s of sockets) send(s); }
  else if (m.cmd === "run") {
    answered = 0; target = 0; running = true; deadline = Date.now() + m.ms;
    for (const s of sockets) send(s);
    setTimeout(() => { running = false; setTimeout(() => process.send({ count: answered, ms: m.ms }), 200); }, m.ms);
  }
  else if (m.cmd === "closeAll") { for (const s of sockets) s.destroy(); sockets = []; for (const w of wsClients) w.terminate(); wsClients = []; process.send({ closed: true }); }
  else if (m.cmd === "ws") {
    const { WebSocket } = require("ws");
    for (let i = 0; i < m.n; i += 200) {
      await Promise.all(Array.from({ length: Math.min(200, m.n - i) }, (_, k) => new Promise((resolve) => {
        const w = new WebSocket("ws://127.0.0.1:" + m.port + "/_worker/ws/w" + (i + k), { perMessageDeflate: false, headers: { "X-Worker-Token": "t" } });
        w.on("open", resolve); w.on("error", resolve);
        wsClients.push(w);
      })));
    }
    process.send({ wsOpen: wsClients.filter((w) => w.readyState === 1).length });
  }
});
`;

class Client {
  readonly child: ChildProcess;
  constructor() {
    this.child = spawn(process.execPath, ["-e", CLIENT], { stdio: ["ignore", "ignore", "inherit", "ipc"], cwd: process.cwd() });
  }
  ask<T>(message: object, key: string, timeoutMs = 120_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client: no ${key} in time`)), timeoutMs);
      const onMessage = (m: Record<string, unknown>): void => {
        if (key in m) {
          clearTimeout(timer);
          this.child.off("message", onMessage);
          resolve(m as T);
        }
      };
      this.child.on("message", onMessage);
      this.child.send(message);
    });
  }
  stop(): void {
    this.child.kill();
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", 4096, r));
  return (server.address() as AddressInfo).port;
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

/** Heap in use after the event loop settled and two full collections. */
async function heap(): Promise<number> {
  await new Promise((r) => setTimeout(r, 300));
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().heapUsed;
}

async function waitFor(check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("bench: condition not reached");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Requests per second over `rounds` timed windows of a 16-connection keep-alive client. */
async function throughput(port: number, rounds = 5, ms = 1000): Promise<number> {
  const client = new Client();
  try {
    await client.ask({ cmd: "open", port, n: 16, loop: true }, "opened");
    const rates: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = await client.ask<{ count: number; ms: number }>({ cmd: "run", ms }, "count");
      rates.push((r.count / r.ms) * 1000);
    }
    return median(rates);
  } finally {
    client.stop();
  }
}

function row(name: string, opsPerSec: number, extra: Partial<BenchRow> = {}): BenchRow {
  return { name, opsPerSec, usPerOp: 1e6 / opsPerSec, ...extra };
}

/** Holds every poll until `release` is called. */
function holdingHandler(): { handler: RxonHandler; waiting: ((v: unknown) => void)[] } {
  const waiting: ((v: unknown) => void)[] = [];
  const handler: RxonHandler = (action, _payload, _context) => {
    if (action === "poll") return new Promise((resolve) => waiting.push(resolve));
    if (action === "websocket") return new Promise(() => {});
    return undefined;
  };
  return { handler, waiting };
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const FLOOR = "bare node:http, same bytes";

  // 1. Polls answered immediately.
  {
    const body = Buffer.from(TASK_TEXT);
    const bare = createServer((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length, "X-RXON-Version": "1.0b14" });
      res.end(body);
    });
    const bareRate = await throughput(await listen(bare));
    await shut(bare);
    rows.push(row(FLOOR, bareRate, { note: "16 keep-alive connections, client in a child process" }));

    const listener = new RxonListener({ handler: (action, _p, _c) => (action === "poll" ? TASK : undefined), limits: LOAD_LIMITS });
    const server = listener.attach(createServer());
    const rate = await throughput(await listen(server));
    await listener.close();
    await shut(server);
    rows.push(row("poll answered immediately (listener)", rate, { floor: FLOOR, note: "decode-free path: route, context, handler, canonical body" }));
  }

  // 2. 1,000 held polls answered by a burst of tasks.
  {
    const { handler, waiting } = holdingHandler();
    const listener = new RxonListener({ handler, limits: LOAD_LIMITS });
    const server = listener.attach(createServer());
    const port = await listen(server);
    const client = new Client();
    try {
      await client.ask({ cmd: "open", port, n: 1000, loop: false }, "opened");
      const rates: number[] = [];
      for (let round = 0; round < 5; round++) {
        const done = client.ask<{ done: number }>({ cmd: "poll", expect: 1000 }, "done");
        await waitFor(() => waiting.length === 1000);
        const t0 = performance.now();
        for (const resolve of waiting.splice(0)) resolve(TASK);
        await done;
        rates.push(1000 / ((performance.now() - t0) / 1000));
      }
      rows.push(row("1,000 held polls released by a burst of tasks", median(rates), { note: "tasks delivered/s, burst start → last answer received" }));
    } finally {
      client.stop();
      await listener.close();
      await shut(server);
    }
  }

  // 3. 10,000 concurrent held polls: heap per held poll.
  {
    const N = 10_000;
    const { handler, waiting } = holdingHandler();
    const listener = new RxonListener({ handler, limits: LOAD_LIMITS });
    const server = listener.attach(createServer());
    const port = await listen(server);
    const client = new Client();
    try {
      const before = await heap();
      const t0 = performance.now();
      await client.ask({ cmd: "open", port, n: N, loop: false }, "opened");
      const done = client.ask<{ done: number }>({ cmd: "poll", expect: N }, "done");
      await waitFor(() => waiting.length === N);
      const openRate = N / ((performance.now() - t0) / 1000);
      const held = await heap();
      const perPoll = (held - before) / N;
      const t1 = performance.now();
      for (const resolve of waiting.splice(0)) resolve(null);
      await done;
      const releaseRate = N / ((performance.now() - t1) / 1000);
      rows.push(
        row(`${N.toLocaleString("en-US")} concurrent held polls`, openRate, {
          note: `connect+hold rate; heap per held poll ${(perPoll / 1024).toFixed(1)} KB (connection included); all ${N} answered 204 at ${Math.round(releaseRate).toLocaleString("en-US")}/s; target ≥ 10,000`,
        }),
      );
      await client.ask({ cmd: "closeAll" }, "closed");
    } finally {
      client.stop();
      await listener.close();
      await shut(server);
    }
  }

  // 4. Idle WebSockets: heap per socket.
  {
    const N = 2000;
    const { handler } = holdingHandler();
    const listener = new RxonListener({ handler, limits: LOAD_LIMITS });
    const server = listener.attach(createServer());
    const port = await listen(server);
    const client = new Client();
    try {
      const before = await heap();
      const t0 = performance.now();
      const opened = await client.ask<{ wsOpen: number }>({ cmd: "ws", port, n: N }, "wsOpen");
      const rate = opened.wsOpen / ((performance.now() - t0) / 1000);
      await waitFor(() => listener.activeCount === opened.wsOpen);
      const after = await heap();
      const perSocket = (after - before) / opened.wsOpen;
      rows.push(
        row(`${N.toLocaleString("en-US")} idle WebSockets`, rate, {
          note: `handshakes/s; heap per idle WebSocket ${(perSocket / 1024).toFixed(1)} KB (${opened.wsOpen} open); target < 20 KB`,
        }),
      );
      await client.ask({ cmd: "closeAll" }, "closed");
    } finally {
      client.stop();
      await listener.close();
      await shut(server);
    }
  }
  return rows;
}
