/**
 * End to end through real `rxon hub` processes: clients submit over the client API
 * (`POST /_client/tasks`, then `GET /_client/tasks/{id}?wait=30`), 16 real `Worker`s (HMAC-signed
 * register, polls and results, in one child process) run the task, closed loop. All rows in one
 * run, next to each other:
 *
 * 1. floors: a bare node:http server process and the same client lanes doing the same client round
 *    trips per task (POST + GET), no workers; and a bare relay hub (a queue, held polls and held
 *    waits on node:http, no signing, checks or store) with 16 bare result loops, each result
 *    bringing the next task as the hub's do (a poll only when none came): the least a hub of this
 *    protocol's shape costs here, whatever it is written in;
 * 2. `rxon hub`, memory store, one process;
 * 3. `rxon hub --store redis://`, one process;
 * 4. three `rxon hub` processes on one Redis, clients and workers spread over them round-robin;
 *    rows 2–4 each twice: clients doing `POST` then `GET ?wait` (two exchanges per task), and
 *    clients doing `POST ?wait` (submit and wait in one exchange);
 * 5. BullMQ on a Redis of the same build and settings: one BullMQ Worker with concurrency 16 in
 *    the worker child process, clients doing `queue.add` + `job.waitUntilFinished(queueEvents)`.
 *
 * Hub and child processes run the compiled package (built into dist/ first, as the published `rxon`
 * runs). Clients run in this process (undici, one connection per lane). Every row's processes are
 * started first and each row warmed up; then the rows take turns, one timed round each, ROUNDS
 * times (each round after a short re-warm). A row's rounds are thus spread over the whole run, as
 * every other row's are: a machine that slows down for a while slows all rows alike, instead of
 * deciding a ratio between two rows measured minutes apart. The rate is the median round, p50/p99
 * submit-to-outcome are over all rounds, and p99 submit-to-dispatch is the worker handler's start
 * minus the submit time (one machine's clock). The Redis rows and BullMQ each get a Redis server of
 * their own (same build, same settings), so idle hubs' periodic commands never reach the Redis
 * of the row being measured; each row's note says how much CPU the idle rows took meanwhile.
 * `RXON_BENCH_E2E_ROWS=floor,relay,relay1,memory,memory1,redis,redis1,redis3,redis31,bullmq` runs only those rows (all by default);
 * `RXON_BENCH_CPU_PROF=<dir>` runs the hub and child processes with `--cpu-prof` into that directory;
 * `RXON_BENCH_E2E_LANES=<n>` keeps n tasks in flight instead of 32 (the targets hold for 32 only).
 * Every process started here is stopped by PID at the end, also when a row fails.
 */
import { spawn, spawnSync, fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { hasRedisServer, REDIS_INSTALL_HINT, startRedis, type RedisServer } from "../test/helpers/redis.js";
import type { BenchRow } from "./harness.js";
import { median, percentile } from "./harness.js";
import { nowAbs, workerCredentials } from "./hub-e2e-child.js";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
/** The worker child and the CLI as compiled by {@link build}. */
const CHILD = join(ROOT, "dist", "bench", "hub-e2e-child.js");
const CLI = join(ROOT, "dist", "src", "cli", "main.js");
const WORKERS = 16;
/**
 * Tasks in flight: two per worker, so a worker has its next task waiting when it re-polls
 * (`RXON_BENCH_E2E_LANES` sets another number, e.g. 1 for a fleet that is mostly idle).
 */
const LANES = lanes(process.env.RXON_BENCH_E2E_LANES, 2 * WORKERS);
const ROUNDS = 5;
const ROUND_MS = 2000;
const WARMUP_MS = 2000;
/** Unmeasured lead-in of each round: the row's processes have been idle while other rows ran. */
const REWARM_MS = 400;
const CLIENT_TOKEN = "bench-client-token-e2e";
const FLOOR = "floor: node:http + undici, POST + GET per task";
const BULLMQ = "BullMQ 6.7.0, 16 concurrent consumers";
const TWO = "POST + GET ?wait";
const ONE = "POST ?wait";
const RELAY = `floor: bare relay hub, ${TWO}`;
const RELAY1 = `floor: bare relay hub, ${ONE}`;
const MEMORY = `rxon hub, memory store, 1 process, ${TWO}`;
const MEMORY1 = `rxon hub, memory store, 1 process, ${ONE}`;
const REDIS = `rxon hub, Redis store, 1 process, ${TWO}`;
const REDIS1 = `rxon hub, Redis store, 1 process, ${ONE}`;
const REDIS3 = `rxon hub, Redis store, 3 processes, ${TWO}`;
const REDIS31 = `rxon hub, Redis store, 3 processes, ${ONE}`;

/** Every process this bench started, stopped by PID at the end. */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
});

