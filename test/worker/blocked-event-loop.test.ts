/**
 * A handler that blocks the event loop (synchronous CPU work) stops heartbeats while it runs. The
 * worker does not take that for a dead connection once the loop runs again, and it says which task
 * ran when the orchestrator went two intervals without a heartbeat.
 */
import Type from "typebox";
import { afterEach, expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { Hub } from "../../src/hub/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { createTransport } from "../../src/transport/index.js";
import { Worker } from "../../src/worker/index.js";
import { memoryLogger } from "../helpers/logger.js";
import { double } from "../helpers/skills.js";
import { realHubs } from "./real-hub.js";

const start = realHubs();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Keeps the event loop busy for `ms`. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // synchronous work
  }
}

it("a heartbeat in flight while the loop is blocked past its deadline is not given up: no failure, no new connections, no re-registration", async () => {
  const hub = new Hub({ auth: { tokens: { "w-1": "secret-w-1" } }, heartbeatIntervalMs: 10_000 });
  cleanups.push(() => hub.close());
  const { url } = await hub.listen({ port: 0 });
  const transport = createTransport(url, "w-1", "secret-w-1", { secret: "secret-w-1" });
  // Blocks the loop for 1.5 heartbeat deadlines right after the next heartbeat went out.
  const send = transport.sendHeartbeat.bind(transport);
  const outcomes: string[] = [];
  let blockNext = false;
  transport.sendHeartbeat = (heartbeat, options) => {
    const answer = send(heartbeat, options);
    if (blockNext) {
      blockNext = false;
      block(1_500);
    }
    answer.then(
      () => outcomes.push("answered"),
      (err: unknown) => outcomes.push(String(err)),
    );
    return answer;
  };
  const log = memoryLogger();
  const worker = new Worker({ transport, workerId: "w-1", skills: [double], heartbeatIntervalMs: 1_000, logger: log });
  cleanups.push(() => worker.stop({ graceMs: 0 }));
  await worker.start();
  await waitUntil(() => outcomes.length >= 1);
  blockNext = true;
  const before = outcomes.length;
  // The blocked heartbeat and two more after it.
  await waitUntil(() => outcomes.length >= before + 3, { timeoutMs: 10_000 });
  expect(outcomes.slice(before, before + 3)).toEqual(["answered", "answered", "answered"]);
  expect(worker.stats.registrations).toBe(1);
  expect(log.entries.filter((e) => e.level === "warn" || /new connections/.test(e.message))).toEqual([]);
});

it("a handler that blocks the loop for over two heartbeat intervals is named in one warning, however often it blocks", async () => {
  const cpu = defineSkill({
    name: "cpu",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: async () => {
      block(2_500);
      await new Promise((resolve) => setTimeout(resolve, 50));
      block(2_500);
      return {};
    },
  });
  // The hub expects heartbeats every 10 s, so it does not call the worker gone meanwhile.
  const { hub, log } = await start([cpu], { hub: { heartbeatIntervalMs: 10_000 } });
  const handle = await hub.submit({ type: "cpu", params: {} });
  expect(await handle.result()).toMatchObject({ status: "success", attempts: 1 });
  const warned = log.entries.filter((e) => e.level === "warn" && e.message.startsWith("event loop blocked"));
  expect(warned).toHaveLength(1);
  expect(warned[0]!.fields).toMatchObject({ heartbeat_interval_ms: 1_000, tasks: [{ task_id: handle.taskId, skill: "cpu" }] });
  expect((warned[0]!.fields as { silent_ms: number }).silent_ms).toBeGreaterThanOrEqual(2_000);
  expect(log.entries.filter((e) => e.message === "heartbeat failed")).toEqual([]);
}, 20_000);
