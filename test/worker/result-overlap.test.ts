/**
 * A task's slot is free once its outcome is decided: the next poll goes out while the result is
 * delivered, the task stays listed in heartbeats until its result got through, and a worker whose
 * results do not get through stops taking tasks once more are on their way than it has slots.
 */
import Type from "typebox";
import { afterEach, describe, expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import type { Worker } from "../../src/worker/index.js";
import { gate, setup, task } from "./helpers.js";

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 0 })));
});

describe("results delivered while the next task runs", () => {
  it("polls for the next task while a result is on its way, keeps the task in heartbeats, and stops past one result per slot", async () => {
    const ran: string[] = [];
    const echo = defineSkill({ name: "echo", version: "1", input: Type.Object({}, { additionalProperties: true }), output: Type.Object({}, { additionalProperties: true }), handler: (_p, ctx) => (ran.push(ctx.taskId), {}) });
    const delivery = gate();
    const { worker, mock } = setup(
      { skills: [echo], concurrency: 1, heartbeatIntervalMs: 20, pollTimeoutSeconds: 1 },
      // Results are answered only once the gate opens.
      { resultResponse: async () => (await delivery.promise, { status: "ok" }) },
    );
    workers.push(worker);
    const [a, b, c] = [task("echo"), task("echo"), task("echo")];
    for (const t of [a, b, c]) mock.pushTask(t);
    await worker.start();
    // A's result waits for the gate, yet B was taken and run meanwhile (one slot).
    await mock.waitFor(() => ran.includes(b.task_id));
    expect(mock.results.map((r) => r.task_id)).toEqual(expect.arrayContaining([a.task_id]));
    // A (result on its way) is still listed, so its lease is not given up.
    await mock.waitFor((m) => m.heartbeats.some((h) => h?.current_tasks?.includes(a.task_id) === true && h.current_tasks.includes(b.task_id)));
    // Two results on their way with one slot: C waits until one of them got through.
    await new Promise((r) => setTimeout(r, 100));
    expect(ran).not.toContain(c.task_id);
    delivery.open();
    await mock.waitFor(() => ran.includes(c.task_id));
    await mock.waitFor((m) => m.results.length === 3);
    await mock.waitFor(() => worker.stats.inFlight === 0);
  });
});
