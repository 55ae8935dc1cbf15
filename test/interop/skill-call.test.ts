/**
 * Item 3, worker half: `ctx.callSkill` posts `{"skill_name", "params"}` to `<base URL>/skills/call`
 * with the worker's usual headers and signature, and hands the outcome to the handler.
 */
import Type from "typebox";
import { afterEach, describe, expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { ProtocolError, RateLimitError } from "../../src/errors.js";
import { verifyHmac } from "../../src/security/hmac.js";
import { MockTransport } from "../../src/testing/index.js";
import { HttpTransport, type WorkerTransport } from "../../src/transport/index.js";
import { Worker, type TaskContext } from "../../src/worker/index.js";
import { fake, stopAll, worker } from "./helpers.js";

afterEach(stopAll);

/** Calls `child` with its own params and returns the outcome (or the error's name) as data. */
const parent = defineSkill({
  name: "parent",
  version: "1.0.0",
  input: Type.Object({ x: Type.Integer() }),
  output: Type.Object({ outcome: Type.Unknown() }),
  // `ctx` typed as the worker's TaskContext, which adds callSkill to the contracts' SkillContext.
  handler: async ({ x }, ctx: TaskContext) => {
    try {
      return { outcome: await ctx.callSkill("child", { x }) };
    } catch (err) {
      return { outcome: { threw: (err as Error).name, message: (err as Error).message } };
    }
  },
});

describe("ctx.callSkill", () => {
  it("posts skill_name and params to /skills/call with the usual headers and a signature, and returns the outcome", async () => {
    const orc = await fake({ skillCall: (body) => ({ status: 200, body: { status: "success", data: { doubled: Number((body.params as { x: number }).x) * 2 } } }) });
    const w = worker(orc.url, { workerId: "w-caller", skills: [parent] });
    await w.start();
    const job = orc.submit("parent", { x: 21 });
    await orc.waitFor(() => job.status === "finished" || job.status === "failed");
    expect(job.results[0]).toMatchObject({ status: "success", data: { outcome: { status: "success", data: { doubled: 42 } } } });
    expect(orc.skillCalls).toHaveLength(1);
    const call = orc.skillCalls[0]!;
    expect(call.body).toMatchObject({ skill_name: "child", params: { x: 21 } });
    expect(call.headers["x-worker-id"]).toBe("w-caller");
    expect(call.headers["x-worker-token"]).toBe("tok");
    expect(call.headers["x-rxon-version"]).toBeTypeOf("string");
    expect(verifyHmac(call.body, (call.body.security as { signature: string }).signature, "tok")).toBe(true);
  });

  it("passes a failure outcome through as a value", async () => {
    const orc = await fake({ skillCall: () => ({ status: 200, body: { status: "failure", error: { code: "PERMANENT_ERROR", message: "no" } } }) });
    const w = worker(orc.url, { workerId: "w-caller2", skills: [parent] });
    await w.start();
    const job = orc.submit("parent", { x: 1 });
    await orc.waitFor(() => job.status === "finished");
    expect(job.results[0]).toMatchObject({ data: { outcome: { status: "failure", error: { code: "PERMANENT_ERROR" } } } });
  });

  it("refuses locally a call the task's policy does not allow", async () => {
    const orc = await fake();
    const w = worker(orc.url, { workerId: "w-policy-call", skills: [parent] });
    await w.start();
    const job = orc.submit("parent", { x: 1 }, { policy: { allowed_skills: ["parent"] } });
    await orc.waitFor(() => job.status === "finished");
    expect(job.results[0]).toMatchObject({ data: { outcome: { threw: "RxonError", message: "Skill 'child' is not allowed by the task's policy" } } });
    expect(orc.skillCalls).toHaveLength(0);
    const allowed = orc.submit("parent", { x: 1 }, { policy: { allowed_skills: ["parent", "child"] } });
    await orc.waitFor(() => allowed.status === "finished");
    expect(allowed.results[0]).toMatchObject({ data: { outcome: { status: "success" } } });
  });

  it.each([
    [400, { error: "Call depth limit exceeded" }, ProtocolError],
    [429, { error: "Too Many Requests" }, RateLimitError],
  ])("rejects with a typed error on HTTP %i", async (status, body, type) => {
    const orc = await fake({ skillCall: () => ({ status, body }) });
    const transport = new HttpTransport(orc.url, "w-direct", "tok");
    try {
      const call = transport.callSkill("child", { x: 1 });
      await expect(call).rejects.toBeInstanceOf(type);
      if (status === 400) await expect(transport.callSkill("child", {})).rejects.toThrow(/Call depth limit exceeded/);
    } finally {
      await transport.close();
    }
  });

  it("is aborted by its signal", async () => {
    const orc = await fake();
    const transport = new HttpTransport(orc.url, "w-abort", "tok");
    try {
      const reason = new Error("not needed any more");
      await expect(transport.callSkill("child", {}, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(orc.skillCalls).toHaveLength(0);
    } finally {
      await transport.close();
    }
  });

  it("MockTransport records skill calls and answers skillCallResponse, so handlers can be tested without a server", async () => {
    const mock = new MockTransport({ workerId: "w-mock", skillCallResponse: (call) => ({ status: "success", data: { echoed: call.params } }) });
    const w = new Worker({ workerId: "w-mock", transport: mock, skills: [parent], commands: false });
    await w.start();
    mock.pushTask({ job_id: "j", task_id: "t", type: "parent", params: { x: 1 } });
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.skillCalls).toEqual([{ skill_name: "child", params: { x: 1 } }]);
    expect(mock.results[0]).toMatchObject({ status: "success", data: { outcome: { status: "success", data: { echoed: { x: 1 } } } } });
    mock.failNext("skillCall", new ProtocolError("HTTP 400: too deep", { status: 400 }));
    mock.pushTask({ job_id: "j2", task_id: "t2", type: "parent", params: { x: 2 } });
    await mock.waitFor((m) => m.results.length === 2);
    expect(mock.results[1]).toMatchObject({ status: "success", data: { outcome: { threw: "ProtocolError" } } });
    await w.stop({ graceMs: 0 });
  });

  it("rejects when the transport cannot call skills", async () => {
    const mock = new MockTransport({ workerId: "w-nocall" });
    // A transport with every operation but callSkill (it is optional in WorkerTransport).
    const bare: WorkerTransport = {
      workerId: mock.workerId,
      connect: () => mock.connect(),
      close: () => mock.close(),
      register: (r, o) => mock.register(r, o),
      pollTask: (o) => mock.pollTask(o),
      sendResult: (r, o) => mock.sendResult(r, o),
      sendHeartbeat: (h, o) => mock.sendHeartbeat(h, o),
      emitEvent: (e, o) => mock.emitEvent(e, o),
      commands: (o) => mock.commands(o),
      refreshToken: (o) => mock.refreshToken(o),
      [Symbol.asyncDispose]: () => mock.close(),
    };
    const w = new Worker({ workerId: "w-nocall", transport: bare, skills: [parent], commands: false });
    await w.start();
    mock.pushTask({ job_id: "j", task_id: "t", type: "parent", params: { x: 1 } });
    await mock.waitFor((m) => m.results.length === 1);
    expect(mock.results[0]).toMatchObject({ status: "success", data: { outcome: { threw: "RxonError", message: "This worker's transport cannot call skills" } } });
    await w.stop({ graceMs: 0 });
  });
});