function track<C extends ChildProcess>(c: C): C {
  children.add(c);
  c.once("exit", () => children.delete(c));
  return c;
}

function exited(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((r) => c.once("exit", () => r()));
}

/** SIGTERM by PID, SIGKILL after `graceMs`; resolves once the process is gone. */
async function stopProcess(c: ChildProcess, graceMs = 5000): Promise<void> {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  process.kill(c.pid, "SIGTERM");
  const timer = setTimeout(() => c.pid !== undefined && c.exitCode === null && process.kill(c.pid, "SIGKILL"), graceMs);
  await exited(c);
  clearTimeout(timer);
}

/** Waits for the first IPC message matching `pick`, failing if the child exits first. */
function message<T>(c: ChildProcess, pick: (m: Record<string, unknown>) => T | undefined, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error("child did not answer in time")), timeoutMs);
    const onMessage = (m: Record<string, unknown>): void => {
      const v = pick(m);
      if (v !== undefined) done(undefined, v);
    };
    const onExit = (code: number | null): void => done(new Error(`child exited (${code}) before answering`));
    const done = (err?: Error, v?: T): void => {
      clearTimeout(timer);
      c.off("message", onMessage);
      c.off("exit", onExit);
      if (err) reject(err);
      else resolve(v as T);
    };
    c.on("message", onMessage);
    c.once("exit", onExit);
  });
}

/**
 * Compiles the package (into dist/, as `npm run build` does) and the worker child with tsc, so the
 * hub and worker processes run the JavaScript the published package runs. Under a TypeScript
 * loader they would also pay for its transforms (esbuild's name-keeping wrappers on every
 * function made at run time), which no user of the package pays.
 */
function build(): void {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  for (const args of [[tsc, "-p", join("bench", "tsconfig.e2e.json")], [join("codegen", "copy-runtime.mjs")]]) {
    const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
    if (r.status !== 0) throw new Error(`build for the end-to-end bench failed: ${r.stdout}${r.stderr}`);
  }
}

/** Node flags of every process started here: `--cpu-prof` when asked for. */
function execArgv(): string[] {
  const prof = process.env.RXON_BENCH_CPU_PROF;
  return prof ? ["--cpu-prof", "--cpu-prof-dir", prof] : [];
}

function forkChild(args: string[]): ChildProcess {
  return track(fork(CHILD, args, { execArgv: execArgv(), stdio: ["ignore", "inherit", "inherit", "ipc"], cwd: ROOT }));
}

/** Starts the worker child (rxon Workers or a BullMQ Worker) and waits until it is ready. */
async function startWorkers(args: string[]): Promise<{ pid: number; stop: () => Promise<void> }> {
  const c = forkChild(args);
  await message(c, (m) => (m.ready === true ? true : undefined));
  return {
    pid: c.pid!,
    stop: async () => {
      if (c.exitCode === null && c.signalCode === null) {
        c.send({ stop: true });
        const timer = setTimeout(() => c.pid !== undefined && c.exitCode === null && process.kill(c.pid, "SIGKILL"), 10_000);
        await exited(c);
        clearTimeout(timer);
      }
    },
  };
}

/** Files every hub process reads: worker credentials and the client token. */
function credentialFiles(dir: string): { tokens: string; clients: string } {
  const tokens = join(dir, "tokens.json");
  const clients = join(dir, "client-tokens.txt");
  writeFileSync(tokens, JSON.stringify(Object.fromEntries(Array.from({ length: WORKERS }, (_, i) => [workerCredentials(i).id, workerCredentials(i).secret]))), { mode: 0o600 });
  writeFileSync(clients, `${CLIENT_TOKEN}\n`, { mode: 0o600 });
  return { tokens, clients };
}

