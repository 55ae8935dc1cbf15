/**
 * Cost of the hub against the size of the fleet and of the queue: each row is expected to cost
 * what matches, not what is registered, parked or queued. All in process, MemoryStore, auth off
 * (dispatch is what is measured, not HMAC), workers driven through `hub.handler` as a listener
 * drives it.
 *
 * 1. GPU-only tasks with 16 GPU workers and N parked CPU workers of the same skill (closed loop:
 *    submit, a GPU worker's held poll gets it, result, re-poll), N = 1k / 10k / 100k, with the
 *    growth exponent log(rate1k / rate100k) / log(100); floor: no CPU workers. The CPU workers
 *    share one profile (as identical machines do); a variant (1k, 10k) gives each its own.
 * 2. A submit whose params no contract of the skill accepts, N workers registered with it, all
 *    with one contract; a variant (100, 1k) gives each worker a contract of its own.
 * 3. A runnable task behind K queued tasks of the same skill the worker cannot run: by their
 *    requirements (another class) and by its params contract (same class).
 * 4. One `hub.sweep()` with 1M queued tasks, none due (own process).
 * 5. One worker draining 100k queued tasks in process, next to a 10 ms interval timer.
 * 6. Heap per queued task with small params, after GC (own process).
 * 7. A page of 1,000 workers from `MemoryStore.listWorkers` (what a metrics scrape or the
 *    dashboard reads at a time) in a fleet of 100k, against the first page of a fleet of 1,000.
 * 8. A submit (through `hub.submit()`, hub metrics attached, as `rxon hub` runs) with 1k / 100k
 *    tasks already queued and no worker: what the hub remembers per task stays bounded at O(1) a
 *    submit, however deep the queue.
 */
import { fork } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Hub, MemoryStore } from "../src/hub/index.js";
import { attachHubMetrics } from "../src/hub/metrics.js";
import type { BenchRow } from "./harness.js";
import { measure, median, percentile } from "./harness.js";
import { CPU, FLEET_OPTIONS, GPU, NEEDS_GPU, park, poll, register, result } from "./hub-fleet-child.js";

const CHILD = fileURLToPath(new URL("./hub-fleet-child.ts", import.meta.url));
const GPU_WORKERS = 16;
/** Closed-loop lanes of row 1 (two tasks in flight per GPU worker). */
const LANES = 2 * GPU_WORKERS;
const FLOOR_FLEET = "floor: GPU tasks, 16 GPU workers, no CPU workers";
const FLOOR_REJECT = "floor: refused submit, 1 worker";
const FLOOR_BEHIND = "floor: poll, runnable task alone";
const FLOOR_SWEEP = "floor: sweep, 0 queued tasks";
const FLOOR_DRAIN = "floor: drain of 1k queued tasks";
const FLOOR_PAGE = "floor: a page of 1,000 workers, 1k registered";
const FLOOR_DEEP = "floor: submit, 1k queued";
/** A contract that wants a number `n`; the refused params give it a string. */
const WANTS_N = { type: "object", properties: { n: { type: "number" } }, required: ["n"] };

const k = (n: number): string => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));
const int = (n: number): string => Math.round(n).toLocaleString("en-US");
const exponent = (small: number, large: number, ratio: number): string => (Math.log(small / large) / Math.log(ratio)).toFixed(2);

