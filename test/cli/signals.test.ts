/**
 * `rxon worker` as a real process: SIGTERM starts a graceful drain; a second SIGTERM during it
 * ends the process at once, saying so and how many tasks it abandons, with exit code 143.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { start, stop, until, type Proc } from "../e2e/procs.js";

describe("rxon worker and a second signal", () => {
  const procs: Proc[] = [];
  const hubs: Hub[] = [];
  afterAll(async () => {
    for (const p of procs) await stop(p);
    for (const h of hubs) await h.close();
  });

  it("drains on the first SIGTERM, exits at once (143) on the second, naming the tasks it abandons", async () => {
    const hub = new Hub({ auth: { tokens: { w1: "worker-secret-signals" } } });
    hubs.push(hub);
    const server = await hub.listen({ port: 0 });
    let busy = false;
    const timer = setInterval(() => void Promise.resolve(hub.store.getWorker("w1")).then((w) => (busy ||= w?.status === "full")), 50);
    const worker = start(["src/cli/main.ts", "worker", "--url", server.url, "--id", "w1", "--skills", "examples/skills.ts", "--grace", "60000"], { RXON_TOKEN: "worker-secret-signals" });
    procs.push(worker);
    await hub.submit({ type: "sleep", params: { ms: 60_000 } });
    // Running on the worker: its heartbeat on the change of load says so.
    await until(() => busy, () => worker.stderr.join("\n"));
    worker.child.kill("SIGTERM");
    await until(() => worker.stderr.some((l) => l.includes("worker: draining")), () => worker.stderr.join("\n"));
    worker.child.kill("SIGTERM");
    expect(await worker.exited, worker.stderr.join("\n")).toBe(143);
    clearInterval(timer);
    const line = worker.stderr.find((l) => l.includes("second signal"));
    expect(line, worker.stderr.join("\n")).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: "warn", signal: "SIGTERM", in_flight: 1, worker_id: "w1" });
  }, 60_000);
});
