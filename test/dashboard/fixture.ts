/**
 * A hub with the dashboard mounted on a real server (127.0.0.1:0), real rxon Workers, and tasks
 * in every state: finished, failed, running (until cancelled) and queued with requirements no
 * worker meets (missing skill, version, resources).
 */
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";
import { ValidationError } from "../../src/errors.js";
import { Hub, type TaskHandle } from "../../src/hub/index.js";
import { Dashboard } from "../../src/hub/dashboard/index.js";
import { serve, type HubServer } from "../../src/hub/server.js";
import { silentLogger } from "../../src/logger.js";
import { Worker } from "../../src/worker/index.js";
import { SECRETS, until } from "../hub/helpers.js";
import { hangSkill } from "../helpers/skills.js";

export const ADMIN = "admin-token-0123456789abcdef";
export const CLIENT = "client-token-0123456789";
/** A device model that would run script if the page ever parsed worker data as HTML. */
export const XSS_MODEL = `<img src=x onerror="window.__pwned=1">`;

const double = defineSkill({
  name: "double",
  version: "1.0.0",
  input: Type.Object({ n: Type.Number() }),
  output: Type.Object({ n: Type.Number() }),
  handler: async (p, ctx) => {
    await ctx.progress(0.5, "halfway");
    if (p.n < 0) throw new ValidationError("n must not be negative");
    return { n: p.n * 2 };
  },
});

const hang = hangSkill();

/** Everything a dashboard test looks at. */
export interface Fixture {
  hub: Hub;
  dashboard: Dashboard;
  server: HubServer;
  url: string;
  workers: Worker[];
  done: TaskHandle[];
  failed: TaskHandle;
  running: TaskHandle;
  blocked: { missingSkill: TaskHandle[]; version: TaskHandle[]; resources: TaskHandle[] };
  close(): Promise<void>;
}

/** Starts the hub, the dashboard, two workers, and the tasks. */
export async function startFixture(): Promise<Fixture> {
  const hub = new Hub({ auth: { tokens: SECRETS }, heartbeatIntervalMs: 500, clientTokens: [CLIENT] });
  const dashboard = Dashboard.forHub(hub, { adminTokens: [ADMIN], depthSampleMs: 250, streamIntervalMs: 300 });
  const server = await serve(hub.handler, { port: 0 }, silentLogger, [hub.clientApi, dashboard]);
  const workers: Worker[] = [];
  const gpu = new Worker({
    url: server.url,
    workerId: "gpu-1",
    token: SECRETS["gpu-1"]!,
    secret: SECRETS["gpu-1"]!,
    skills: [double, hang] as never,
    heartbeatIntervalMs: 300,
    concurrency: 4,
    resources: { devices: [{ type: "gpu", model: "RTX 4090", id: "gpu0", properties: { vram_gb: 24 } }], properties: { cpu_cores: 16 } },
    usage: () => ({ devices_usage: [{ unit_id: "gpu0", load_percent: 73, metrics: { memory_used_gb: 11.5, temperature_c: 64 } }] }),
  });
  const cpu = new Worker({
    url: server.url,
    workerId: "cpu-1",
    token: SECRETS["cpu-1"]!,
    secret: SECRETS["cpu-1"]!,
    skills: [double] as never,
    heartbeatIntervalMs: 300,
    // A worker describes its own hardware: markup in it must reach the page as text.
    resources: { devices: [{ type: "sensor", id: "s0", model: XSS_MODEL }] },
  });
  workers.push(gpu, cpu);
  await Promise.all(workers.map((w) => w.start()));
  await until(async () => (await hub.store.countWorkers()) === 2, 20_000);

  const done = await Promise.all([1, 2, 3, 4, 5].map((n) => hub.submit({ type: "double", params: { n } })));
  const failed = await hub.submit({ type: "double", params: { n: -1 }, maxRetries: 0 });
  await Promise.all([...done, failed].map((t) => t.result()));
  const running = await hub.submit({ type: "hang" });
  const blocked = {
    missingSkill: await Promise.all([1, 2, 3].map(() => hub.submit({ type: "render", params: {} }))),
    version: await Promise.all([1, 2].map(() => hub.submit({ type: "double", params: { n: 1 }, requirements: { skillVersion: "9.9.9" } }))),
    resources: [await hub.submit({ type: "double", params: { n: 1 }, requirements: { resources: { devices: [{ type: "gpu", properties: { vram_gb: 80 } }] } } })],
  };
  await until(() => running.status === "running", 20_000);
  await until(async () => (await hub.stats()).queued === 6, 20_000);
  // Usage reaches the hub with a heartbeat after the worker's usage provider answered.
  await until(async () => (await hub.store.getWorker("gpu-1"))?.usage !== undefined, 20_000);

  return {
    hub,
    dashboard,
    server,
    url: server.url,
    workers,
    done,
    failed,
    running,
    blocked,
    close: async () => {
      dashboard.close();
      await Promise.all(workers.map((w) => w.stop({ graceMs: 500 })));
      await server.close();
      await hub.close();
    },
  };
}
