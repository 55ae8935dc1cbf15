/**
 * A handler that ignores its abort signal cannot be stopped in-process. The worker reports the
 * task at once and frees its slot (it keeps serving), and says so: the handler still running is
 * logged once, counted in `stats.abandoned` until it ends, and named when the worker stops.
 */
import Type from "typebox";
import { expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { attachWorkerMetrics } from "../../src/metrics/index.js";
import { parseExposition, value } from "../ops/metrics-text.js";
import { realHubs } from "./real-hub.js";

const start = realHubs();

/** `deaf` runs until `finish()` whatever its signal says; `quick` returns at once. */
function skills() {
  const starts: string[] = [];
  const finishers: (() => void)[] = [];
  const deaf = defineSkill({
    name: "deaf",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: (_p, ctx) => {
      starts.push(ctx.taskId);
      return new Promise<Record<string, never>>((resolve) => finishers.push(() => resolve({})));
    },
  });
  const quick = defineSkill({ name: "quick", version: "1", input: Type.Object({}), output: Type.Object({}), handler: () => ({}) });
  return { deaf, quick, starts, finish: () => finishers.forEach((f) => f()) };
}

const warnings = (log: { entries: { level: string; message: string; fields: object }[] }) => log.entries.filter((e) => e.level === "warn");

it("a cancelled handler that runs on: the task ends cancelled, the slot serves the next task, and the handler is logged once and counted until it ends", async () => {
  const { deaf, quick, starts, finish } = skills();
  const { hub, worker, log } = await start([deaf, quick], { worker: { concurrency: 1 } });
  const metrics = attachWorkerMetrics(worker);
  const first = await hub.submit({ type: "deaf", params: {} });
  await waitUntil(() => starts.length === 1);
  await first.cancel();
  expect(await first.result()).toMatchObject({ status: "cancelled" });

  // The one slot is free again although the handler still runs.
  const next = await hub.submit({ type: "quick", params: {} });
  expect(await next.result()).toMatchObject({ status: "success" });
  await waitUntil(() => worker.stats.inFlight === 0);
  expect(worker.stats.abandoned).toBe(1);
  const gauge = async (): Promise<number | undefined> => value(parseExposition(await metrics.metrics()), "rxon_worker_abandoned_handlers");
  expect(await gauge()).toBe(1);

  const warned = await waitUntil(() => warnings(log).find((e) => e.message.startsWith("handler still running after its task was aborted")));
  expect(warned.fields).toMatchObject({ task_id: starts[0], skill: "deaf", aborted: "cancelled" });

  finish();
  await waitUntil(() => worker.stats.abandoned === 0);
  expect(await gauge()).toBe(0);
  expect(log.entries.filter((e) => e.message.startsWith("handler of an aborted task ended at last"))).toHaveLength(1);
  // Once, not once per heartbeat or per retry.
  expect(warnings(log).filter((e) => e.message.startsWith("handler still running"))).toHaveLength(1);
});

it("stop() with a handler that ignores its signal ends within its grace plus the flush, reports the task as a transient failure, and names the handler", async () => {
  const { deaf, starts } = skills();
  const { hub, worker, log } = await start([deaf]);
  const handle = await hub.submit({ type: "deaf", params: {}, maxRetries: 0 });
  await waitUntil(() => starts.length === 1);
  await worker.stop({ graceMs: 100 });
  expect(worker.state).toBe("stopped");
  expect(await handle.result()).toMatchObject({ status: "failure", error: { code: "TRANSIENT_ERROR" } });
  const warned = warnings(log).filter((e) => e.message.startsWith("stopped with handlers still running"));
  expect(warned).toHaveLength(1);
  expect(warned[0]!.fields).toMatchObject({ abandoned: 1, tasks: [{ task_id: starts[0], skill: "deaf" }] });
});