/** Starts one `rxon hub` process on a free port; resolves with its URL once it listens. */
async function startHub(files: { tokens: string; clients: string }, store: string, prefix: string): Promise<{ url: string; proc: ChildProcess }> {
  const args = [CLI, "hub", "--port", "0", "--tokens", files.tokens, "--client-tokens", files.clients, "--store", store, "--store-prefix", prefix, "--log-level", "error"];
  const proc = track(spawn(process.execPath, [...execArgv(), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] }));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("rxon hub did not listen within 60 s")), 60_000);
    proc.once("exit", (code) => reject(new Error(`rxon hub exited with ${code}`)));
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  return { url, proc };
}

/** Latencies of one measured stretch. */
interface Samples {
  total: number[];
  dispatch: number[];
}

/** One task of a closed loop: resolves with its submit-to-outcome and submit-to-dispatch times (ms). */
type Task = (lane: number, n: number) => Promise<{ total: number; dispatch?: number }>;

/** Tasks in flight from the environment's text: a whole number from 1 to 1024, else `fallback`. */
function lanes(text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`RXON_BENCH_E2E_LANES must be a whole number from 1 to 1024, not ${JSON.stringify(text)}`);
  return n;
}

/** Runs `LANES` lanes for `ms`; tasks per second (each lane's last task included). */
async function closedLoop(task: Task, ms: number, samples?: Samples): Promise<number> {
  const t0 = performance.now();
  const end = t0 + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      while (performance.now() < end) {
        const r = await task(lane, done);
        done++;
        samples?.total.push(r.total);
        if (r.dispatch !== undefined) samples?.dispatch.push(r.dispatch);
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

/** CPU time (user + system) of a process so far in ms, from /proc (undefined elsewhere). */
function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Calls per command the Redis server on `port` has run so far (`INFO commandstats`, which also
 * counts the commands scripts run), or undefined without redis-cli.
 */
function redisCommands(port: number | undefined): Map<string, number> | undefined {
  if (port === undefined) return undefined;
  const out = spawnSync("redis-cli", ["-p", String(port), "info", "commandstats"], { encoding: "utf8", timeout: 5000 });
  if (out.status !== 0) return undefined;
  const calls = new Map<string, number>();
  for (const m of (out.stdout ?? "").matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

/** "N Redis commands/task (top: a x, b y, ...)" from commands counted over `tasks` tasks. */
function commandsPerTask(counted: Map<string, number>, tasks: number): string {
  if (counted.size === 0) return "";
  const per = [...counted].map(([k, v]) => [k, v / tasks] as const).filter(([k, v]) => v > 0 && k !== "info");
  const total = per.reduce((a, [, v]) => a + v, 0);
  const top = per.sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
  return `; ${total.toFixed(1)} Redis commands/task, scripts' included (${top})`;
}

/** Processes whose CPU share a row reports, by label (this process is "clients"). */
type Watched = Record<string, number[]>;

function cpuOf(watched: Watched): Record<string, number> {
  const out: Record<string, number> = {};
  const self = process.cpuUsage();
  out.clients = (self.user + self.system) / 1000;
  for (const [label, pids] of Object.entries(watched)) out[label] = pids.reduce((a, pid) => a + (procCpuMs(pid) ?? NaN), 0);
  return out;
}

const int = (n: number): string => Math.round(n).toLocaleString("en-US");

/** A row being measured: what one of its rounds runs, and what its rounds so far measured. */
interface Row {
  readonly name: string;
  readonly task: Task;
  readonly note: string;
  readonly floor: string | undefined;
  readonly watched: Watched;
  readonly redisPort: number | undefined;
  readonly samples: Samples;
  readonly rates: number[];
  /** CPU ms of each watched process over the measured rounds. */
  readonly cpu: Record<string, number>;
  /** Redis commands run during the measured rounds. */
  readonly commands: Map<string, number>;
  /** Wall time of the measured rounds, ms. */
  wall: number;
  /** CPU ms the other rows' (idle) processes took during the measured rounds. */
  idleCpu: number;
}

/** A row whose processes are up: warmed up once, measured by {@link measureRound}. */
async function openRow(name: string, task: Task, note: string, floor: string | undefined, watched: Watched, redisPort?: number): Promise<Row> {
  await closedLoop(task, WARMUP_MS);
  return { name, task, note, floor, watched, redisPort, samples: { total: [], dispatch: [] }, rates: [], cpu: {}, commands: new Map(), wall: 0, idleCpu: 0 };
}

/**
 * One timed round of `row` (after a short re-warm), added to what it measured so far; `all` rows'
 * processes that are not `row`'s are idle meanwhile, and what CPU they take is counted too.
 */
async function measureRound(row: Row, all: readonly Row[]): Promise<void> {
  await closedLoop(row.task, REWARM_MS);
  const mine = new Set(Object.values(row.watched).flat());
  const idle = [...new Set(all.flatMap((r) => Object.values(r.watched).flat()))].filter((pid) => !mine.has(pid));
  const commands0 = redisCommands(row.redisPort);
  const cpu0 = cpuOf(row.watched);
  const idle0 = idle.reduce((a, pid) => a + (procCpuMs(pid) ?? 0), 0);
  const t0 = performance.now();
  row.rates.push(await closedLoop(row.task, ROUND_MS, row.samples));
  row.wall += performance.now() - t0;
  row.idleCpu += idle.reduce((a, pid) => a + (procCpuMs(pid) ?? 0), 0) - idle0;
  const cpu1 = cpuOf(row.watched);
  const commands1 = redisCommands(row.redisPort);
  for (const k of Object.keys(cpu1)) row.cpu[k] = (row.cpu[k] ?? 0) + cpu1[k]! - cpu0[k]!;
  if (commands0 !== undefined && commands1 !== undefined) {
    for (const [k, v] of commands1) row.commands.set(k, (row.commands.get(k) ?? 0) + v - (commands0.get(k) ?? 0));
  }
}

/**
 * CPU time per task of each process of a row over its measured rounds (µs), their total, and the
 * cores they kept busy meanwhile: on a shared machine this says more than the rate, which also
 * depends on what else runs.
 */
function costOf(row: Row): { perTask: (readonly [string, number])[]; total: number; cores: number } {
  const tasks = row.samples.total.length;
  const perTask = Object.entries(row.cpu)
    .map(([k, ms]) => [k, (ms * 1000) / tasks] as const)
    .filter(([, v]) => Number.isFinite(v));
  const total = perTask.reduce((a, [, v]) => a + v, 0);
  return { perTask, total, cores: (total * tasks) / row.wall / 1000 };
}

/**
 * What a ratio target allows a task: at the cores the row kept busy, a rate of `factor` times
 * `reference`'s leaves this much CPU per task over all the row's processes; beside what it took.
 */
function budgetNote(row: Row, factor: number, reference: number): string {
  const { total, cores } = costOf(row);
  const budget = (cores * 1e6) / (factor * reference);
  return `at ${Math.round(cores * 100)}% of one core the target allows ${Math.round(budget)} µs/task over all processes, this row took ${Math.round(total)}`;
}

/** The table row of a measured row: median rate, p50/p99 over all its rounds, CPU per task. */
function rowResult(row: Row): BenchRow {
  const { samples, rates } = row;
  const tasks = samples.total.length;
  const { perTask, total, cores } = costOf(row);
  const shares = `${perTask.map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")}, total ${Math.round(total)} µs/task; ${Math.round(cores * 100)}% of one core (the other rows' idle processes ${((row.idleCpu / row.wall) * 100).toFixed(1)}%)${commandsPerTask(row.commands, tasks)}`;
  const ops = median(rates);
  const dispatch = samples.dispatch.length > 0 ? `, submit-to-dispatch p50 ${percentile(samples.dispatch, 50).toFixed(1)} ms, p99 ${percentile(samples.dispatch, 99).toFixed(1)} ms` : "";
  return {
    name: row.name,
    opsPerSec: ops,
    usPerOp: 1e6 / ops,
    ...(row.floor !== undefined ? { floor: row.floor } : {}),
    note: `p50 ${percentile(samples.total, 50).toFixed(1)} ms, p99 ${percentile(samples.total, 99).toFixed(1)} ms submit-to-outcome${dispatch}; ${ROUNDS} rounds ${int(Math.min(...rates))}–${int(Math.max(...rates))}/s; CPU ${shares}${row.note ? `; ${row.note}` : ""}${LANES !== 2 * WORKERS ? `; ${LANES} tasks in flight (RXON_BENCH_E2E_LANES), not 32` : ""}`,
  };
}

/**
 * How a client submits and waits: `two` requests (`POST /_client/tasks`, then
 * `GET /_client/tasks/{id}?wait=30`), or `one` (`POST /_client/tasks?wait=30`, submit and wait in
 * one exchange, then `GET ?wait` only if the task outlived the wait).
 */
type ClientMode = "one" | "two";

/** A client-API closed-loop task against hubs `urls` (lane i talks to hub i mod n). */
function clientApiTask(urls: string[], agent: Agent, mode: ClientMode): Task {
  const headers = { "x-client-token": CLIENT_TOKEN, "content-type": "application/json" };
  return async (lane, n) => {
    const url = urls[lane % urls.length]!;
    const t = nowAbs();
    const posted = await request(`${url}/_client/tasks${mode === "one" ? "?wait=30" : ""}`, { dispatcher: agent, method: "POST", headers, body: JSON.stringify({ type: "echo", params: { n, t } }) });
    const sub = (await posted.body.json()) as { job_id?: string; outcome?: { status: string; data?: { d: number } } };
    if ((posted.statusCode !== 202 && posted.statusCode !== 200) || sub.job_id === undefined) throw new Error(`submit answered ${posted.statusCode}: ${JSON.stringify(sub)}`);
    if (sub.outcome !== undefined) {
      if (sub.outcome.status !== "success") throw new Error(`task went wrong: ${JSON.stringify(sub)}`);
      return { total: nowAbs() - t, dispatch: sub.outcome.data!.d };
    }
    for (;;) {
      const got = await request(`${url}/_client/tasks/${sub.job_id}?wait=30`, { dispatcher: agent, method: "GET", headers: { "x-client-token": CLIENT_TOKEN } });
      const view = (await got.body.json()) as { status?: string; outcome?: { status: string; data?: { d: number } } };
      if (got.statusCode !== 200) throw new Error(`status answered ${got.statusCode}: ${JSON.stringify(view)}`);
      if (view.outcome === undefined) continue;
      if (view.outcome.status !== "success") throw new Error(`task went wrong: ${JSON.stringify(view)}`);
      return { total: nowAbs() - t, dispatch: view.outcome.data!.d };
    }
  };
}

/** The floor task: the same two client round trips against a bare server. */
function floorTask(url: string, agent: Agent): Task {
  return async (_lane, n) => {
    const t = performance.now();
    const posted = await request(`${url}/_client/tasks`, { dispatcher: agent, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "echo", params: { n, t } }) });
    const sub = (await posted.body.json()) as { job_id: string };
    const got = await request(`${url}/_client/tasks/${sub.job_id}?wait=30`, { dispatcher: agent, method: "GET" });
    await got.body.json();
    return { total: performance.now() - t };
  };
}

/** The processes of one or more rows, up and warmed; `close` stops them (by PID). */
interface Setup {
  readonly rows: Row[];
  close(): Promise<void>;
}

/** Row names per client mode; a mode without a name is not measured. */
type ModeRows = Partial<Record<ClientMode, string>>;

/** Starts processes with `start`, then opens rows on them; on a failure stops what started. */
async function setup(start: (closers: (() => Promise<void>)[]) => Promise<Row[]>): Promise<Setup> {
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c();
  };
  try {
    return { rows: await start(closers), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Opens one row per named client mode, two exchanges per task first. */
async function modeRows(names: ModeRows, open: (name: string, mode: ClientMode) => Promise<Row>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of ["two", "one"] as const) {
    const name = names[mode];
    if (name !== undefined) rows.push(await open(name, mode));
  }
  return rows;
}

/** Rows 2–4: `hubs` rxon hub processes on `store`, 16 Workers spread over them. */
function hubSetup(names: ModeRows, files: { tokens: string; clients: string }, store: string, hubs: number, note: string, redis?: RedisServer): Promise<Setup> {
  return setup(async (closers) => {
    const prefix = `e2e-${process.pid}-${Date.now()}-${hubs}`;
    const procs: ChildProcess[] = [];
    closers.push(() => Promise.all(procs.map((p) => stopProcess(p))).then(() => undefined));
    const urls: string[] = [];
    for (let i = 0; i < hubs; i++) {
      const h = await startHub(files, store, prefix);
      procs.push(h.proc);
      urls.push(h.url);
    }
    const workers = await startWorkers(["workers", JSON.stringify(urls), String(WORKERS)]);
    closers.push(workers.stop);
    const agent = new Agent({ connections: LANES, pipelining: 1 });
    closers.push(() => agent.close());
    const watched = { hub: procs.map((p) => p.pid!), workers: [workers.pid], redis: redis === undefined ? [] : [redis.pid] };
    return modeRows(names, (name, mode) => openRow(name, clientApiTask(urls, agent, mode), note, FLOOR, watched, redis?.port));
  });
}

function floorSetup(): Promise<Setup> {
  return setup(async (closers) => {
    const server = forkChild(["floor-server"]);
    closers.push(() => stopProcess(server));
    const url = await message(server, (m) => (typeof m.url === "string" ? m.url : undefined));
    const agent = new Agent({ connections: LANES, pipelining: 1 });
    closers.push(() => agent.close());
    return [await openRow(FLOOR, floorTask(url, agent), "a hub task also costs the worker's poll and result; no workers here", undefined, { server: [server.pid!] })];
  });
}

/** The relay floor: the least a hub of this shape costs (bare node:http, no signing, checks or store). */
function relaySetup(names: ModeRows): Promise<Setup> {
  return setup(async (closers) => {
    const server = forkChild(["relay-server"]);
    closers.push(() => stopProcess(server));
    const url = await message(server, (m) => (typeof m.url === "string" ? m.url : undefined));
    const workers = await startWorkers(["relay-workers", url, String(WORKERS)]);
    closers.push(workers.stop);
    const agent = new Agent({ connections: LANES, pipelining: 1 });
    closers.push(() => agent.close());
    const note = "bare node:http relay: a queue, held polls and held waits; 16 bare undici loops whose results bring the next task (a poll when none came); no signing, checks or store";
    return modeRows(names, (name, mode) => openRow(name, relayTask(url, agent, mode), note, undefined, { server: [server.pid!], workers: [workers.pid] }));
  });
}

/** A task against the relay server: the same client exchanges as {@link clientApiTask}, no token. */
function relayTask(url: string, agent: Agent, mode: ClientMode): Task {
  const headers = { "content-type": "application/json" };
  return async (_lane, n) => {
    const t = nowAbs();
    const posted = await request(`${url}/_client/tasks${mode === "one" ? "?wait=30" : ""}`, { dispatcher: agent, method: "POST", headers, body: JSON.stringify({ n, t }) });
    let view = (await posted.body.json()) as { job_id: string; outcome?: { data: { d: number } } };
    if (view.outcome === undefined) {
      const got = await request(`${url}/_client/tasks/${view.job_id}?wait=30`, { dispatcher: agent, method: "GET" });
      view = (await got.body.json()) as typeof view;
    }
    return { total: nowAbs() - t, dispatch: view.outcome!.data.d };
  };
}

function bullmqSetup(redis: RedisServer): Promise<Setup> {
  return setup(async (closers) => {
    const { Queue, QueueEvents } = await import("bullmq");
    const name = `e2e-${process.pid}-${Date.now()}`;
    const connection = { host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null };
    const queue = new Queue(name, { connection });
    closers.push(() => queue.close());
    const events = new QueueEvents(name, { connection });
    closers.push(() => events.close());
    // Every waiting lane listens on these two.
    queue.setMaxListeners(0);
    events.setMaxListeners(0);
    await queue.waitUntilReady();
    await events.waitUntilReady();
    const workers = await startWorkers(["bullmq", String(redis.port), name, String(WORKERS)]);
    closers.push(workers.stop);
    const task: Task = async (_lane, n) => {
      const t = nowAbs();
      // Finished jobs are trimmed to the last 1,000, as a service under load would keep them; removing
      // them at once races waitUntilFinished (it reads the job after subscribing).
      const job = await queue.add("echo", { n, t }, { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } });
      const out = (await job.waitUntilFinished(events, 30_000)) as { n: number; d: number };
      return { total: nowAbs() - t, dispatch: out.d };
    };
    return [await openRow(BULLMQ, task, "queue.add + job.waitUntilFinished(queueEvents); one BullMQ Worker, concurrency 16, in the worker child", FLOOR, { workers: [workers.pid], redis: [redis.pid] }, redis.port)];
  });
}

/** Runs every row; see the file comment. */
export async function run(): Promise<BenchRow[]> {
  build();
  const dir = mkdtempSync(join(tmpdir(), "rxon-e2e-"));
  const files = credentialFiles(dir);
  const redises: RedisServer[] = [];
  const setups: Setup[] = [];
  try {
    const only = process.env.RXON_BENCH_E2E_ROWS?.split(",");
    const want = (row: string): boolean => only === undefined || only.includes(row);
    const named = (two: string, twoName: string, one: string, oneName: string): ModeRows => ({ ...(want(two) ? { two: twoName } : {}), ...(want(one) ? { one: oneName } : {}) });
    const some = (names: ModeRows): boolean => names.one !== undefined || names.two !== undefined;
    const extra: BenchRow[] = [];
    if (want("floor")) setups.push(await floorSetup());
    const relay = named("relay", RELAY, "relay1", RELAY1);
    if (some(relay)) setups.push(await relaySetup(relay));
    const memory = named("memory", MEMORY, "memory1", MEMORY1);
    if (some(memory)) setups.push(await hubSetup(memory, files, "memory", 1, "16 signed Workers"));
    const redis1 = named("redis", REDIS, "redis1", REDIS1);
    const redis3 = named("redis3", REDIS3, "redis31", REDIS31);
    if ([redis1, redis3].some(some) || want("bullmq")) {
      if (!hasRedisServer()) {
        // The Redis and BullMQ rows need a redis-server; the others still tell something.
        extra.push({ name: "Redis and BullMQ rows skipped", opsPerSec: 0, usPerOp: 0, note: REDIS_INSTALL_HINT });
      } else {
        // One Redis server per setup: the periodic commands of idle hubs never reach the Redis of
        // the row being measured.
        const server = async (): Promise<RedisServer> => {
          const r = await startRedis();
          redises.push(r);
          return r;
        };
        if (some(redis1)) {
          const r = await server();
          setups.push(await hubSetup(redis1, files, `${r.url}/0`, 1, "16 signed Workers", r));
        }
        const target = "16 signed Workers and the client lanes round-robin; target ≥ 1,500/s, p99 submit-to-dispatch < 50 ms";
        if (some(redis3)) {
          const r = await server();
          setups.push(await hubSetup(redis3, files, `${r.url}/0`, 3, target, r));
        }
        if (want("bullmq")) setups.push(await bullmqSetup(await server()));
      }
    }
    // The rows take turns, one round each (see the file comment).
    const rows = setups.flatMap((s) => s.rows);
    for (let r = 0; r < ROUNDS; r++) for (const row of rows) await measureRound(row, rows);
    const results = [...rows.map(rowResult), ...extra];
    const byName = new Map(results.map((r) => [r.name, r]));
    const bull = byName.get(BULLMQ);
    const vs = (n: string, factor: number): void => {
      const r = byName.get(n);
      const row = rows.find((x) => x.name === n);
      if (r === undefined || row === undefined || bull === undefined) return;
      r.note = `${(r.opsPerSec / bull.opsPerSec).toFixed(2)}x BullMQ (target ≥ ${factor.toFixed(2)}x; ${budgetNote(row, factor, bull.opsPerSec)}); ${r.note ?? ""}`;
    };
    vs(MEMORY, 1);
    vs(MEMORY1, 1);
    vs(REDIS, 0.75);
    vs(REDIS1, 0.75);
    return results;
  } finally {
    for (const s of setups.reverse()) await s.close();
    for (const r of redises) await r.stop();
    for (const c of [...children]) await stopProcess(c);
    rmSync(dir, { recursive: true, force: true });
  }
}
