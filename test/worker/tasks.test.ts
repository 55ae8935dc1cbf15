import Type from "typebox";
import { describe, expect, it } from "vitest";
import type { Heartbeat, TaskError, TaskResult } from "../../generated/types.js";
import { defineSkill } from "../../src/contracts/index.js";
import { NetworkError, ProtocolError, RxonError } from "../../src/errors.js";
import type { TaskContext, WorkerSkill } from "../../src/worker/index.js";
import { aborted, gate, recordingClock, startedWorkers, task } from "./helpers.js";

const started = startedWorkers();
const errorOf = (r: TaskResult | undefined): TaskError => r?.error as TaskError;
const resultFor = (results: TaskResult[], taskId: string): TaskResult[] => results.filter((r) => r.task_id === taskId);

/** A skill whose handler is the given function, with open contracts. */
function skill(name: string, handler: (params: Record<string, unknown>, ctx: TaskContext) => unknown): WorkerSkill {
  return defineSkill({ name, version: "1", input: Type.Object({}, { additionalProperties: true }), output: Type.Object({}, { additionalProperties: true }), handler: handler as never });
}

describe("running tasks", () => {
  it("runs a task and reports success with worker id, origin worker id and execution time", async () => {
    const { mock } = await started();
    const t = task("add", { a: 2, b: 3 }, { origin_worker_id: "relay-1" });
    mock.pushTask(t);
    const [r] = await mock.waitFor((m) => (m.results.length === 1 ? m.results : null));
    expect(r).toMatchObject({ job_id: t.job_id, task_id: t.task_id, status: "success", data: { sum: 5 }, origin_worker_id: "relay-1" });
    expect(r!.worker_id).toMatch(/^w-/);
    expect(r!.costs!.execution_time_seconds).toBeGreaterThanOrEqual(0);
    expect(r!.error).toBeUndefined();
  });

  it("polls only with a free slot: concurrency 2 never runs more than 2", async () => {
    const release = gate();
    let now = 0;
    let max = 0;
    const busy = skill("busy", async () => {
      max = Math.max(max, ++now);
      await release.promise;
      now--;
      return {};
    });
    const { worker, mock } = await started({ concurrency: 2, skills: [busy] });
    for (let i = 0; i < 6; i++) mock.pushTask(task("busy"));
    await mock.waitFor(() => now === 2);
    // Give the poll loop every chance to take a third task if it wrongly would.
    await new Promise((r) => setTimeout(r, 50));
    expect(mock.queuedTasks).toBe(4);
    expect((mock.heartbeats.at(-1) as Heartbeat | undefined)?.status ?? "full").toMatch(/full|idle/);
    expect(worker.stats.inFlight).toBe(2);
    release.open();
    await mock.waitFor((m) => m.results.length === 6);
    expect(max).toBe(2);
    expect(mock.polls.every((p) => p.availableSkills?.includes("busy"))).toBe(true);
  });

  it("a params contract violation is a CONTRACT_VIOLATION_ERROR failure and the handler does not run", async () => {
    let calls = 0;
    const strict = defineSkill({
      name: "strict",
      version: "1",
      input: Type.Object({ n: Type.Integer() }),
      output: Type.Object({ n: Type.Integer() }),
      handler: ({ n }) => {
        calls++;
        return { n };
      },
    });
    const { mock } = await started({ skills: [strict] });
    const bad = task("strict", { n: "seven" });
    mock.pushTask(bad);
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]!.status).toBe("failure");
    expect(errorOf(mock.results[0])).toMatchObject({ code: "CONTRACT_VIOLATION_ERROR" });
    expect(errorOf(mock.results[0]).message).toContain("/n");
    expect(calls).toBe(0);
    mock.pushTask(task("strict", { n: 7 }));
    await mock.waitFor((m) => m.results.length === 2);
    expect(mock.results[1]).toMatchObject({ status: "success", data: { n: 7 } });
  });

  it("an output contract violation or a non-object result is a CONTRACT_VIOLATION_ERROR failure", async () => {
    const liar = defineSkill({ name: "liar", version: "1", input: Type.Object({}), output: Type.Object({ n: Type.Integer() }), handler: () => ({ n: "x" }) as never });
    const scalar = skill("scalar", () => 42);
    const { mock } = await started({ skills: [liar, scalar] });
    mock.pushTask(task("liar"));
    mock.pushTask(task("scalar"));
    await mock.waitFor((m) => m.results.length === 2);
    for (const r of mock.results) {
      expect(r.status).toBe("failure");
      expect(errorOf(r).code).toBe("CONTRACT_VIOLATION_ERROR");
      expect(errorOf(r).message).toMatch(/^Local contract violation/);
    }
  });

  it("handler exceptions become failures, keep protocol codes, hide other messages, and the worker goes on", async () => {
    const thrower = skill("thrower", (params) => {
      if (params.kind === "sync") throw new Error("cannot open /etc/secret");
      if (params.kind === "rxon") return Promise.reject(new RxonError("model missing", { code: "DEPENDENCY_MISSING_ERROR", details: { model: "x" } }));
      if (params.kind === "weird") return Promise.reject("a string");
      return Promise.reject(new TypeError("db password is hunter2"));
    });
    const { worker, mock } = await started({ skills: [thrower] });
    const kinds = ["sync", "rxon", "weird", "async"];
    for (const kind of kinds) mock.pushTask(task("thrower", { kind }));
    await mock.waitFor((m) => m.results.length === 4);
    const [sync, rxon, weird, asyncErr] = mock.results;
    expect(errorOf(sync)).toMatchObject({ code: "INTERNAL_ERROR" });
    expect(errorOf(sync).message).not.toContain("secret");
    expect(errorOf(rxon)).toEqual({ code: "DEPENDENCY_MISSING_ERROR", message: "model missing", details: { model: "x" } });
    expect(errorOf(weird).code).toBe("INTERNAL_ERROR");
    expect(errorOf(asyncErr).message).not.toContain("hunter2");
    expect(worker.stats).toMatchObject({ failed: 4, succeeded: 0 });
    mock.pushTask(task("thrower", { kind: "sync" }));
    await mock.waitFor((m) => m.results.length === 5);
    expect(worker.state).toBe("running");
  });

  it("a task for a skill the worker does not have fails with DEPENDENCY_MISSING_ERROR", async () => {
    const { mock } = await started();
    mock.pushTask(task("nope"));
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]!.status).toBe("failure");
    expect(errorOf(mock.results[0]).code).toBe("DEPENDENCY_MISSING_ERROR");
  });
});

