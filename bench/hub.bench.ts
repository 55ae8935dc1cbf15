/**
 * End-to-end tasks per second through the hub: submit → dispatch → result → outcome, with 1, 16
 * and 64 workers.
 *
 * - In process: workers are handler calls in the hub's process (no I/O), to show the hub's own cost.
 * - Over loopback HTTP: the hub (listener + handler) in this process, the workers (rxon HTTP
 *   transports on undici) in a child process, as the Python reference pair ran orchestrator and
 *   workers as separate processes; each process gets its own core.
 * - Floor: bare undici POSTs (same connection count as the 16 workers) from the child process
 *   against a trivial node:http server in this process, measured in the same run; a task costs
 *   two round trips (poll + result), so the floor is half that request rate.
 *
 * Signature verification (HMAC-SHA256) and replay protection are on in every measured hub (the
 * default when tokens are configured); workers sign every register and result.
 * Each row is the median of several rounds after a warm-up round; p50/p99 are over all rounds,
 * measured from submit() to the settled result.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Hub } from "../src/hub/index.js";
import { decode } from "../src/wire/codec.js";
import { signMessage } from "../src/security/index.js";
import type { ListenerContext } from "../src/listener/types.js";
import type { BenchRow } from "./harness.js";
import { median, percentile } from "./harness.js";
import { cpuMs, SKILL } from "./hub-child.js";

const ROUNDS = 5;
const FLOOR = "floor: undici x16 trivial http (child process)";
const CHILD = fileURLToPath(new URL("./hub-child.ts", import.meta.url));
type H = (action: string, payload: unknown, ctx: ListenerContext) => Promise<unknown>;

function ctxOf(id: string, token: string, raw: Record<string, unknown> | null, signal: AbortSignal): ListenerContext {
  return { token, workerIdHint: id, protocolVersion: "1.0b14", certIdentity: null, transport: "http", rawRequest: {} as IncomingMessage, rawBody: raw as ListenerContext["rawBody"], signal, pollTimeout: 5 };
}

function tokensFor(workers: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: workers }, (_, i) => [`w${i}`, `secret-${i}`]));
}

/** Closed loop: keeps `inflight` tasks submitted until `total` have finished. */
async function drive(hub: Hub, total: number, inflight: number, latencies: number[]): Promise<number> {
  let submitted = 0;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (submitted < total) {
      submitted++;
      const t = performance.now();
      const o = await (await hub.submit({ type: "echo", params: { n: submitted } })).result();
      if (o.status !== "success") throw new Error(`task failed: ${JSON.stringify(o.error)}`);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return total / ((performance.now() - t0) / 1000);
}

/** Warm-up, then ROUNDS rounds; the row has the median rate and p50/p99 over all rounds. */
async function rounds(name: string, hub: Hub, perRound: number, inflight: number, note: string): Promise<BenchRow> {
  await drive(hub, perRound, inflight, []);
  const rates: number[] = [];
  const latencies: number[] = [];
  for (let r = 0; r < ROUNDS; r++) rates.push(await drive(hub, perRound, inflight, latencies));
  const ops = median(rates);
  const spread = `${Math.round(Math.min(...rates)).toLocaleString("en-US")}–${Math.round(Math.max(...rates)).toLocaleString("en-US")}/s`;
  return {
    name,
    opsPerSec: ops,
    usPerOp: 1e6 / ops,
    floor: FLOOR,
    note: `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms; ${ROUNDS} rounds ${spread}; ${note}`,
  };
}

function inflightFor(workers: number): number {
  return Math.max(4, workers * 2);
}

/** Hub and workers in one process, workers as direct handler calls (no I/O). */
export async function inProcess(workers: number, perRound: number): Promise<BenchRow> {
  const tokens = tokensFor(workers);
  const hub = new Hub({ auth: { tokens } });
  const h = hub.handler as H;
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  for (const [id, token] of Object.entries(tokens)) {
    const raw = signMessage({ worker_id: id, supported_skills: [SKILL] }, { secret: token, signerId: id });
    await h("register", decode("WorkerRegistration", raw), ctxOf(id, token, raw, stop.signal));
  }
  const loops = Object.entries(tokens).map(async ([id, token]) => {
    // One signal per worker, as the listener gives one per request.
    const mine = new AbortController();
    stop.signal.addEventListener("abort", () => mine.abort(), { once: true });
    while (!stop.signal.aborted) {
      const task = (await h("poll", id, ctxOf(id, token, null, mine.signal))) as { job_id: string; task_id: string; params: { n: number } } | null;
      if (task === null) continue;
      const raw = signMessage({ job_id: task.job_id, task_id: task.task_id, worker_id: id, status: "success", data: { n: task.params.n } }, { secret: token, signerId: id });
      await h("result", decode("TaskResult", raw), ctxOf(id, token, raw, stop.signal));
    }
  });
  const row = await rounds(`hub in-process, ${workers} worker(s)`, hub, perRound, inflightFor(workers), "handler calls, HMAC sign + verify + replay check");
  stop.abort();
  await hub.close();
  await Promise.all(loops);
  return row;
}

/** A child process of bench/hub-child.ts and its next IPC message. */
function spawnChild(args: string[], execArgv: string[] = []): { proc: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const proc = fork(CHILD, args, { execArgv: ["--import", "tsx", ...execArgv], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const queue: Record<string, unknown>[] = [];
  const waiting: { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  let exited: Error | undefined;
  proc.on("message", (m: Record<string, unknown>) => {
    const w = waiting.shift();
    if (w) w.resolve(m);
    else queue.push(m);
  });
  proc.once("exit", (code) => {
    exited = new Error(`bench child exited with ${code}`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      if (exited) return reject(exited);
      waiting.push({ resolve, reject });
    });
  return { proc, next };
}

/** Hub over loopback HTTP in this process, `workers` transports in a child process. */
export async function overHttp(workers: number, perRound: number): Promise<BenchRow> {
  const hub = new Hub({ auth: { tokens: tokensFor(workers) } });
  const server = await hub.listen({ port: 0 });
  const child = spawnChild(["workers", server.url, String(workers)]);
  await child.next(); // registered
  const cpuOf = async (): Promise<number> => {
    child.proc.send({ cpu: true });
    return ((await child.next()) as { cpu: number }).cpu;
  };
  const [hub0, workers0, wall0] = [cpuMs(), await cpuOf(), performance.now()];
  const row = await rounds(
    `hub over loopback HTTP, ${workers} worker(s)`,
    hub,
    perRound,
    inflightFor(workers),
    "workers in a child process (undici transports), HMAC sign + verify + replay check",
  );
  const wall = performance.now() - wall0;
  const [hubCpu, workersCpu] = [cpuMs() - hub0, (await cpuOf()) - workers0];
  row.note += `; CPU busy: hub process ${Math.round((100 * hubCpu) / wall)}%, workers process ${Math.round((100 * workersCpu) / wall)}%`;
  child.proc.send({ stop: true });
  await child.next(); // stopped
  child.proc.disconnect();
  await hub.close();
  return row;
}

/** Bare undici round trips from a child process against a trivial server in this one. */
export async function floor(): Promise<BenchRow> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const child = spawnChild(["floor"]);
  await child.next();
  const total = 10_000;
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    child.proc.send({ floor: { url, total, lanes: 16 } });
    const { floorSeconds } = (await child.next()) as { floorSeconds: number };
    rates.push(total / floorSeconds);
  }
  child.proc.send({ stop: true });
  server.close();
  server.closeAllConnections();
  const req = median(rates);
  const ops = req / 2;
  return { name: FLOOR, opsPerSec: ops, usPerOp: 1e6 / ops, note: `${Math.round(req).toLocaleString("en-US")} req/s (median of ${ROUNDS}); 2 round trips per task` };
}

async function memoryPerWorker(count: number): Promise<BenchRow> {
  const child = spawnChild(["memory", String(count)], ["--expose-gc"]);
  const { perWorker, exact } = (await child.next()) as { perWorker: number; exact: boolean };
  child.proc.disconnect();
  return {
    name: `memory per registered worker (${count})`,
    opsPerSec: 0,
    usPerOp: 0,
    note: `${(perWorker / 1024).toFixed(2)} KiB/worker (heap after GC, own process${exact ? "" : ", approximate"}); one GPU, one skill`,
  };
}

/** Rows of the hub benchmark. */
export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [await floor()];
  for (const w of [1, 16, 64]) rows.push(await inProcess(w, w === 1 ? 2_000 : 4_000));
  for (const w of [1, 16, 64]) rows.push(await overHttp(w, w === 1 ? 1_000 : 3_000));
  rows.push(await memoryPerWorker(2_000));
  for (const r of rows) if (r.name.includes("HTTP, 16")) r.note += "; target >= 7,500 tasks/s (3x the Python pair's ~2,500)";
  return rows;
}
