import Type from "typebox";
import { describe, expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import type { Logger } from "../../src/logger.js";
import type { TaskContext, Worker, WorkerSkill } from "../../src/worker/index.js";
import { aborted, gate, startedWorkers, task } from "./helpers.js";

// A task's AbortSignal, its progress reporter and its logger are made only when a handler uses
// them (src/worker/execute.ts, task-runner.ts): these runs take each path a handler can take.

const started = startedWorkers();

function skill(name: string, handler: (params: Record<string, unknown>, ctx: TaskContext) => unknown): WorkerSkill {
  return defineSkill({ name, version: "1", input: Type.Object({}, { additionalProperties: true }), output: Type.Object({}, { additionalProperties: true }), handler: handler as never });
}

describe("a task's signal made on demand", () => {
  it("a handler that reads its signal only after the cancel gets it already aborted, with the cancel's reason", async () => {
    const release = gate();
    let seen: { aborted: boolean; name: string } | undefined;
    const late = skill("late", async (_p, ctx) => {
      await release.promise;
      seen = { aborted: ctx.signal.aborted, name: (ctx.signal.reason as DOMException).name };
      return {};
    });
    const { worker, mock } = await started({ skills: [late], heartbeatIntervalMs: 60_000 });
    const t = task("late");
    mock.pushTask(t);
    await mock.waitFor(() => worker.stats.inFlight === 1);
    expect(worker.cancelTask(t.task_id)).toBe(true);
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]).toMatchObject({ task_id: t.task_id, status: "cancelled" });
    release.open();
    await mock.waitFor(() => seen !== undefined);
    expect(seen).toEqual({ aborted: true, name: "AbortError" });
  });

  it("a signal taken by destructuring the context fires on cancel", async () => {
    const seen: unknown[] = [];
    const destructured = skill("destructured", async (_p, { signal }) => {
      seen.push(await aborted(signal));
      throw signal.reason;
    });
    const { worker, mock } = await started({ skills: [destructured], heartbeatIntervalMs: 60_000 });
    const t = task("destructured");
    mock.pushTask(t);
    await mock.waitFor(() => worker.stats.inFlight === 1);
    worker.cancelTask(t.job_id);
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]!.status).toBe("cancelled");
    expect((seen[0] as DOMException).name).toBe("AbortError");
  });

  it("a synchronous handler that never reads its signal succeeds; one whose task is cancelled while it runs is cancelled", async () => {
    let worker!: Worker;
    const plain = skill("plain", () => ({ ok: true }));
    const selfCancel = skill("self_cancel", (_p, ctx) => {
      worker.cancelTask(ctx.taskId);
      return { ok: true };
    });
    const made = await started({ skills: [plain, selfCancel], heartbeatIntervalMs: 60_000 });
    worker = made.worker;
    const { mock } = made;
    const a = task("plain");
    const b = task("self_cancel");
    mock.pushTask(a);
    mock.pushTask(b);
    await mock.waitFor((m) => m.results.length === 2);
    expect(mock.results.find((r) => r.task_id === a.task_id)).toMatchObject({ status: "success", data: { ok: true } });
    expect(mock.results.find((r) => r.task_id === b.task_id)).toMatchObject({ status: "cancelled" });
    expect(worker.stats).toMatchObject({ succeeded: 1, cancelled: 1 });
  });

  it("an asynchronous handler that never reads its signal succeeds, and one that ignores a cancel is cut off", async () => {
    const release = gate();
    const slow = skill("slow", async () => {
      await release.promise;
      return { late: true };
    });
    const quick = skill("quick", async () => ({ quick: true }));
    const { worker, mock } = await started({ skills: [slow, quick], concurrency: 2, heartbeatIntervalMs: 60_000 });
    const s = task("slow");
    const q = task("quick");
    mock.pushTask(s);
    mock.pushTask(q);
    await mock.waitFor((m) => m.results.some((r) => r.task_id === q.task_id));
    expect(mock.results.find((r) => r.task_id === q.task_id)).toMatchObject({ status: "success", data: { quick: true } });
    worker.cancelTask(s.task_id);
    await mock.waitFor((m) => m.results.length === 2);
    expect(mock.results.find((r) => r.task_id === s.task_id)).toMatchObject({ status: "cancelled" });
    release.open();
  });
});

describe("progress and logger made on demand", () => {
  it("progress reported during the run is sent; progress reported after the result is dropped", async () => {
    let later: TaskContext["progress"] | undefined;
    const reporting = skill("reporting", (_p, ctx) => {
      ctx.progress(0.5, "half");
      later = ctx.progress;
      return {};
    });
    const quiet = skill("quiet", () => ({}));
    const { mock } = await started({ skills: [reporting, quiet], heartbeatIntervalMs: 60_000 });
    const t = task("reporting");
    mock.pushTask(t);
    await mock.waitFor((m) => m.results.length === 1);
    const progress = mock.events.filter((e) => e.event_type === "progress");
    expect(progress.map((e) => e.payload)).toEqual([{ progress: 0.5, message: "half" }]);
    later!(0.9, "too late");
    mock.pushTask(task("quiet"));
    await mock.waitFor((m) => m.results.length === 2);
    expect(mock.events.filter((e) => e.event_type === "progress")).toHaveLength(1);
  });

  it("ctx.logger writes with the task's fields, also when taken by destructuring", async () => {
    const lines: Record<string, unknown>[] = [];
    const record = (fields: object | string): void => void lines.push(typeof fields === "string" ? {} : { ...fields });
    const logger: Logger = { debug: record, info: record, warn: record, error: record };
    const logging = skill("logging", (_p, { logger: log }) => {
      log.info({ step: 1 }, "working");
      return {};
    });
    const { mock } = await started({ skills: [logging], logger, heartbeatIntervalMs: 60_000 });
    const t = task("logging");
    mock.pushTask(t);
    await mock.waitFor((m) => m.results.length === 1);
    expect(lines).toContainEqual(expect.objectContaining({ step: 1, task_id: t.task_id, job_id: t.job_id }));
  });
});