describe("aborting tasks", () => {
  function waiter(seen: unknown[]): WorkerSkill {
    return skill("wait", async (_p, ctx) => {
      seen.push(await aborted(ctx.signal));
      throw ctx.signal.reason;
    });
  }

  it("a cancel_task command reaches the handler's signal and the result is cancelled", async () => {
    const seen: unknown[] = [];
    const { worker, mock } = await started({ skills: [waiter(seen)], heartbeatIntervalMs: 60_000 });
    const commands: string[] = [];
    worker.on("command", ({ command }) => commands.push(command.command));
    const t = task("wait");
    mock.pushTask(t);
    await mock.waitFor(() => worker.stats.inFlight === 1);
    mock.pushCommand({ command: "cancel_task", task_id: t.task_id, job_id: t.job_id });
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]).toMatchObject({ task_id: t.task_id, status: "cancelled" });
    expect(mock.results[0]!.error).toBeUndefined();
    expect((seen[0] as DOMException).name).toBe("AbortError");
    expect(commands).toEqual(["cancel_task"]);
    expect(worker.stats.cancelled).toBe(1);
  });

  it("a cancel_task command naming only the job id (as the Python orchestrator does) cancels the task", async () => {
    const seen: unknown[] = [];
    const { worker, mock } = await started({ skills: [waiter(seen)], heartbeatIntervalMs: 60_000 });
    const t = task("wait");
    mock.pushTask(t);
    await mock.waitFor(() => worker.stats.inFlight === 1);
    expect(worker.cancelTask("no-such-id")).toBe(false);
    mock.pushCommand({ command: "cancel_task", task_id: t.job_id });
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]).toMatchObject({ task_id: t.task_id, status: "cancelled" });
    expect(seen).toHaveLength(1);
  });

  it("heartbeat cancel_task_ids reach the handler's signal", async () => {
    const seen: unknown[] = [];
    const { mock } = await started(
      { skills: [waiter(seen)] },
      // Also with require_full_sync next to it: the cancellation must not be lost in the re-registration.
      { heartbeatResponse: (hb) => ({ status: "ok", require_full_sync: true, cancel_task_ids: (hb?.current_tasks ?? []).filter((id) => id.startsWith("task-")) }) },
    );
    const t = task("wait");
    mock.pushTask(t);
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]).toMatchObject({ task_id: t.task_id, status: "cancelled" });
    expect(seen).toHaveLength(1);
  });

  it("the deadline (fractional Unix seconds) aborts the handler; the result is a TIMEOUT_ERROR failure", async () => {
    const seen: unknown[] = [];
    let deadlineSeen: number | undefined;
    const timed = skill("timed", async (_p, ctx) => {
      deadlineSeen = ctx.deadline;
      seen.push(await aborted(ctx.signal));
      return {};
    });
    const { mock } = await started({ skills: [timed] });
    const deadline = (Date.now() + 1_000) / 1000;
    mock.pushTask(task("timed", {}, { deadline }));
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]!.status).toBe("failure");
    expect(errorOf(mock.results[0]).code).toBe("TIMEOUT_ERROR");
    expect((seen[0] as DOMException).name).toBe("TimeoutError");
    expect(deadlineSeen).toBeCloseTo(deadline * 1000, 0);
  });

  it("a task whose deadline already passed does not run", async () => {
    let calls = 0;
    const counted = skill("counted", () => {
      calls++;
      return {};
    });
    const { mock } = await started({ skills: [counted] });
    mock.pushTask(task("counted", {}, { deadline: Date.now() / 1000 - 10 }));
    await mock.waitFor((m) => m.results.length === 1);
    expect(errorOf(mock.results[0]).code).toBe("TIMEOUT_ERROR");
    expect(calls).toBe(0);
  });

  it("a handler that ignores its signal cannot hold the result back", async () => {
    const never = skill("never", () => new Promise(() => {}));
    const { worker, mock } = await started({ skills: [never] });
    const t = task("never");
    mock.pushTask(t);
    await mock.waitFor(() => worker.stats.inFlight === 1);
    expect(worker.cancelTask(t.task_id)).toBe(true);
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]!.status).toBe("cancelled");
    expect(worker.stats.inFlight).toBe(0);
  });
});

