/** The worker runtime's metrics after a known workload against a fake orchestrator, served on a port of their own. */
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../generated/constants.js";
import { RxonError } from "../../src/errors.js";
import { waitUntil } from "../../src/testing/index.js";
import { Registry } from "prom-client";
import { ValidationError } from "../../src/errors.js";
import { attachWorkerMetrics, serveMetrics } from "../../src/metrics/index.js";
import { Worker } from "../../src/worker/index.js";
import { FakeOrchestrator } from "./fake-orchestrator.js";
import { parseExposition, value } from "./metrics-text.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const echo = { info: { name: "echo", version: "1.0.0" }, handler: (p: never) => ({ echoed: p }) };
const broken = {
  info: { name: "broken", version: "1.0.0" },
  handler: () => {
    throw new RxonError("bad input", { code: ErrorCode.INVALID_INPUT_ERROR });
  },
};

describe("worker metrics", () => {
  it("counts tasks by outcome, deliveries, busy slots, registrations and reconnects", async () => {
    const hub = await new FakeOrchestrator().start();
    cleanups.push(() => hub.stop());
    const worker = new Worker({ url: hub.url, workerId: "metered-1", token: "t", transportOptions: { sign: false }, commands: false, skills: [echo, broken] as never, concurrency: 2, heartbeatIntervalMs: 60_000 });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    const metrics = attachWorkerMetrics(worker, { concurrency: 2 });
    const server = await serveMetrics({ port: 0, registry: metrics });
    cleanups.push(() => server.close());

    hub.push({ job_id: "j1", task_id: "t1", type: "echo", params: { a: 1 } });
    hub.push({ job_id: "j2", task_id: "t2", type: "echo", params: {} });
    hub.push({ job_id: "j3", task_id: "t3", type: "broken", params: {} });
    hub.push({ job_id: "j4", task_id: "t4", type: "not_offered", params: {} });
    await worker.start();
    await waitUntil(() => hub.results.length === 4, { timeoutMs: 10_000 });
    // The orchestrator forgets the worker (a restart): the next poll is refused and the worker registers again.
    hub.forgetPolls = 1;
    await waitUntil(() => hub.registrations.length === 2, { timeoutMs: 10_000 });

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const samples = parseExposition(await res.text());
    expect(value(samples, "rxon_worker_tasks_total", { skill: "echo", status: "success" })).toBe(2);
    expect(value(samples, "rxon_worker_tasks_total", { skill: "broken", status: "failure" })).toBe(1);
    expect(value(samples, "rxon_worker_tasks_total", { skill: "not_offered", status: "failure" })).toBe(1);
    expect(value(samples, "rxon_worker_results_total", { outcome: "delivered" })).toBe(4);
    expect(value(samples, "rxon_worker_results_total", { outcome: "lost" })).toBe(0);
    expect(value(samples, "rxon_worker_task_duration_seconds_count", { skill: "echo" })).toBe(2);
    expect(value(samples, "rxon_worker_slots_busy")).toBe(0);
    expect(value(samples, "rxon_worker_slots")).toBe(2);
    expect(value(samples, "rxon_worker_registrations_total")).toBe(2);
    expect(value(samples, "rxon_worker_reconnects_total")).toBe(1);
    expect(value(samples, "rxon_worker_errors_total", { where: "poll" })).toBe(1);
    expect(value(samples, "rxon_worker_state", { state: "running" })).toBe(1);
    expect(value(samples, "rxon_worker_state", { state: "stopped" })).toBe(0);
  });

  it("shows busy slots while handlers run", async () => {
    const hub = await new FakeOrchestrator().start();
    cleanups.push(() => hub.stop());
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = { info: { name: "slow", version: "1.0.0" }, handler: async () => void (await gate) };
    const worker = new Worker({ url: hub.url, workerId: "metered-2", token: "t", transportOptions: { sign: false }, commands: false, skills: [slow] as never, concurrency: 3, heartbeatIntervalMs: 60_000 });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    cleanups.push(() => release());
    const metrics = attachWorkerMetrics(worker, { workerIdLabel: true });
    hub.push({ job_id: "j1", task_id: "t1", type: "slow", params: {} });
    hub.push({ job_id: "j2", task_id: "t2", type: "slow", params: {} });
    await worker.start();
    await waitUntil(() => worker.stats.inFlight === 2, { timeoutMs: 10_000 });
    const samples = parseExposition(await metrics.metrics());
    expect(value(samples, "rxon_worker_slots_busy", { worker_id: "metered-2" })).toBe(2);
    release();
    await waitUntil(() => hub.results.length === 2, { timeoutMs: 10_000 });
    expect(value(parseExposition(await metrics.metrics()), "rxon_worker_slots_busy", { worker_id: "metered-2" })).toBe(0);
  });

  it("puts several workers into one registry, apart by worker_id", async () => {
    const hub = await new FakeOrchestrator().start();
    cleanups.push(() => hub.stop());
    const registry = new Registry();
    const workers = ["pool-a", "pool-b"].map((id) => {
      const w = new Worker({ url: hub.url, workerId: id, token: "t", transportOptions: { sign: false }, commands: false, skills: [echo] as never, heartbeatIntervalMs: 60_000 });
      cleanups.push(() => w.stop({ graceMs: 0 }));
      return w;
    });
    const [a, b] = workers.map((w, i) => attachWorkerMetrics(w, { registry, workerIdLabel: true, concurrency: i + 1 }));
    expect(() => attachWorkerMetrics(workers[0]!, { registry })).toThrow(ValidationError);
    expect(() => attachWorkerMetrics(workers[0]!)).not.toThrow();
    hub.push({ job_id: "j1", task_id: "t1", type: "echo", params: {} });
    await workers[0]!.start();
    await waitUntil(() => hub.results.length === 1, { timeoutMs: 10_000 });
    await workers[1]!.start();
    const samples = parseExposition(await registry.metrics());
    expect(value(samples, "rxon_worker_tasks_total", { worker_id: "pool-a", skill: "echo", status: "success" })).toBe(1);
    expect(value(samples, "rxon_worker_tasks_total", { worker_id: "pool-b", skill: "echo", status: "success" })).toBeUndefined();
    expect(value(samples, "rxon_worker_slots", { worker_id: "pool-a" })).toBe(1);
    expect(value(samples, "rxon_worker_slots", { worker_id: "pool-b" })).toBe(2);
    expect(value(samples, "rxon_worker_registrations_total", { worker_id: "pool-b" })).toBe(1);
    b!.detach();
    const after = parseExposition(await a!.metrics());
    expect(value(after, "rxon_worker_slots", { worker_id: "pool-b" })).toBeUndefined();
    expect(value(after, "rxon_worker_slots", { worker_id: "pool-a" })).toBe(1);
  });
});
