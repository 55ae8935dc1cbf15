/**
 * A result that asks for its worker's next task (`next=1`, an rxon extension): with
 * `answerNextTask` the listener asks the handler's poll, never to hold, and the answer carries the
 * task; whatever happens to that poll, the result's own answer stands.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AuthError } from "../../src/errors.js";
import type { ListenerContext, RxonListenerOptions } from "../../src/listener/index.js";
import { call, start, taskResult, until, type Started } from "./helpers.js";

const task = { task_id: "task-2", job_id: "job-2", type: "echo", params: { n: 1 } };
const RESULT_PATH = "/_worker/tasks/result?timeout=30&available_skills=echo,sum&next=1";

let s: Started | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

interface Seen {
  polls: { workerId: string; context: ListenerContext }[];
  undelivered: { workerId: string; task: unknown; reason: string }[];
}

async function listen(poll: (context: ListenerContext) => unknown, options: Partial<RxonListenerOptions> = {}, result: unknown = { status: "accepted" }): Promise<Seen> {
  const seen: Seen = { polls: [], undelivered: [] };
  s = await start({
    answerNextTask: true,
    onUndelivered: (workerId, t, reason) => void seen.undelivered.push({ workerId, task: t, reason }),
    handler: (action, payload, context) => {
      if (action === "poll") {
        seen.polls.push({ workerId: payload, context });
        return poll(context);
      }
      if (action === "result") return result;
      return undefined;
    },
    ...options,
  });
  return seen;
}

describe("a result asking for the next task", () => {
  it("is answered with the task the handler's no-hold poll returns, for the result's worker and the poll's skills", async () => {
    const seen = await listen(() => task);
    const answer = await call(s!.base, "POST", RESULT_PATH, taskResult);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: "accepted", next_task: task });
    expect(seen.polls).toHaveLength(1);
    const { workerId, context } = seen.polls[0]!;
    expect(workerId).toBe(taskResult.worker_id);
    expect(context.pollNoHold).toBe(true);
    expect(context.availableSkills).toEqual(["echo", "sum"]);
    expect(context.workerIdHint).toBe(taskResult.worker_id);
    expect(seen.undelivered).toEqual([]);
  });

  it("with no task waiting, gets the result's answer alone (the default one too)", async () => {
    const seen = await listen(() => null, {}, null);
    const answer = await call(s!.base, "POST", RESULT_PATH, taskResult);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('{"status":"ok"}');
    expect(seen.polls).toHaveLength(1);
  });

  it("never asks the poll without answerNextTask or without next=1", async () => {
    let seen = await listen(() => task, { answerNextTask: false });
    expect((await call(s!.base, "POST", RESULT_PATH, taskResult)).json).toEqual({ status: "accepted" });
    expect(seen.polls).toHaveLength(0);
    await s!.stop();

    seen = await listen(() => task);
    expect((await call(s!.base, "POST", "/_worker/tasks/result?timeout=30&next=0", taskResult)).json).toEqual({ status: "accepted" });
    expect((await call(s!.base, "POST", "/_worker/tasks/result?not_next=1", taskResult)).json).toEqual({ status: "accepted" });
    expect(seen.polls).toHaveLength(0);
  });

  it("gives the task back when the answer cannot carry it: an ignored result, a refused one", async () => {
    const ignored = { status: "ignored", reason: "stale_task", message: "an earlier attempt" };
    let seen = await listen(() => task, {}, ignored);
    expect((await call(s!.base, "POST", RESULT_PATH, taskResult)).json).toEqual(ignored);
    await until(() => seen.undelivered.length === 1);
    expect(seen.undelivered).toEqual([{ workerId: taskResult.worker_id, task, reason: "released" }]);
    await s!.stop();

    const seenRefused: Seen = { polls: [], undelivered: [] };
    s = await start({
      answerNextTask: true,
      onUndelivered: (workerId, t, reason) => void seenRefused.undelivered.push({ workerId, task: t, reason }),
      // Async, as the hub's: the poll has started when the result is refused.
      handler: async (...[action]) => {
        if (action === "poll") return task;
        if (action === "result") throw new AuthError("Worker token does not match the result's worker");
        return undefined;
      },
    });
    seen = seenRefused;
    const answer = await call(s.base, "POST", RESULT_PATH, taskResult);
    expect(answer.status).toBe(403);
    expect(answer.json).not.toHaveProperty("next_task");
    await until(() => seen.undelivered.length === 1);
    expect(seen.undelivered).toEqual([{ workerId: taskResult.worker_id, task, reason: "released" }]);
  });

  it("keeps the result's answer when the poll throws", async () => {
    const seen = await listen(() => {
      throw new Error("store down");
    });
    const answer = await call(s!.base, "POST", RESULT_PATH, taskResult);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: "accepted" });
    expect(seen.polls).toHaveLength(1);
  });

  it("reports a task that cannot be written as undelivered and keeps the result's answer", async () => {
    const bad = { ...task, params: { n: 1e21 } };
    const seen = await listen(() => bad);
    const answer = await call(s!.base, "POST", RESULT_PATH, taskResult);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: "accepted" });
    expect(seen.undelivered).toEqual([{ workerId: taskResult.worker_id, task: bad, reason: "unserializable" }]);
  });

  it("reports the task undelivered when the worker left before its answer", async () => {
    // The poll returns its task only once the worker's connection is gone.
    const seen = await listen((context) => new Promise((resolve) => context.signal.addEventListener("abort", () => resolve(task))));
    const body = JSON.stringify(taskResult);
    const socket = connect(s!.port, "127.0.0.1");
    socket.on("error", () => {});
    await new Promise((r) => socket.once("connect", r));
    socket.write(`POST ${RESULT_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await until(() => seen.polls.length === 1);
    socket.destroy();
    await until(() => seen.undelivered.length === 1);
    expect(seen.undelivered[0]).toEqual({ workerId: taskResult.worker_id, task, reason: "client_gone" });
  });
});
