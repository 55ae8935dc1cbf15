/**
 * Helpers of bench/hub-fleet.bench.ts: an in-process hub driven through `hub.handler` the way a
 * listener drives it (decoded payloads plus a context, auth off so dispatch is what is measured),
 * a probe for event-loop stalls, and the rows that need a process of their own (run as a child
 * with `node --import tsx --expose-gc`), answered over IPC:
 *
 * - `memory <count>`: heap used per queued task after GC, store alone and through `hub.submit()`;
 * - `sweep <count>`: one `hub.sweep()` with 0 and with `count` queued tasks (deadlines an hour
 *   ahead, none due; queued straight into the hub's store): duration and the longest event-loop
 *   stall.
 */
import type { IncomingMessage } from "node:http";
import { pathToFileURL } from "node:url";
import { Hub, MemoryStore, queueNameOf, type HubOptions, type NewJob } from "../src/hub/index.js";
import { decode } from "../src/wire/codec.js";
import type { ListenerContext } from "../src/listener/types.js";
import { median } from "./harness.js";

/**
 * Hub options of every fleet row: auth off, and no periodic sweep, expiry or hold timeout that
 * could fire in the middle of a measurement (rows call `hub.sweep()` themselves).
 */
export const FLEET_OPTIONS: HubOptions = { auth: {}, workerTtlMs: 3_600_000, maxPollHoldMs: 3_600_000, sweepIntervalMs: 3_600_000 };
/** Resources of a GPU worker. */
export const GPU = { devices: [{ type: "gpu", properties: { vram_gb: 24 } }] };
/** Requirements of a GPU-only task. */
export const NEEDS_GPU = { resources: { devices: [{ type: "gpu" }] } };
/** Resources of a CPU worker. */
export const CPU = { properties: { cpu_cores: 4 } };

type Handler = (action: string, payload: unknown, ctx: ListenerContext) => Promise<unknown>;

/** A claimed task as the worker receives it. */
export interface Task {
  job_id: string;
  task_id: string;
  params: Record<string, unknown>;
}

function ctx(id: string, raw: Record<string, unknown> | null, signal: AbortSignal, pollTimeout?: number): ListenerContext {
  return {
    token: null,
    workerIdHint: id,
    protocolVersion: "1.0b14",
    certIdentity: null,
    transport: "http",
    rawRequest: {} as IncomingMessage,
    rawBody: raw as ListenerContext["rawBody"],
    signal,
    ...(pollTimeout !== undefined ? { pollTimeout } : {}),
  };
}

const NEVER = new AbortController().signal;

/** Registers a worker offering skill `echo` (with `extra` fields such as `resources`). */
export async function register(hub: Hub, id: string, extra: Record<string, unknown> = {}, skill: Record<string, unknown> = {}): Promise<void> {
  const raw = { worker_id: id, supported_skills: [{ name: "echo", version: "1.0.0", ...skill }], timestamp: Math.floor(Date.now() / 1000), ...extra };
  await (hub.handler as Handler)("register", decode("WorkerRegistration", raw), ctx(id, raw, NEVER));
}

/** One poll; its own signal, as the listener gives one per request. */
export function poll(hub: Hub, id: string, pollTimeout: number, signal: AbortSignal = new AbortController().signal): Promise<Task | null> {
  return (hub.handler as Handler)("poll", id, ctx(id, null, signal, pollTimeout)) as Promise<Task | null>;
}

/** A success result for `task`. */
export async function result(hub: Hub, id: string, task: Task): Promise<void> {
  const raw = { worker_id: id, job_id: task.job_id, task_id: task.task_id, status: "success", data: {}, timestamp: Math.floor(Date.now() / 1000) };
  const answer = (await (hub.handler as Handler)("result", decode("TaskResult", raw), ctx(id, raw, NEVER))) as { status?: string } | null;
  // Every result here is for a task just claimed: anything but accepted is a broken measurement.
  if (answer?.status !== "accepted") throw new Error(`result not accepted: ${JSON.stringify(answer)}`);
}

/** Held polls of many workers, parked until {@link Parked.release}. */
export interface Parked {
  /** Polls that came back with a task (must stay 0 for polls that cannot run what is submitted). */
  readonly served: () => number;
  /** Ends every held poll and waits for them. */
  release(): Promise<void>;
}

/** Parks one long poll of each of `ids`. */
export async function park(hub: Hub, ids: readonly string[]): Promise<Parked> {
  const controllers: AbortController[] = [];
  let served = 0;
  const held = ids.map((id) => {
    const c = new AbortController();
    controllers.push(c);
    return poll(hub, id, 3_600, c.signal).then((t) => {
      if (t !== null) served++;
    });
  });
  // Polls park after an await or two; let every one of them get there.
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  const waiting = (await hub.stats()).waitingPolls;
  if (waiting < ids.length) throw new Error(`only ${waiting} of ${ids.length} polls parked`);
  return {
    served: () => served,
    async release() {
      for (const c of controllers) c.abort();
      await Promise.all(held);
    },
  };
}

