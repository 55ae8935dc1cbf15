/**
 * Worker runtime overhead: tasks per second through a Worker on a MockTransport (poll, input
 * contract, handler, output contract, signed result, counters and events), with concurrency 1 and
 * 16, against a floor doing the same per-task work without the runtime: decode the task as the
 * mock does, validate params, call the handler, validate the output, and send the signed result.
 */
import Type from "typebox";
import { defineSkill, validateParams, validateResult } from "../src/contracts/index.js";
import { MockTransport } from "../src/testing/index.js";
import { Worker } from "../src/worker/index.js";
import { median, percentile, type BenchRow } from "./harness.js";

const SECRET = "bench-secret";
const add = defineSkill({
  name: "add",
  version: "1.0.0",
  input: Type.Object({ a: Type.Integer(), b: Type.Integer() }),
  output: Type.Object({ sum: Type.Integer() }),
  handler: ({ a, b }) => ({ sum: a + b }),
});

let seq = 0;
const nextTask = (): Record<string, unknown> => {
  const n = ++seq;
  return { job_id: `job-${n}`, task_id: `task-${n}`, type: "add", params: { a: n, b: 1 }, timestamp: 1713456700.123 };
};

const ROUNDS = 5;
const TASKS = 2_000;

async function throughWorker(concurrency: number): Promise<{ rate: number; p50: number; p99: number }> {
  const mock = new MockTransport({ workerId: "bench", secret: SECRET, heartbeatResponse: { status: "ok" } });
  const worker = new Worker({ workerId: "bench", transport: mock, skills: [add], concurrency, heartbeatIntervalMs: 60_000, commands: false, pollTimeoutSeconds: 30 });
  await worker.start();
  const started = new Map<string, number>();
  const latencies: number[] = [];
  let done = 0;
  let wake: (() => void) | undefined;
  worker.on("task:done", ({ task }) => {
    const t0 = started.get(task.task_id);
    if (t0 !== undefined) latencies.push(performance.now() - t0);
    done++;
    if (done >= TASKS) wake?.();
  });
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    done = 0;
    latencies.length = 0;
    mock.results.length = 0;
    const finished = new Promise<void>((resolve) => (wake = resolve));
    const t0 = performance.now();
    for (let i = 0; i < TASKS; i++) {
      const task = nextTask();
      started.set(task.task_id as string, performance.now());
      mock.pushTask(task);
    }
    await finished;
    rates.push((TASKS / (performance.now() - t0)) * 1000);
    started.clear();
  }
  await worker.stop({ graceMs: 0 });
  // Latency from push to result with the whole batch queued: a measure of queueing, not of one task.
  return { rate: median(rates), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function floor(): Promise<number> {
  const mock = new MockTransport({ workerId: "bench", secret: SECRET });
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    mock.results.length = 0;
    const t0 = performance.now();
    for (let i = 0; i < TASKS; i++) {
      mock.pushTask(nextTask());
      const task = (await mock.pollTask({ timeoutSeconds: 0 }))!;
      if (!validateParams(add.info, task.params).ok) throw new Error("bad params");
      const data = await add.handler(task.params as { a: number; b: number }, { signal: new AbortController().signal, taskId: task.task_id, jobId: task.job_id, progress: () => {}, workerId: "bench", task });
      if (!validateResult(add.info, data).ok) throw new Error("bad output");
      await mock.sendResult({ job_id: task.job_id, task_id: task.task_id, worker_id: "bench", status: "success", data });
    }
    rates.push((TASKS / (performance.now() - t0)) * 1000);
  }
  await mock.close();
  return median(rates);
}

/** Rows for `npm run bench -- worker`. */
export async function run(): Promise<BenchRow[]> {
  const floorRate = await floor();
  const rows: BenchRow[] = [{ name: "floor: same work, no runtime", opsPerSec: floorRate, usPerOp: 1e6 / floorRate, note: "decode, validate, handler, validate, signed result" }];
  for (const concurrency of [1, 16]) {
    const { rate, p50, p99 } = await throughWorker(concurrency);
    rows.push({
      name: `worker on MockTransport, concurrency ${concurrency}`,
      opsPerSec: rate,
      usPerOp: 1e6 / rate,
      floor: "floor: same work, no runtime",
      note: `tasks/s; push-to-result p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms with ${TASKS} queued`,
    });
  }
  return rows;
}
