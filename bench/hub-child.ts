/**
 * The other side of bench/hub.bench.ts, run as a child process (`node --import tsx`) so the hub
 * process has its own core, as the Python reference pair ran orchestrator and workers apart.
 * Talks to the parent over IPC:
 *
 * - `workers`: N rxon HTTP transports (undici, HMAC signing) register, then loop poll → result
 *   until told to stop. Sends `{ready}` after registering, `{stopped}` at the end.
 * - `floor`: on `{floor: {url, total, lanes}}`, bare undici POSTs against a trivial server with the
 *   same connection count as the workers; answers `{floorSeconds}`.
 * - `memory`: registers `count` workers in a hub in this process and answers the heap growth per
 *   worker (run with --expose-gc for exact numbers).
 */
import { setMaxListeners } from "node:events";
import { pathToFileURL } from "node:url";
import { Agent, request } from "undici";
import { Hub } from "../src/hub/index.js";
import { createTransport } from "../src/transport/index.js";
import { decode } from "../src/wire/codec.js";
import type { ListenerContext } from "../src/listener/types.js";
import type { IncomingMessage } from "node:http";

/** Skill every bench worker offers. */
export const SKILL = { name: "echo", version: "1.0.0", output_schema: { type: "object", properties: { n: { type: "number" } } } };

type ParentMessage = { stop: true } | { cpu: true } | { floor: { url: string; total: number; lanes: number } };

/** CPU time (user + system) of this process so far, in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function send(message: unknown): void {
  process.send?.(message);
}

async function workers(url: string, count: number): Promise<void> {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const transports = Array.from({ length: count }, (_, i) => createTransport(url, `w${i}`, `secret-${i}`, { secret: `secret-${i}` }));
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
  process.on("message", (m: ParentMessage) => {
    if ("stop" in m) stop.abort();
    if ("cpu" in m) send({ cpu: cpuMs() });
  });
  send({ ready: true });
  await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve(), { once: true }));
  await Promise.allSettled(loops);
  await Promise.all(transports.map((t) => t.close()));
  send({ stopped: true });
}

async function floor(): Promise<void> {
  process.on("message", (m: ParentMessage) => {
    if ("stop" in m) process.exit(0);
    if (!("floor" in m)) return;
    const { url, total, lanes } = m.floor;
    const agent = new Agent({ connections: lanes });
    let done = 0;
    void (async () => {
      // Warm the connections up first.
      await Promise.all(Array.from({ length: lanes }, async () => (await request(url, { dispatcher: agent, method: "POST", body: "{}" })).body.text()));
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (done < total) {
            done++;
            const { body } = await request(url, { dispatcher: agent, method: "POST", body: "{}" });
            await body.text();
          }
        }),
      );
      const floorSeconds = (performance.now() - t0) / 1000;
      await agent.close();
      send({ floorSeconds });
    })();
  });
  send({ ready: true });
}

async function memory(count: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const tokens = Object.fromEntries(Array.from({ length: count }, (_, i) => [`m${i}`, `secret-${i}`]));
  // Signatures are not what is measured here: registration state is.
  const hub = new Hub({ auth: { tokens, verifySignatures: false } });
  const h = hub.handler as (a: string, p: unknown, c: ListenerContext) => Promise<unknown>;
  const signal = new AbortController().signal;
  const registration = (id: string): Record<string, unknown> => ({
    worker_id: id,
    supported_skills: [{ ...SKILL, output_schema: structuredClone(SKILL.output_schema) }],
    resources: { devices: [{ type: "gpu", properties: { vram_gb: 24 } }], properties: { cpu_cores: 8 } },
  });
  gc?.();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  // Each registration is built here, as the listener would parse it off the wire: what the hub
  // keeps of it is counted, what it drops is collected.
  for (const [id, token] of Object.entries(tokens)) {
    const reg = registration(id);
    const ctx: ListenerContext = { token, workerIdHint: id, protocolVersion: "1.0b14", certIdentity: null, transport: "http", rawRequest: {} as IncomingMessage, rawBody: reg as ListenerContext["rawBody"], signal };
    await h("register", decode("WorkerRegistration", reg), ctx);
  }
  gc?.();
  gc?.();
  const perWorker = (process.memoryUsage().heapUsed - before) / count;
  await hub.close();
  send({ perWorker, exact: gc !== undefined });
}

// Only as the entry point of a child process (the bench imports SKILL from here).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, arg1, arg2] = process.argv.slice(2);
  if (mode === "workers") await workers(arg1!, Number(arg2));
  else if (mode === "floor") await floor();
  else if (mode === "memory") await memory(Number(arg1));
  else throw new Error(`unknown mode ${mode}`);
}
