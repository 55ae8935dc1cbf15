/**
 * A result that brings the worker's next task: an rxon Worker whose slot is the one it would poll
 * for asks for it with the result (`next=1`), and the hub answers with a waiting task, so a busy
 * worker polls only when nothing waits. Counted on the hub's server, request by request.
 */
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { Worker } from "../../src/worker/index.js";
import { double } from "../helpers/skills.js";
import { SECRETS, until } from "./helpers.js";

const TASKS = 30;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Runs TASKS queued tasks on one worker (one slot); counts the polls and results the hub's server received. */
async function run(nextTaskWithResult: boolean): Promise<{ polls: number; results: number; asking: number; attempts: number[] }> {
  const hub = new Hub({ auth: { tokens: SECRETS }, heartbeatIntervalMs: 500 });
  const server = await hub.listen({ port: 0 });
  cleanup.push(() => hub.close());
  const counts = { polls: 0, results: 0, asking: 0 };
  server.server.on("request", (req: IncomingMessage) => {
    const url = req.url ?? "";
    if (req.method === "GET" && url.includes("/tasks/next")) counts.polls++;
    if (req.method === "POST" && url.startsWith("/_worker/tasks/result")) {
      counts.results++;
      if (/[?&]next=1(&|$)/.test(url)) counts.asking++;
    }
  });
  const handles = await Promise.all(Array.from({ length: TASKS }, (_, i) => hub.submit({ type: "double", params: { n: i } })));
  const w = new Worker({ url: server.url, workerId: "cpu-1", token: SECRETS["cpu-1"]!, secret: SECRETS["cpu-1"]!, skills: [double], concurrency: 1, heartbeatIntervalMs: 500, nextTaskWithResult });
  cleanup.push(() => w.stop({ graceMs: 500 }));
  await w.start();
  const outcomes = await Promise.all(handles.map((h) => h.result()));
  for (const [i, o] of outcomes.entries()) expect(o).toMatchObject({ status: "success", data: { n: 2 * i } });
  // The worker counts a result once its answer is in, a moment after the hub took it.
  await until(() => w.stats.succeeded === TASKS);
  return { ...counts, attempts: outcomes.map((o) => o.attempts) };
}

describe("a result that brings the next task", () => {
  it("runs a queue of tasks with almost no polls, each task once", async () => {
    const { polls, results, asking, attempts } = await run(true);
    expect(results).toBe(TASKS);
    // Every result asked; all but the last brought a task, so only the first poll (and the one
    // after the queue ran dry) went out.
    expect(asking).toBe(TASKS);
    expect(polls).toBeLessThanOrEqual(3);
    expect(attempts.every((a) => a === 1)).toBe(true);
  });

  it("with nextTaskWithResult: false, polls once per task and never asks", async () => {
    const { polls, results, asking } = await run(false);
    expect(results).toBe(TASKS);
    expect(asking).toBe(0);
    expect(polls).toBeGreaterThanOrEqual(TASKS);
  });
});
