/**
 * A private `redis-server` for tests: started on a free loopback port (never a system one), with
 * no persistence unless asked, stopped by PID. Without `redis-server` on PATH the Redis suites are
 * skipped with a notice; with `CI=true` a missing server fails the run instead.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, test } from "vitest";

/** How to get a server when there is none. */
export const REDIS_INSTALL_HINT = "redis-server not found on PATH: install it (apt-get install redis-server) to run the Redis store tests";

/** True when a `redis-server` binary can be run. */
export function hasRedisServer(): boolean {
  const r = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return r.error === undefined && r.status === 0;
}

/**
 * Call at the top of a Redis test file: answers whether `redis-server` can run. When it cannot,
 * registers a visible skipped test saying how to install it, or, with `CI=true`, a failing one.
 */
export function requireRedis(suite: string): boolean {
  if (hasRedisServer()) return true;
  if (process.env.CI === "true") {
    test(`${suite}: redis-server is installed (required in CI)`, () => {
      throw new Error(REDIS_INSTALL_HINT);
    });
  } else {
    console.warn(`\n*** ${suite} skipped: ${REDIS_INSTALL_HINT} ***\n`);
    test.skip(`${suite}: ${REDIS_INSTALL_HINT}`, () => {});
  }
  return false;
}

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Append-only file on (in a temp directory of its own). Default false. */
  appendonly?: boolean;
  /** `appendfsync` policy when `appendonly` is on. Default `everysec`. */
  appendfsync?: "always" | "everysec" | "no";
  /** More `redis-server` arguments. */
  extraArgs?: readonly string[];
  /** Port to listen on (default: a free one). */
  port?: number;
}

/** A running test server. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** PID of the current process. */
  readonly pid: number;
  /** Stops it: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (data survives when persisted). */
  restart(): Promise<void>;
}

/** Servers started by this process: killed if it exits without stopping them (a crashed test run). */
const running = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once("exit", () => {
    for (const c of running) c.kill("SIGKILL");
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** True once `PING` on the port answers `+PONG`. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once("error", () => done(false));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      // A server that asks for a password is up too.
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG") || buf.startsWith("-NOAUTH"));
    });
    sock.once("connect", () => sock.write("PING\r\n"));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Starts a private `redis-server` and waits until it answers PING (at most ~10 s). */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "rxon-redis-"));
  const port = options.port ?? (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, "--protected-mode", "yes"];
  if (options.appendonly === true) args.push("--appendonly", "yes", "--appendfsync", options.appendfsync ?? "everysec");
  else args.push("--appendonly", "no");
  args.push(...(options.extraArgs ?? []));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const c = spawn("redis-server", args, { stdio: ["ignore", "ignore", "ignore"] });
    child = c;
    track(c);
    let failed: Error | undefined;
    c.once("error", (e) => (failed = e));
    for (let i = 0; i < 200; i++) {
      if (failed !== undefined) throw failed;
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}`);
      if (await pingOnce(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    c.kill("SIGKILL");
    throw new Error(`redis-server on port ${port} did not answer PING`);
  };
  const stopChild = async (graceMs: number): Promise<void> => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), graceMs);
    await exited(c);
    clearTimeout(timer);
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    async stop(graceMs = 3000) {
      await stopChild(graceMs);
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      const c = child;
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
      c.kill("SIGKILL");
      await exited(c);
    },
    async restart() {
      await stopChild(3000);
      await launch();
    },
  };
}

/** A running test cluster of masters without replicas. */
export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** Stops every node. */
  stop(): Promise<void>;
}

/** Starts `size` (at least 3) cluster-enabled servers and joins them into one cluster with `redis-cli`. */
export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    for (const n of nodes) await n.stop();
  };
  try {
    for (let i = 0; i < size; i++) {
      nodes.push(await startRedis({ extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"] }));
    }
    const create = spawnSync("redis-cli", ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`);
    for (let i = 0; i < 200; i++) {
      const states = nodes.map((n) => spawnSync("redis-cli", ["-p", String(n.port), "cluster", "info"], { encoding: "utf8", timeout: 5000 }).stdout ?? "");
      if (states.every((s) => s.includes("cluster_state:ok"))) return { nodes, stop };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the test cluster did not reach cluster_state:ok");
  } catch (err) {
    await stop();
    throw err;
  }
}

/** True when `redis-cli` (needed to form a cluster) can be run. */
export function hasRedisCli(): boolean {
  const r = spawnSync("redis-cli", ["--version"], { stdio: "ignore" });
  return r.error === undefined && r.status === 0;
}

/**
 * For a describe block: a private redis-server started before its tests and stopped after them
 * (`suite.redis`), and cleanups pushed by a test (`suite.cleanup`), run in reverse after each test.
 */
export function redisSuite(): { readonly redis: RedisServer; readonly cleanup: (() => Promise<void>)[] } {
  let redis: RedisServer | undefined;
  const cleanup: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });
  return {
    get redis(): RedisServer {
      if (redis === undefined) throw new Error("redis-server not started yet (use it inside a test)");
      return redis;
    },
    cleanup,
  };
}
