/** The hub behind a real listener on 127.0.0.1:0, with rxon Worker runtimes connecting over HTTP. */
import { afterEach, describe, expect, it } from "vitest";
import { Hub, type HubServer } from "../../src/hub/index.js";
import { Worker } from "../../src/worker/index.js";
import { SECRETS, until } from "./helpers.js";
import { double } from "../helpers/skills.js";

/** Breaks its own contract: the hub must turn its output into CONTRACT_VIOLATION_ERROR. */
const liar = { info: { ...double.info, name: "liar" }, handler: () => ({ n: "not a number" }) };

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ hub: Hub; server: HubServer }> {
  const hub = new Hub({ auth: { tokens: SECRETS }, heartbeatIntervalMs: 500 });
  const server = await hub.listen({ port: 0 });
  cleanup.push(() => hub.close());
  return { hub, server };
}

function worker(url: string, id: string, skills: unknown[], resources?: object): Worker {
  const w = new Worker({ url, workerId: id, token: SECRETS[id]!, secret: SECRETS[id]!, skills: skills as never, heartbeatIntervalMs: 500, concurrency: 2, ...(resources ? { resources } : {}) });
  cleanup.push(() => w.stop({ graceMs: 500 }));
  return w;
}

describe("hub over HTTP with rxon workers", () => {
  it("dispatches by resources and returns results", async () => {
    const { hub, server } = await setup();
    const gpu = worker(server.url, "gpu-1", [double], { devices: [{ type: "gpu", properties: { vram_gb: 24 } }] });
    const cpu = worker(server.url, "cpu-1", [double], { properties: { cpu_cores: 4 } });
    await Promise.all([gpu.start(), cpu.start()]);
    const onGpu = await Promise.all(Array.from({ length: 5 }, (_, i) => hub.submit({ type: "double", params: { n: i }, requirements: { resources: { devices: [{ type: "gpu" }] } } })));
    const any = await Promise.all(Array.from({ length: 5 }, (_, i) => hub.submit({ type: "double", params: { n: i } })));
    for (const [i, h] of onGpu.entries()) expect(await h.result()).toMatchObject({ status: "success", workerId: "gpu-1", data: { n: i * 2 } });
    for (const h of any) expect((await h.result()).status).toBe("success");
    const stats = await hub.stats();
    expect(stats).toMatchObject({ workers: 2, succeeded: 10, refused: 0 });
  });

  it("checks results against the skill's output schema", async () => {
    const { hub, server } = await setup();
    const w = worker(server.url, "cpu-2", [liar]);
    await w.start();
    const outcome = await (await hub.submit({ type: "liar", params: { n: 1 } })).result();
    expect(outcome.status).toBe("failure");
    expect(["CONTRACT_VIOLATION_ERROR"]).toContain(outcome.error?.code);
  });

  it("closes cleanly while polls are held", async () => {
    const { hub, server } = await setup();
    const w = worker(server.url, "cpu-1", [double]);
    await w.start();
    await until(async () => (await hub.stats()).waitingPolls > 0);
    await w.stop({ graceMs: 100 });
    await hub.close();
    expect((await hub.stats()).waitingPolls).toBe(0);
  });
});
