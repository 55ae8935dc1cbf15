/**
 * A worker whose connections to the hub die without a FIN or RST (a NAT or firewall that lost its
 * mappings; new connections still pass) must be heard again within about one heartbeat interval:
 * a heartbeat waiting on a dead connection for the transport's request timeout (60 s) let the hub
 * call the worker gone after three intervals and re-queue the task it was running.
 */
import { afterEach, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { Worker } from "../../src/worker/index.js";
import { faultProxy } from "../helpers/fault-proxy.js";
import { heldSkill } from "../helpers/skills.js";
import { until } from "../hub/helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it("when every open connection dies at once, the worker is heard again on new ones before the hub calls it gone; its task is not re-queued", async () => {
  // The hub calls a worker gone after 3 × 1.5 s of silence; the worker heartbeats every second.
  const hub = new Hub({ auth: { tokens: { "w-1": "secret-w-1" } }, heartbeatIntervalMs: 1500 });
  cleanups.push(() => hub.close());
  const server = await hub.listen({ port: 0 });
  const proxy = await faultProxy(server.port);
  cleanups.push(() => proxy.close());
  const gone: string[] = [];
  const requeued: string[] = [];
  hub.on("worker:expired", (e) => gone.push(e.workerId));
  hub.on("task:requeued", (e) => requeued.push(e.reason));
  const { held, runs, release } = heldSkill();
  const worker = new Worker({ url: proxy.url, workerId: "w-1", token: "secret-w-1", secret: "secret-w-1", skills: [held], heartbeatIntervalMs: 1000 });
  cleanups.push(() => worker.stop({ graceMs: 500 }));
  await worker.start();
  const handle = await hub.submit({ type: "held", params: {} });
  await until(() => runs.length === 1);

  const before = proxy.connections;
  proxy.blackholeExisting();
  // Six intervals of the worker with every connection it had dead.
  await new Promise((r) => setTimeout(r, 6000));
  expect(proxy.connections).toBeGreaterThan(before);
  expect(gone).toEqual([]);
  expect(requeued).toEqual([]);
  release();
  expect(await handle.result()).toMatchObject({ status: "success", attempts: 1 });
  expect(runs).toEqual(["w-1"]);
}, 30_000);
