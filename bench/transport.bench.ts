/**
 * Worker transport: poll -> result round trips per second on loopback against a minimal
 * in-process node:http server, with 1 and 16 concurrent workers, p50/p99 latency, and the ratio to
 * a floor of bare `undici.request` round trips (the same GET then POST) against the same server.
 * The server runs in the same process and shares the event loop with the clients, so absolute
 * numbers are lower than against a separate orchestrator process.
 */
import { createServer, type Server } from "node:http";
import { Agent, request } from "undici";
import { createTransport } from "../src/transport/index.js";
import type { WorkerTransport } from "../src/transport/types.js";
import { median, percentile, type BenchRow } from "./harness.js";

const TASK = JSON.stringify({
  job_id: "job-1",
  task_id: "task-3f0c2b1e-0000-4000-8000-000000000000",
  type: "summarize",
  params: { text: "hello world" },
  priority: 0,
  timestamp: 1713456700.123456,
  tracing_context: {},
});
const ACCEPTED = JSON.stringify({ status: "accepted", transition: "success_transition" });
const RESULT = { job_id: "job-1", task_id: "task-3f0c2b1e-0000-4000-8000-000000000000", worker_id: "w1", status: "success", data: { summary: "hello" } };

function startServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = req.method === "GET" ? TASK : ACCEPTED;
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-rxon-version": "1.0b14" });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` }));
  });
}

interface Variant {
  name: string;
  roundTrip: (i: number) => Promise<void>;
  floor?: string;
  note?: string;
}

/**
 * Runs each variant with `concurrency` loops in alternating timed windows (so a noisy moment on a
 * shared machine hits floor and transport alike); median rate and latency percentiles per variant.
 */
async function compare(concurrency: number, variants: Variant[]): Promise<BenchRow[]> {
  const rounds = 7;
  const windowMs = 300;
  const rates = variants.map(() => [] as number[]);
  const latencies = variants.map(() => [] as number[]);
  for (const v of variants) await runWindow(concurrency, v.roundTrip, 150, []); // warm-up: connections, JIT
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const { ops, ms } = await runWindow(concurrency, variants[k]!.roundTrip, windowMs, latencies[k]!);
      rates[k]!.push((ops / ms) * 1000);
    }
  }
  return variants.map((v, k) => {
    const opsPerSec = median(rates[k]!);
    const lat = latencies[k]!;
    const row: BenchRow = {
      name: v.name,
      opsPerSec,
      usPerOp: 1e6 / opsPerSec,
      note: `p50 ${(percentile(lat, 50) * 1000).toFixed(0)} µs, p99 ${(percentile(lat, 99) * 1000).toFixed(0)} µs per round trip${v.note ?? ""}`,
    };
    if (v.floor !== undefined) row.floor = v.floor;
    return row;
  });
}

async function runWindow(concurrency: number, roundTrip: (i: number) => Promise<void>, windowMs: number, latencies: number[]): Promise<{ ops: number; ms: number }> {
  const t0 = performance.now();
  const end = t0 + windowMs;
  let ops = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      while (performance.now() < end) {
        const s = performance.now();
        await roundTrip(i);
        latencies.push(performance.now() - s);
        ops++;
      }
    }),
  );
  return { ops, ms: performance.now() - t0 };
}

export async function run(): Promise<BenchRow[]> {
  const { server, url } = await startServer();
  const rows: BenchRow[] = [];
  // One agent per loop, as each transport owns one: the floor differs from the transport only in what the transport adds.
  const agents = Array.from({ length: 16 }, () => new Agent({ keepAliveTimeout: 60_000 }));
  const resultBody = JSON.stringify(RESULT);
  const bare = async (i: number): Promise<void> => {
    const agent = agents[i]!;
    const poll = await request(`${url}/_worker/workers/w1/tasks/next?timeout=30.0`, { dispatcher: agent, headers: { "x-worker-id": "w1", "x-worker-token": "tok" } });
    await poll.body.text();
    const res = await request(`${url}/_worker/tasks/result`, {
      dispatcher: agent,
      method: "POST",
      headers: { "x-worker-id": "w1", "x-worker-token": "tok", "content-type": "application/json" },
      body: resultBody,
    });
    await res.body.text();
  };
  const transports: WorkerTransport[] = [];
  const make = (count: number, options: Parameters<typeof createTransport>[3] = {}): WorkerTransport[] => {
    const list = Array.from({ length: count }, () => createTransport(url, "w1", "tok", options));
    transports.push(...list);
    return list;
  };
  const viaTransport = (list: WorkerTransport[]) => async (i: number): Promise<void> => {
    const t = list[i]!;
    const task = await t.pollTask({ timeoutSeconds: 30 });
    if (task === null) throw new Error("no task");
    await t.sendResult({ ...RESULT, task_id: task.task_id });
  };
  try {
    for (const n of [1, 16]) {
      const floor = `bare undici.request GET+POST, ${n} in flight`;
      const workers = `${n} worker${n > 1 ? "s" : ""}`;
      const python = n === 1 ? "; Python reference pair ~1,100 tasks/s" : "; Python reference pair ~2,500 tasks/s";
      rows.push(
        ...(await compare(n, [
          { name: floor, roundTrip: bare },
          { name: `transport poll -> result, ${workers}`, roundTrip: viaTransport(make(n)), floor, note: python },
          { name: `transport poll -> result, HMAC-signed, ${workers}`, roundTrip: viaTransport(make(n, { secret: "long-term-secret" })), floor },
        ])),
      );
    }
  } finally {
    await Promise.all(transports.map((t) => t.close()));
    await Promise.all(agents.map((a) => a.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }
  return rows;
}