/** Submits GPU tasks on `LANES` lanes for `ms`; tasks per second (the lanes' last tasks included). */
async function closedLoop(hub: Hub, ms: number): Promise<number> {
  const t0 = performance.now();
  const end = t0 + ms;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      const o = await (await hub.submit({ type: "echo", params: { n: done }, requirements: NEEDS_GPU })).result();
      if (o.status !== "success" || o.workerId?.startsWith("gpu-") !== true) throw new Error(`GPU task went wrong: ${JSON.stringify(o)}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  return done / ((performance.now() - t0) / 1000);
}

/** Row 1: GPU tasks through 16 GPU workers with `cpu` parked CPU workers of the same skill. */
async function gpuAmongCpu(cpu: number, distinct: boolean, rounds: number, roundMs: number): Promise<BenchRow> {
  const hub = new Hub(FLEET_OPTIONS);
  const setup0 = performance.now();
  const cpuIds = Array.from({ length: cpu }, (_, i) => `cpu-${i}`);
  // Distinct profiles: every machine reports something of its own (here a host name).
  for (const [i, id] of cpuIds.entries()) await register(hub, id, { resources: distinct ? { properties: { ...CPU.properties, host: `h${i}` } } : CPU });
  for (let i = 0; i < GPU_WORKERS; i++) await register(hub, `gpu-${i}`, { resources: GPU });
  const parked = await park(hub, cpuIds);
  const setupS = (performance.now() - setup0) / 1000;
  let stopped = false;
  const stops: AbortController[] = [];
  const loops = Array.from({ length: GPU_WORKERS }, async (_, i) => {
    const id = `gpu-${i}`;
    const stop = new AbortController();
    stops.push(stop);
    while (!stopped) {
      const task = await poll(hub, id, 3_600, stop.signal);
      if (task !== null) await result(hub, id, task);
    }
  });
  await closedLoop(hub, Math.min(roundMs, 300)); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) rates.push(await closedLoop(hub, roundMs));
  stopped = true;
  for (const s of stops) s.abort();
  await Promise.all(loops);
  const served = parked.served();
  await parked.release();
  await hub.close();
  if (served !== 0) throw new Error(`${served} CPU workers got GPU tasks`);
  const ops = median(rates);
  const name = cpu === 0 ? FLOOR_FLEET : `GPU tasks, 16 GPU + ${k(cpu)} parked CPU workers${distinct ? ", each its own profile" : ", one profile"}`;
  return {
    name,
    opsPerSec: ops,
    usPerOp: 1e6 / ops,
    ...(cpu === 0 ? {} : { floor: FLOOR_FLEET }),
    note: `closed loop, ${LANES} tasks in flight; ${rounds} rounds of ${roundMs} ms ${int(Math.min(...rates))}–${int(Math.max(...rates))}/s; setup ${setupS.toFixed(1)} s`,
  };
}

/** Row 2: a submit whose params no contract accepts, `n` workers registered with the skill. */
async function refusedSubmit(n: number, distinct: boolean, rounds: number): Promise<BenchRow> {
  const hub = new Hub(FLEET_OPTIONS);
  // Distinct contracts: same shape, a title of their own (as versions of a contract differ).
  for (let i = 0; i < n; i++) await register(hub, `w-${i}`, {}, { input_schema: distinct ? { ...WANTS_N, title: `contract ${i}` } : WANTS_N });
  const submit = async (): Promise<void> => {
    const h = await hub.submit({ type: "echo", params: { n: "not a number" } });
    if (h.status !== "failed") throw new Error(`params were not refused: ${h.status}`);
  };
  const row = await measure(
    n === 1 ? FLOOR_REJECT : `refused submit (params no contract accepts), ${k(n)} workers, ${distinct ? `${k(n)} distinct contracts` : "one contract"}`,
    submit,
    { rounds, roundMs: 200, ...(n === 1 ? {} : { floor: FLOOR_REJECT }) },
  );
  await hub.close();
  return row;
}

/** Row 8: submits with `queued` tasks already queued (none runs: no worker). */
async function submitBehind(queued: number): Promise<BenchRow> {
  const hub = new Hub(FLEET_OPTIONS);
  const metrics = attachHubMetrics(hub);
  for (let i = 0; i < queued; i++) await hub.submit({ type: "echo", params: { n: i } });
  let n = 0;
  const row = await measure(queued === 1_000 ? FLOOR_DEEP : `submit, ${k(queued)} queued`, () => hub.submit({ type: "echo", params: { n: n++ } }), {
    rounds: 5,
    roundMs: 300,
    ...(queued === 1_000 ? {} : { floor: FLOOR_DEEP }),
  });
  metrics.detach();
  await hub.close();
  return row;
}

/** Row 7: one page of 1,000 workers from the middle of a fleet of `n` (the first page when n is 1,000). */
async function workerPage(n: number): Promise<BenchRow> {
  const hub = new Hub(FLEET_OPTIONS);
  const id = (i: number): string => `w-${String(i).padStart(6, "0")}`;
  for (let i = 0; i < n; i++) await register(hub, id(i));
  const store = hub.store as MemoryStore;
  const cursor = n > 1000 ? id(n / 2) : undefined;
  const row = await measure(
    n === 1000 ? FLOOR_PAGE : `a page of 1,000 workers from the middle of ${k(n)} registered`,
    () => {
      if (store.listWorkers(1000, cursor).length !== 1000) throw new Error("short page");
    },
    { rounds: 5, roundMs: 200, ...(n === 1000 ? {} : { floor: FLOOR_PAGE }) },
  );
  await hub.close();
  return row;
}

/**
 * Row 3: time for a worker's poll to get a runnable task queued behind `behind` tasks of the same
 * skill it cannot run, `by` their requirements (GPU-only) or its params contract (tasks only
 * another worker's contract accepts, so they share the runnable task's queue).
 */
async function behindUnrunnable(behind: number, by: "requirements" | "contract"): Promise<BenchRow> {
  const hub = new Hub(FLEET_OPTIONS);
  await register(hub, "cpu-1", { resources: CPU }, by === "contract" ? { input_schema: WANTS_N } : {});
  if (by === "contract") {
    await register(hub, "other", { resources: CPU }, { input_schema: { type: "object", properties: { s: { type: "string" } }, required: ["s"] } });
  }
  for (let i = 0; i < behind; i++) {
    await hub.submit(by === "requirements" ? { type: "echo", params: { n: i }, requirements: NEEDS_GPU } : { type: "echo", params: { s: `x${i}` } });
  }
  const times: number[] = [];
  const HOLD_S = 0.25;
  let starved = false;
  for (let r = 0; r < 201 && !starved; r++) {
    const handle = await hub.submit({ type: "echo", params: { n: r } });
    const t0 = performance.now();
    const task = await poll(hub, "cpu-1", HOLD_S);
    const dt = performance.now() - t0;
    if (task === null) {
      starved = true;
      break;
    }
    if (task.job_id !== handle.jobId) throw new Error("the worker got another task than the runnable one");
    times.push(dt);
    await result(hub, "cpu-1", task);
  }
  const queued = (await hub.stats()).queued;
  await hub.close();
  const name = behind === 0 ? FLOOR_BEHIND : `poll gets a runnable task behind ${k(behind)} it cannot run (by its ${by})`;
  if (starved) {
    return {
      name,
      opsPerSec: 0,
      usPerOp: 0,
      floor: FLOOR_BEHIND,
      note: `STARVED: the poll held ${HOLD_S * 1000} ms and came back empty; ${queued} tasks queued, the runnable one among them`,
    };
  }
  const us = median(times) * 1000;
  return {
    name,
    opsPerSec: 1e6 / us,
    usPerOp: us,
    ...(behind === 0 ? {} : { floor: FLOOR_BEHIND }),
    note: `median of ${times.length} polls, p99 ${(percentile(times, 99) * 1000).toFixed(0)} µs`,
  };
}

/** Row 5: one worker drains `count` queued tasks in process; a 10 ms interval timer runs beside it. */
async function drain(count: number): Promise<{ rate: number; seconds: number; lateMs: number; ticks: number; gcMs: number }> {
  const hub = new Hub(FLEET_OPTIONS);
  await register(hub, "cpu-1", { resources: CPU });
  for (let i = 0; i < count; i++) await hub.submit({ type: "echo", params: { n: i } });
  let last = performance.now();
  let lateMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    lateMs = Math.max(lateMs, now - last - 10);
    last = now;
    ticks++;
  }, 10);
  // GC pauses are reported beside the timer's delay: on a loaded machine they, not the hub's
  // code between two yields, make the longest delays.
  let gcMs = 0;
  const gcs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs = Math.max(gcMs, e.duration);
  });
  gcs.observe({ entryTypes: ["gc"] });
  const t0 = performance.now();
  let done = 0;
  for (;;) {
    const task = await poll(hub, "cpu-1", 0.01);
    if (task === null) break;
    await result(hub, "cpu-1", task);
    done++;
  }
  const seconds = (performance.now() - t0) / 1000;
  lateMs = Math.max(lateMs, performance.now() - last - 10);
  clearInterval(timer);
  await new Promise((r) => setImmediate(r));
  gcs.disconnect();
  await hub.close();
  if (done !== count) throw new Error(`drained ${done} of ${count}`);
  return { rate: count / seconds, seconds, lateMs, ticks, gcMs };
}

/** How late a 10 ms interval timer gets over `ms` with nothing else running (the machine's own noise). */
async function idleTimerLate(ms: number): Promise<number> {
  let last = performance.now();
  let late = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    late = Math.max(late, now - last - 10);
    last = now;
  }, 10);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(timer);
  return late;
}

/** Runs bench/hub-fleet-child.ts in its own process (GC exposed) and returns its one answer. */
function child<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = fork(CHILD, args, { execArgv: ["--import", "tsx", "--expose-gc", "--max-old-space-size=8192"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
    let answer: T | undefined;
    proc.once("message", (m) => (answer = m as T));
    proc.once("error", reject);
    proc.once("exit", (code) => (answer !== undefined ? resolve(answer) : reject(new Error(`bench child ${args.join(" ")} exited with ${code}`))));
  });
}

/** Rows of the fleet benchmark. */
export async function run(): Promise<BenchRow[]> {
  const load = loadavg().map((l) => l.toFixed(1)).join(" / ");
  const rows: BenchRow[] = [{ name: "machine", opsPerSec: 0, usPerOp: 0, note: `${availableParallelism()} cores, load average ${load} (1 / 5 / 15 min) at the start` }];
  const FLEETS = [1_000, 10_000, 100_000];

  // 6 first, while the machine is quiet.
  const QUEUED = 100_000;
  const mem = await child<{ storeBytes: number; hubBytes: number; exact: boolean }>(["memory", String(QUEUED)]);
  const memRow: BenchRow = {
    name: `memory per queued task (${k(QUEUED)} queued, small params)`,
    opsPerSec: 0,
    usPerOp: 0,
    note: `${(mem.hubBytes / 1024).toFixed(2)} KiB/task through hub.submit() (store alone ${(mem.storeBytes / 1024).toFixed(2)} KiB, the rest the hub's outcome promise); heap after GC, own process${mem.exact ? "" : ", approximate"}`,
  };

  // 1
  rows.push(await gpuAmongCpu(0, false, 5, 500));
  const rates = new Map<number, number>();
  for (const n of FLEETS) {
    const row = await gpuAmongCpu(n, false, 5, 500);
    rates.set(n, row.opsPerSec);
    if (n === 100_000) row.note += `; growth exponent 1k→100k ${exponent(rates.get(1_000)!, row.opsPerSec, 100)} (target ≈ 0)`;
    rows.push(row);
  }
  // Distinct profiles at 1k and 10k only: at 100k a round lasts tens of seconds.
  const distinctRates = new Map<number, number>();
  for (const n of [1_000, 10_000]) {
    const row = await gpuAmongCpu(n, true, 3, 500);
    distinctRates.set(n, row.opsPerSec);
    if (n === 10_000) row.note += `; growth exponent 1k→10k ${exponent(distinctRates.get(1_000)!, row.opsPerSec, 10)} (target ≈ 0)`;
    rows.push(row);
  }

  // 2
  rows.push(await refusedSubmit(1, false, 5));
  const refused = new Map<number, number>();
  for (const n of FLEETS) {
    const row = await refusedSubmit(n, false, 5);
    refused.set(n, row.opsPerSec);
    if (n === 100_000) row.note = `growth exponent 1k→100k ${exponent(refused.get(1_000)!, row.opsPerSec, 100)} (target ≈ 0)`;
    rows.push(row);
  }
  const distinctRefused = new Map<number, number>();
  for (const n of [100, 1_000]) {
    const row = await refusedSubmit(n, true, 3);
    distinctRefused.set(n, row.opsPerSec);
    if (n === 1_000) row.note = `growth exponent 100→1k ${exponent(distinctRefused.get(100)!, row.opsPerSec, 10)}`;
    rows.push(row);
  }

  // 3
  rows.push(await behindUnrunnable(0, "requirements"));
  for (const by of ["requirements", "contract"] as const) for (const behind of [64, 10_000]) rows.push(await behindUnrunnable(behind, by));

  // 5
  const small = [await drain(1_000), await drain(1_000), await drain(1_000)];
  const floorRate = median(small.map((d) => d.rate));
  rows.push({ name: FLOOR_DRAIN, opsPerSec: floorRate, usPerOp: 1e6 / floorRate, note: "median of 3 drains" });
  const DRAINED = 100_000;
  const idle = await idleTimerLate(2000);
  const big = await drain(DRAINED);
  rows.push({
    name: `drain of ${k(DRAINED)} queued tasks by one worker (poll + result, in process)`,
    opsPerSec: big.rate,
    usPerOp: 1e6 / big.rate,
    floor: FLOOR_DRAIN,
    note: `${big.seconds.toFixed(2)} s in all; a 10 ms interval timer ran ${big.ticks} times, at most ${big.lateMs.toFixed(1)} ms late (alone just before, 2 s: at most ${idle.toFixed(1)} ms late); longest GC pause ${big.gcMs.toFixed(1)} ms`,
  });

  // 4, last: a million tasks take most of the heap this row needs.
  const SWEPT = 1_000_000;
  const sw = await child<{ empty: { ms: number; stall: number }; full: { ms: number; stall: number }; fillSeconds: number; heapMiB: number; idle: number }>(["sweep", String(SWEPT)]);
  rows.push({ name: FLOOR_SWEEP, opsPerSec: 1000 / sw.empty.ms, usPerOp: sw.empty.ms * 1000, note: `longest event-loop stall ${sw.empty.stall.toFixed(1)} ms (21 sweeps, one held poll)` });
  rows.push({
    name: `sweep, ${k(SWEPT)} queued tasks (deadlines 1 h ahead, none due)`,
    opsPerSec: 1000 / sw.full.ms,
    usPerOp: sw.full.ms * 1000,
    floor: FLOOR_SWEEP,
    note: `median of 11 sweeps; longest event-loop stall ${sw.full.stall.toFixed(1)} ms (idle loop, same process, 1 s: ${sw.idle.toFixed(1)} ms); one held poll that cannot run them; queued straight into the store in ${sw.fillSeconds.toFixed(1)} s, heap ${Math.round(sw.heapMiB)} MiB`,
  });

  // 7
  rows.push(await workerPage(1000));
  const page = await workerPage(100_000);
  page.note = `growth exponent 1k→100k ${exponent(rows[rows.length - 1]!.opsPerSec, page.opsPerSec, 100)} (target ≈ 0); pages through the whole fleet cost the pages, not a sort of it each`;
  rows.push(page);

  // 8
  const shallow = await submitBehind(1_000);
  rows.push(shallow);
  const deep = await submitBehind(100_000);
  deep.note = `growth exponent 1k→100k ${exponent(shallow.opsPerSec, deep.opsPerSec, 100)} (target ≈ 0); no worker, hub metrics attached`;
  rows.push(deep);

  rows.push(memRow);
  return rows;
}
