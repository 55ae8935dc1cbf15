/**
 * A worker that behaves like the Python SDK (re-registers only when a heartbeat fails with "not
 * found"/"unauthorized") survives a hub restart: the new hub answers its heartbeat 404 "Worker not
 * found", it registers again, and runs a task submitted after the restart. And the listener's
 * defaults keep rxon's own workers from re-registering or reconnecting when the application's
 * handler answers nothing.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Hub, type HubServer } from "../../src/hub/index.js";
import { RxonListener, type RxonHandler } from "../../src/listener/index.js";
import { Worker } from "../../src/worker/index.js";
import { until } from "../hub/helpers.js";
import { FakePythonWorker } from "./fake-python-worker.js";

const TOKENS = { "py-1": "py-secret-1" };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function hubOn(port: number): Promise<{ hub: Hub; server: HubServer }> {
  const hub = new Hub({ auth: { tokens: TOKENS }, heartbeatIntervalMs: 200 });
  const server = await hub.listen({ port });
  return { hub, server };
}

describe("Python-SDK-shaped worker across a hub restart", () => {
  it("is told 'Worker not found' by the restarted hub, registers again and runs new work", async () => {
    const first = await hubOn(0);
    const port = first.server.port;
    const worker = new FakePythonWorker({ url: first.server.url, workerId: "py-1", token: TOKENS["py-1"], skills: [{ name: "echo", version: "1.0.0" }], heartbeatMs: 100, pollRetryMs: 100, cooldownMs: 100, pollTimeoutSeconds: 1, run: (t) => ({ echoed: t.params }) });
    cleanup.push(() => worker.stop());
    await worker.start();
    expect(worker.registrations).toHaveLength(1);

    // The hub dies with its memory; a new one takes the same address.
    await first.hub.close();
    const second = await hubOn(port);
    cleanup.push(() => second.hub.close());

    await until(() => worker.registrations.length >= 2, 10_000);
    expect(worker.heartbeatAnswers.some((a) => a.status === 404 && JSON.stringify(a.body).includes("Worker not found"))).toBe(true);
    const h = await second.hub.submit({ type: "echo", params: { after: "restart" } });
    const outcome = await h.result();
    expect(outcome).toMatchObject({ status: "success", workerId: "py-1", data: { echoed: { after: "restart" } } });
  });
});

describe("listener defaults with an application handler that answers nothing", () => {
  it("keeps an rxon worker registered once and its WebSocket open", async () => {
    let registrations = 0;
    let upgrades = 0;
    const listener = new RxonListener({
      handler: (async (action: string) => {
        if (action === "register") registrations++;
        if (action === "websocket") upgrades++;
        return undefined;
      }) as unknown as RxonHandler,
    });
    const server = createServer();
    listener.attach(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(async () => {
      await listener.close();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const worker = new Worker({ url, workerId: "w-1", token: "t", skills: [], heartbeatIntervalMs: 100, pollTimeoutSeconds: 1 });
    cleanup.push(() => worker.stop({ graceMs: 100 }));
    await worker.start();
    // Ten heartbeat intervals.
    await new Promise((r) => setTimeout(r, 1000));
    expect(registrations).toBe(1);
    expect(upgrades).toBe(1);
  });
});
