/**
 * `rxon worker` as a real process: stopped while a handler ignores its signal and keeps a timer
 * going, it reports the task, names the handler and exits; it stayed alive after "stopped".
 */
import { afterAll, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { start, stop, type Proc } from "../e2e/procs.js";

const procs: Proc[] = [];
const hubs: Hub[] = [];
afterAll(async () => {
  for (const p of procs) await stop(p);
  for (const h of hubs) await h.close();
});

it("SIGTERM with a handler that ignores its signal: the task fails as transient, the handler is named, and the process exits 0", async () => {
  const hub = new Hub({ auth: { tokens: { w1: "worker-secret-exit" } } });
  hubs.push(hub);
  const server = await hub.listen({ port: 0 });
  const worker = start(["src/cli/main.ts", "worker", "--url", server.url, "--id", "w1", "--skills", "test/worker/fixtures/deaf-skills.ts", "--grace", "200"], { RXON_TOKEN: "worker-secret-exit" });
  procs.push(worker);
  const handle = await hub.submit({ type: "deaf", params: {}, maxRetries: 0 });
  await waitUntil(async () => (await hub.store.getWorker("w1"))?.status === "full", { timeoutMs: 20_000, what: "the task running" });
  worker.child.kill("SIGTERM");
  expect(await handle.result()).toMatchObject({ status: "failure", error: { code: "TRANSIENT_ERROR" } });
  const exited = await Promise.race([worker.exited, new Promise((resolve) => setTimeout(() => resolve("still running 10 s after SIGTERM"), 10_000))]);
  expect(exited, worker.stderr.join("\n")).toBe(0);
  const named = worker.stderr.find((l) => l.includes("stopped with handlers still running"));
  expect(JSON.parse(named!)).toMatchObject({ level: "warn", abandoned: 1, tasks: [{ skill: "deaf" }] });
}, 30_000);
