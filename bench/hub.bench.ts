/**
 * End-to-end tasks per second through the hub: submit → dispatch → result → outcome, with 1, 16
 * and 64 workers, in process (handler calls) and over loopback HTTP (listener + transport), with
 * signing and verification on. Floor: bare undici round trips against a trivial node:http server.
 */
import { createServer, type IncomingMessage } from "node:http";
import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { Hub } from "../src/hub/index.js";
import { createTransport } from "../src/transport/index.js";
import { decode } from "../src/wire/codec.js";
import { signMessage } from "../src/security/index.js";
import type { ListenerContext } from "../src/listener/types.js";
import type { BenchRow } from "./harness.js";
import { percentile } from "./harness.js";

const SKILL = { name: "echo", version: "1.0.0", output_schema: { type: "object", properties: { n: { type: "number" } } } };
type H = (action: string, payload: unknown, ctx: ListenerContext) => Promise<unknown>;

function ctxOf(id: string, token: string, raw: Record<string, unknown> | null, signal: AbortSignal): ListenerContext {
  return { token, workerIdHint: id, protocolVersion: "1.0b14", certIdentity: null, transport: "http", rawRequest: {} as IncomingMessage, rawBody: raw as ListenerContext["rawBody"], signal, pollTimeout: 5 };
}

/** Closed loop: keeps `inflight` tasks submitted until `total` have finished. */
async function drive(hub: Hub, total: number, inflight: number): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let submitted = 0;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (submitted < total) {
      submitted++;
      const o = await hub.submit({ type: "echo", params: { n: submitted } }).result();
      if (o.status !== "success") throw new Error(`task failed: ${JSON.stringify(o.error)}`);
      latencies.push(o.durationMs);
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

function row(name: string, total: number, r: { seconds: number; latencies: number[] }, note: string): BenchRow {
  const ops = total / r.seconds;
  return { name, opsPerSec: ops, usPerOp: 1e6 / ops, floor: "floor: undici x16 trivial http", note: `p50 ${percentile(r.latencies, 50).toFixed(1)} ms, p99 ${percentile(r.latencies, 99).toFixed(1)} ms; ${note}` };
}

async function inProcess(workers: number, total: number): Promise<BenchRow> {
  const tokens = Object.fromEntries(Array.from({ length: workers }, (_, i) => [`w${i}`, `secret-${i}`]));
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
  const r = await drive(hub, total, Math.max(4, workers * 2));
  stop.abort();
  await hub.close();
  await Promise.all(loops);
  return row(`hub in-process, ${workers} worker(s)`, total, r, "handler calls, HMAC sign+verify");
}

async function overHttp(workers: number, total: number): Promise<BenchRow> {
  const tokens = Object.fromEntries(Array.from({ length: workers }, (_, i) => [`w${i}`, `secret-${i}`]));
  const hub = new Hub({ auth: { tokens } });
  const server = await hub.listen({ port: 0 });
  const stop = new AbortController();
  const transports = Object.entries(tokens).map(([id, token]) => createTransport(server.url, id, token, { secret: token }));
  await Promise.all(transports.map((t) => t.register({ worker_id: t.workerId, supported_skills: [SKILL] })));
  const loops = transports.map(async (t) => {
    while (!stop.signal.aborted) {
      let task;
      try {
        task = await t.pollTask({ timeoutSeconds: 5, signal: stop.signal });
      } catch {
        break;
      }
      if (task === null) continue;
      await t
        .sendResult({ job_id: task.job_id, task_id: task.task_id, worker_id: t.workerId, status: "success", data: { n: (task.params as { n: number }).n } })
        .catch(() => undefined);
    }
  });
  const r = await drive(hub, total, Math.max(4, workers * 2));
  stop.abort();
  await Promise.allSettled(loops);
  await Promise.all(transports.map((t) => t.close()));
  await hub.close();
  await Promise.allSettled(loops);
  return row(`hub over loopback HTTP, ${workers} worker(s)`, total, r, "listener + undici transport, HMAC sign+verify");
}

async function floor(): Promise<BenchRow> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const agent = new Agent({ connections: 16 });
  const total = 20_000;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (done < total) {
        done++;
        const { body } = await request(url, { dispatcher: agent, method: "POST", body: "{}" });
        await body.text();
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await agent.close();
  server.close();
  // A task costs two round trips (poll + result): the floor is half the request rate.
  const ops = total / seconds / 2;
  return { name: "floor: undici x16 trivial http", opsPerSec: ops, usPerOp: 1e6 / ops, note: `${Math.round(total / seconds)} req/s; 2 round trips per task` };
}

async function memoryPerWorker(count: number): Promise<BenchRow> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const tokens = Object.fromEntries(Array.from({ length: count }, (_, i) => [`m${i}`, `secret-${i}`]));
  const hub = new Hub({ auth: { tokens, verifySignatures: false } });
  const h = hub.handler as H;
  const signal = new AbortController().signal;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (const [id, token] of Object.entries(tokens)) {
    const reg = { worker_id: id, supported_skills: [SKILL], resources: { devices: [{ type: "gpu", properties: { vram_gb: 24 } }], properties: { cpu_cores: 8 } } };
    await h("register", decode("WorkerRegistration", reg), ctxOf(id, token, reg, signal));
  }
  gc?.();
  const perWorker = (process.memoryUsage().heapUsed - before) / count;
  await hub.close();
  return { name: `memory per registered worker (${count})`, opsPerSec: 0, usPerOp: 0, note: `${(perWorker / 1024).toFixed(2)} KiB/worker${gc ? "" : " (no --expose-gc: approximate)"}` };
}

/** Rows of the hub benchmark. */
export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [await floor()];
  for (const w of [1, 16, 64]) rows.push(await inProcess(w, w === 1 ? 5_000 : 20_000));
  for (const w of [1, 16, 64]) rows.push(await overHttp(w, w === 1 ? 3_000 : 12_000));
  rows.push(await memoryPerWorker(2_000));
  for (const r of rows) if (r.name.includes("HTTP, 16")) r.note += "; target >= 7,500 tasks/s (3x Python pair)";
  return rows;
}