describe("results", () => {
  it("exactly one result per task, across outcomes, duplicate deliveries and retried sends", async () => {
    const clock = recordingClock(0.001);
    const mixed = skill("mixed", async (params, ctx) => {
      if (params.mode === "fail") throw new Error("x");
      if (params.mode === "wait") {
        await aborted(ctx.signal);
        throw ctx.signal.reason;
      }
      return { ok: true };
    });
    const { worker, mock } = await started({ skills: [mixed], concurrency: 5, clock });
    mock.failNext("result", new NetworkError("reset"));
    mock.failNext("result", new ProtocolError("HTTP 502", { status: 502 }));
    const tasks = Array.from({ length: 12 }, (_, i) => task("mixed", { mode: ["ok", "fail", "wait"][i % 3] }));
    for (const t of tasks) mock.pushTask(t);
    mock.pushTask({ ...tasks[2]! }); // delivered twice while the first copy runs
    // Four handlers wait for a cancel; the fifth slot runs the rest, the duplicate included.
    await mock.waitFor((m) => m.results.length >= 8 && m.queuedTasks === 0);
    for (const t of tasks) worker.cancelTask(t.task_id);
    await mock.waitFor((m) => m.results.length >= 12 && worker.stats.inFlight === 0);
    await new Promise((r) => setTimeout(r, 30));
    for (const t of tasks) expect(resultFor(mock.results, t.task_id)).toHaveLength(1);
    expect(mock.results).toHaveLength(12);
    expect(worker.stats).toMatchObject({ succeeded: 4, failed: 4, cancelled: 4, lost: 0 });
  });

  it("503s (orchestrator unavailable for now) do not use up a result's attempts; it is delivered when the orchestrator is back", async () => {
    const clock = recordingClock(0.001);
    const { worker, mock } = await started({ clock, resultAttempts: 2 });
    // More 503s than attempts: each waits with the backoff, none counts as a failed attempt.
    for (let i = 0; i < 6; i++) mock.failNext("result", new ProtocolError("HTTP 503: The hub's store is unavailable; try again later", { status: 503, retryable: true }));
    mock.pushTask(task("add", { a: 2, b: 3 }));
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]).toMatchObject({ status: "success", data: { sum: 5 } });
    expect(worker.stats).toMatchObject({ succeeded: 1, lost: 0 });
    // The waits grow (backoff with jitter), as for any outage, rather than hammering the orchestrator.
    const waits = clock.waits.filter((ms) => ms >= 500);
    expect(waits.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...waits)).toBeGreaterThanOrEqual(8_000);
    // They are bounded: past MAX_UNAVAILABLE 503s the result counts as lost.
    for (let i = 0; i < 21; i++) mock.failNext("result", new ProtocolError("HTTP 503: unavailable", { status: 503, retryable: true }));
    mock.pushTask(task("add", { a: 1, b: 1 }));
    await mock.waitFor(() => worker.stats.lost === 1, { timeoutMs: 20_000 });
    expect(mock.results).toHaveLength(1);
  });

  it("a result the orchestrator ignores is not sent again; a 4xx answer is not retried", async () => {
    const clock = recordingClock(0.001);
    const { worker, mock } = await started({ clock }, { resultResponse: { status: "ignored", reason: "stale_task", message: "old" } });
    const done: boolean[] = [];
    worker.on("task:done", ({ delivered }) => done.push(delivered));
    mock.pushTask(task("add", { a: 1, b: 1 }));
    await mock.waitFor(() => done.length === 1);
    expect(mock.results).toHaveLength(1);
    expect(done).toEqual([false]);
    mock.failNext("result", new ProtocolError("HTTP 409: conflict", { status: 409 }));
    mock.pushTask(task("add", { a: 1, b: 1 }));
    await mock.waitFor(() => done.length === 2);
    expect(worker.stats).toMatchObject({ ignored: 1, lost: 1 });
  });

  it("data that cannot be encoded is reported as a CONTRACT_VIOLATION_ERROR failure instead, naming where", async () => {
    const odd = skill("odd", () => ({ value: Number.NaN, f: () => 1 }));
    const { mock } = await started({ skills: [odd] });
    mock.pushTask(task("odd"));
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]!.status).toBe("failure");
    expect(errorOf(mock.results[0])).toEqual({ code: "CONTRACT_VIOLATION_ERROR", message: "Local contract violation: output cannot be sent as JSON. /f A function is not a JSON value" });
  });
});

