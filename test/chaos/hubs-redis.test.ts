/**
 * Chaos: three hub processes on one Redis, sixteen rxon workers, 20,000 tasks submitted through
 * the client API (with idempotency keys, retried on another hub when a hub is down), and one hub
 * killed with SIGKILL at random every 2 s for 60 s, each restarted at once on its port.
 * Every acknowledged task ends `finished` (0 lost) and no job is completed twice (0 results
 * accepted twice). Sizes can be lowered locally with RXON_CHAOS_TASKS / RXON_CHAOS_SECONDS.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";
import { Worker } from "../../src/worker/index.js";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { api } from "../hub/client-http.js";

const available = requireRedis("chaos with hubs on Redis");
const ROOT = resolve(import.meta.dirname, "../..");
const TASKS = Number(process.env.RXON_CHAOS_TASKS ?? 20_000);
const SECONDS = Number(process.env.RXON_CHAOS_SECONDS ?? 60);
const HUBS = 3;
const WORKERS = 16;
const CLIENT = "client-token-chaos";
const TOKENS = Object.fromEntries(Array.from({ length: WORKERS }, (_, i) => [`cw-${i}`, `chaos-secret-${i}`]));

const echo = defineSkill({
  name: "echo",
  version: "1.0.0",
  input: Type.Object({ i: Type.Number() }),
  output: Type.Object({ i: Type.Number() }),
  handler: (p) => ({ i: p.i }),
});

interface HubProc {
  child: ChildProcess;
  port: number;
  alive: boolean;
}

describe.skipIf(!available)("chaos: hubs killed under load on one Redis", () => {
  let redis: RedisServer;
  const procs: HubProc[] = [];
  const workers: Worker[] = [];
  const completions = new Map<string, number>();
  const prefix = `chaos-${randomUUID()}`;

  const start = (port: number): Promise<HubProc> => {
    const env = { ...process.env, REDIS_URL: redis.url, PREFIX: prefix, TOKENS: JSON.stringify(TOKENS), CLIENT_TOKEN: CLIENT, PORT: String(port), HEARTBEAT_MS: "500", LEASE_GRACE_MS: "1500" };
    const child = spawn(process.execPath, ["--import", "tsx", "test/hub/fixtures/redis-hub.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"] });
    return new Promise((resolvePort, reject) => {
      const proc: HubProc = { child, port, alive: false };
      child.once("exit", (code, signal) => {
        proc.alive = false;
        if (proc.port === 0) reject(new Error(`hub exited ${code ?? signal}`));
      });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const e = JSON.parse(line) as { ev: string; url?: string; jobId?: string };
        if (e.ev === "listening") {
          proc.port = Number(new URL(e.url!).port);
          proc.alive = true;
          resolvePort(proc);
        } else if (e.ev === "completed") {
          completions.set(e.jobId!, (completions.get(e.jobId!) ?? 0) + 1);
        }
      });
    });
  };

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < HUBS; i++) procs.push(await start(0));
    for (let i = 0; i < WORKERS; i++) {
      const id = `cw-${i}`;
      const w = new Worker({ url: `http://127.0.0.1:${procs[i % HUBS]!.port}`, workerId: id, token: TOKENS[id]!, secret: TOKENS[id]!, skills: [echo], heartbeatIntervalMs: 500, pollTimeoutSeconds: 2, concurrency: 4 });
      workers.push(w);
      await w.start();
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop({ graceMs: 200 }).catch(() => undefined)));
    for (const p of procs) p.child.kill("SIGKILL");
    await redis?.stop();
  }, 60_000);

  test(
    `${TASKS} tasks through the client API, a hub killed every 2 s for ${SECONDS} s: none lost, none accepted twice`,
    async () => {
      const live = (): HubProc[] => procs.filter((p) => p.alive);
      const pick = (n: number): HubProc => {
        const l = live();
        return l[n % Math.max(1, l.length)] ?? procs[0]!;
      };
      let kills = 0;
      const chaosEnds = Date.now() + SECONDS * 1000;
      const killer = (async () => {
        while (Date.now() < chaosEnds) {
          await new Promise((r) => setTimeout(r, 2000));
          const victim = procs[Math.floor(Math.random() * HUBS)]!;
          if (!victim.alive) continue;
          victim.child.kill("SIGKILL");
          await new Promise((r) => victim.child.once("exit", r));
          kills++;
          const again = await start(victim.port);
          procs[procs.indexOf(victim)] = again;
        }
      })();

      // Submit with idempotency keys; a refused or failed request goes to another hub.
      const jobIds = new Array<string>(TASKS);
      let next = 0;
      const submitter = async (lane: number): Promise<void> => {
        for (;;) {
          const i = next++;
          if (i >= TASKS) return;
          for (let attempt = 0; ; attempt++) {
            try {
              const a = await api(`http://127.0.0.1:${pick(lane + attempt).port}`, "POST", "/_client/tasks", { body: { type: "echo", params: { i }, maxRetries: 50 }, headers: { "Idempotency-Key": `chaos-${i}` } }, CLIENT);
              if (a.status === 202) {
                jobIds[i] = a.body!.job_id as string;
                break;
              }
            } catch {
              // the hub died mid-request: try another
            }
            if (attempt > 200) throw new Error(`task ${i} could not be submitted`);
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      await Promise.all(Array.from({ length: 32 }, (_, lane) => submitter(lane)));
      await killer;

      // Every acknowledged job ends, on whichever hub answers.
      const states = new Map<string, unknown>();
      let cursor = 0;
      const reader = async (lane: number): Promise<void> => {
        for (;;) {
          const i = cursor++;
          if (i >= TASKS) return;
          for (let attempt = 0; ; attempt++) {
            try {
              const a = await api(`http://127.0.0.1:${pick(lane + attempt).port}`, "GET", `/_client/tasks/${jobIds[i]!}?wait=30`, {}, CLIENT);
              if (a.status === 200 && ["finished", "failed", "cancelled"].includes(a.body!.status as string)) {
                states.set(jobIds[i]!, a.body);
                break;
              }
            } catch {
              // retry
            }
            if (attempt > 100) break;
          }
        }
      };
      await Promise.all(Array.from({ length: 32 }, (_, lane) => reader(lane)));

      const unfinished = jobIds.filter((id) => (states.get(id) as { status?: string } | undefined)?.status !== "finished");
      const twice = [...completions].filter(([, n]) => n > 1);
      const wrong = jobIds.filter((id, i) => (states.get(id) as { outcome?: { data?: { i?: number } } } | undefined)?.outcome?.data?.i !== i);
      console.log(`chaos: ${TASKS} tasks, ${kills} hub kills in ${SECONDS} s, ${unfinished.length} not finished, ${twice.length} completed twice, ${wrong.length} wrong data`);
      expect(kills).toBeGreaterThan(0);
      expect(new Set(jobIds).size).toBe(TASKS);
      expect(unfinished).toEqual([]);
      expect(wrong).toEqual([]);
      expect(twice).toEqual([]);
    },
    (SECONDS + 240) * 1000,
  );
});