/**
 * Longest time the event loop was not free while it runs: a setImmediate chain records the
 * largest gap between two of its turns.
 */
export function stallProbe(): { stop(): number } {
  let last = performance.now();
  let max = 0;
  let on = true;
  const tick = (): void => {
    const now = performance.now();
    if (now - last > max) max = now - last;
    last = now;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      on = false;
      const now = performance.now();
      return Math.max(max, now - last);
    },
  };
}

/**
 * Longest event-loop stall over `ms` with nothing to do: what the machine itself (other
 * processes, GC) costs, the baseline of every stall and timer-delay figure.
 */
export async function idleStall(ms: number): Promise<number> {
  const probe = stallProbe();
  await new Promise((r) => setTimeout(r, ms));
  return probe.stop();
}

function gc(): boolean {
  const f = (globalThis as { gc?: () => void }).gc;
  if (f === undefined) return false;
  f();
  f();
  return true;
}

function send(message: unknown): void {
  process.send?.(message);
}

/** Heap per queued task (small params, no deadline), in the store alone and through `hub.submit()`. */
async function memory(count: number): Promise<void> {
  const exact = gc();
  // The store alone: what a queued task costs wherever it is submitted from.
  let store: MemoryStore | undefined = new MemoryStore();
  let before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    const job: NewJob = { jobId: `job-${crypto.randomUUID()}`, type: "echo", queue: queueNameOf("echo", {}), params: { n: i }, requirements: {}, priority: 0, maxRetries: 3 };
    store.submit(job, {});
  }
  gc();
  const storeBytes = (process.memoryUsage().heapUsed - before) / count;
  if (store.queueLength() !== count) throw new Error("store lost tasks");
  store = undefined;
  gc();
  // Through the hub: the store plus what the hub keeps in this process (the handle's outcome promise).
  const hub = new Hub(FLEET_OPTIONS);
  await hub.submit({ type: "echo", params: { n: -1 } });
  gc();
  before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) await hub.submit({ type: "echo", params: { n: i } });
  gc();
  const hubBytes = (process.memoryUsage().heapUsed - before) / count;
  if ((await hub.stats()).queued !== count + 1) throw new Error("hub lost tasks");
  await hub.close();
  send({ storeBytes, hubBytes, exact });
}

/** One sweep's duration and longest stall, with nothing and with `count` queued tasks. */
async function sweep(count: number): Promise<void> {
  const store = new MemoryStore();
  const hub = new Hub({ ...FLEET_OPTIONS, store });
  // A held poll of a worker that cannot run the queued tasks: the sweep's cross-hub re-check has a poll to look for work for.
  await register(hub, "cpu-0", { resources: CPU });
  const parked = await park(hub, ["cpu-0"]);
  const measureSweeps = async (n: number): Promise<{ ms: number; stall: number }> => {
    const durations: number[] = [];
    let stall = 0;
    for (let i = 0; i < n; i++) {
      const probe = stallProbe();
      // Let the probe take its first turn so its clock starts at the sweep.
      await new Promise((r) => setImmediate(r));
      const t0 = performance.now();
      await hub.sweep();
      durations.push(performance.now() - t0);
      await new Promise((r) => setImmediate(r));
      stall = Math.max(stall, probe.stop());
    }
    return { ms: median(durations), stall };
  };
  const empty = await measureSweeps(21);
  const t0 = performance.now();
  // Straight into the store (a million hub.submit() calls would take most of a minute); the
  // hub's sweep sees the same store either way.
  const queue = queueNameOf("echo", NEEDS_GPU);
  const deadline = Date.now() + 3_600_000;
  for (let i = 0; i < count; i++) {
    store.submit({ jobId: `job-${crypto.randomUUID()}`, type: "echo", queue, params: { n: i }, requirements: NEEDS_GPU, priority: 0, maxRetries: 3, deadline }, {});
    // Give the hub its turns, as a stream of client submissions would (each "queued" signal is
    // offered to the held poll).
    if (i % 10_000 === 9_999) await new Promise((r) => setImmediate(r));
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  gc();
  await new Promise((r) => setTimeout(r, 100));
  const idle = await idleStall(1000);
  const full = await measureSweeps(11);
  const queued = (await hub.stats()).queued;
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  if (queued !== count || parked.served() !== 0) throw new Error(`broken measurement: ${queued} queued, ${parked.served()} served`);
  await parked.release();
  await hub.close();
  send({ empty, full, fillSeconds, heapMiB, idle });
}

// Only as the entry point of a child process (the bench imports the helpers from here).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, arg] = process.argv.slice(2);
  if (mode === "memory") await memory(Number(arg));
  else if (mode === "sweep") await sweep(Number(arg));
  else throw new Error(`unknown mode ${mode}`);
  process.disconnect?.();
}