describe("progress", () => {
  it("emits throttled progress events and always sends the last value before the result", async () => {
    const chatty = skill("chatty", async (_p, ctx) => {
      for (let i = 1; i <= 1_000; i++) ctx.progress(i / 1_000, `step ${i}`);
      await new Promise((r) => setTimeout(r, 20));
      ctx.progress(2, "done"); // clamped to 1
      return {};
    });
    const { worker, mock } = await started({ skills: [chatty], progressIntervalMs: 100 });
    const t = task("chatty");
    mock.pushTask(t);
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.events.length).toBeGreaterThanOrEqual(2);
    expect(mock.events.length).toBeLessThanOrEqual(4);
    const first = mock.events[0]!;
    expect(first).toMatchObject({
      worker_id: worker.workerId,
      origin_worker_id: worker.workerId,
      event_type: "progress",
      origin_task_id: t.task_id,
      target_task_id: t.task_id,
      target_job_id: t.job_id,
      payload: { progress: 0.001, message: "step 1" },
    });
    expect(first.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(mock.events.at(-1)!.payload).toEqual({ progress: 1, message: "done" });
    expect(new Set(mock.events.map((e) => e.event_id)).size).toBe(mock.events.length);
  });

  it("a failing event channel does not affect the task", async () => {
    const chatty = skill("chatty2", (_p, ctx) => {
      ctx.progress(0.5);
      return { ok: 1 };
    });
    const { mock } = await started({ skills: [chatty] });
    mock.failNext("event", new NetworkError("down"));
    mock.pushTask(task("chatty2"));
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]!.status).toBe("success");
  });
});

describe("polling", () => {
  it("backs off on every kind of poll error instead of spinning", async () => {
    const clock = recordingClock(0.001);
    const { mock } = await started({ clock, heartbeatIntervalMs: 60_000 });
    const waitsBefore = clock.waits.length;
    mock.failNext("poll", new ProtocolError("HTTP 500: boom", { status: 500 }));
    mock.failNext("poll", new ProtocolError("HTTP 500: boom", { status: 500 }));
    mock.failNext("poll", new NetworkError("reset"));
    // The poll in progress consumes no failure; push a task to end it.
    mock.pushTask(task("add", { a: 1, b: 2 }));
    await mock.waitFor((m) => m.results.length === 1);
    mock.pushTask(task("add", { a: 1, b: 2 }));
    await mock.waitFor((m) => m.results.length === 2);
    const waits = clock.waits.slice(waitsBefore).filter((w) => w !== 60_000 && w !== 5_000 && w !== 1_000 * 1_000);
    expect(waits.filter((w) => w >= 800).length).toBeGreaterThanOrEqual(3);
  });

  it("does not spin against a server that answers 204 without holding the poll", async () => {
    const clock = recordingClock(0.1);
    const { mock } = await started({ clock, heartbeatIntervalMs: 60_000, pollTimeoutSeconds: 0.001 });
    await new Promise((r) => setTimeout(r, 300));
    // Empty polls back off 10 ms doubling to 1 s (scaled 10x here): a handful of polls, not thousands.
    expect(mock.polls.length).toBeLessThan(40);
    mock.pushTask(task("add", { a: 1, b: 2 }));
    await mock.waitFor((m) => m.results.length === 1);
  });
});
