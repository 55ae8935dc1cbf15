/** The CLI's operations wiring: metrics on the hub's port by default, only on --metrics-port when given. */
import { afterEach, describe, expect, it } from "vitest";
import { hubOps, workerOps } from "../../src/cli/ops.js";
import { Hub } from "../../src/hub/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { Worker } from "../../src/worker/index.js";
import { parseExposition, value } from "./metrics-text.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe("CLI operations wiring", () => {
  it("serves /metrics and /readyz on the hub's port without --metrics-port", async () => {
    const hub = new Hub();
    const ops = await hubOps(hub);
    cleanup.push(() => ops.close());
    cleanup.push(() => hub.close());
    const { url } = await hub.listen({ ...ops.listen, port: 0 });
    expect(ops.metricsServer).toBeUndefined();
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it("with --metrics-port, serves metrics there only", async () => {
    const hub = new Hub();
    const ops = await hubOps(hub, { metricsPort: 0 });
    cleanup.push(() => ops.close());
    cleanup.push(() => hub.close());
    const { url } = await hub.listen({ ...ops.listen, port: 0 });
    await hub.submit({ type: "echo" });
    await waitUntil(async () => (await hub.stats()).queued === 1);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    const res = await fetch(`${ops.metricsServer!.url}/metrics`);
    expect(res.status).toBe(200);
    expect(value(parseExposition(await res.text()), "rxon_hub_tasks_submitted_total", { skill: "echo" })).toBe(1);
  });

  it("gives a worker a metrics port only when asked", async () => {
    const worker = new Worker({ url: "http://127.0.0.1:9", workerId: "w-ops", skills: [] });
    expect((await workerOps(worker)).metricsServer).toBeUndefined();
    const ops = await workerOps(worker, { metricsPort: 0, concurrency: 4 });
    cleanup.push(() => ops.close());
    const res = await fetch(`${ops.metricsServer!.url}/metrics`);
    expect(value(parseExposition(await res.text()), "rxon_worker_slots")).toBe(4);
  });
});
