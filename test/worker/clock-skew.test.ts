/**
 * A worker whose clock disagrees with the hub's (no NTP at boot, a VM resumed, a clock corrected
 * while running), against a real hub over HTTP: the worker reads the hub's time from the `Date`
 * header of its answers and stamps its messages with it, reads task deadlines on it, and measures
 * intervals on a monotonic clock, so a jump of the wall clock neither stalls nor rushes anything.
 */
import Type from "typebox";
import { describe, expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { sleep } from "../../src/transport/backoff.js";
import { systemClock } from "../../src/worker/clock.js";
import type { WorkerClock } from "../../src/worker/index.js";
import { realHubs } from "./real-hub.js";

const start = realHubs();
/** This machine's wall clock as the handler reads it (the test's skewed clock). */
let machineNow: () => number = Date.now;

/** Sleeps `ms` (honouring the abort), reporting progress on the way; says how long it had left before its deadline (-1: none). */
const nap = defineSkill({
  name: "nap",
  version: "1",
  input: Type.Object({ ms: Type.Number() }),
  output: Type.Object({ leftMs: Type.Number() }),
  handler: async ({ ms }, ctx) => {
    const leftMs = ctx.deadline === undefined ? -1 : ctx.deadline - machineNow();
    for (let i = 0; i < 4; i++) {
      ctx.progress(i / 4);
      await sleep(ms / 4, ctx.signal);
    }
    return { leftMs };
  },
});

/** The system clock with its wall time moved by `skewMs` (and movable later): what a machine with a wrong clock has. */
function skewedClock(skewMs: number): WorkerClock & { skewMs: number } {
  const clock = { ...systemClock, skewMs, now: () => Date.now() + clock.skewMs };
  machineNow = clock.now;
  return clock;
}

describe("a worker whose clock is off", () => {
  it.each([90, -90, 600, -600, 7200, -7200])("by %i s registers, runs a task once and has its result accepted, and says its clock is off", async (skewSeconds) => {
    const clock = skewedClock(skewSeconds * 1000);
    const { hub, worker, log } = await start([nap], { worker: { clock, transportOptions: { clock: clock.now } } });
    const outcome = await (await hub.submit({ type: "nap", params: { ms: 40 } })).result();
    expect(outcome).toMatchObject({ status: "success", attempts: 1 });
    // The worker counts a result once the hub's answer arrived, which may be just after the outcome.
    await waitUntil(() => worker.stats.succeeded === 1);
    expect(worker.stats).toMatchObject({ registrations: 1, succeeded: 1, lost: 0, ignored: 0 });
    expect((await hub.stats()).succeeded).toBe(1);
    const said = log.entries.filter((e) => e.level === "warn" && e.message.includes("clock is"));
    expect(said).toHaveLength(1);
    // A Date header has whole seconds and is read some time after it was written (later still on
    // a busy machine), so the seconds said are right to within one.
    const told = new RegExp(`clock is (\\d+) s ${skewSeconds > 0 ? "ahead of" : "behind"} the orchestrator's`).exec(said[0]!.message);
    expect(told, said[0]!.message).not.toBeNull();
    expect(Math.abs(Number(told![1]) - Math.abs(skewSeconds))).toBeLessThanOrEqual(1);
    // Nothing was refused but the first registration, stamped before the hub's time was known.
    expect((await hub.stats()).refused).toBeLessThanOrEqual(1);
  });

  it.each([-300, 300])("whose clock jumps by %i s in the middle of a task keeps heartbeating, and the task runs once", async (jumpSeconds) => {
    const clock = skewedClock(0);
    const { hub, worker, log } = await start([nap], { worker: { clock, transportOptions: { clock: clock.now } } });
    const expired: string[] = [];
    hub.on("worker:expired", (e) => expired.push(e.workerId));
    const handle = await hub.submit({ type: "nap", params: { ms: 3000 } });
    await waitUntil(() => worker.stats.inFlight === 1);
    await sleep(500);
    clock.skewMs += jumpSeconds * 1000;
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ status: "success", attempts: 1 });
    // Between tasks too.
    expect(await (await hub.submit({ type: "nap", params: { ms: 40 } })).result()).toMatchObject({ status: "success", attempts: 1 });
    expect(expired).toEqual([]);
    await waitUntil(() => worker.stats.succeeded === 2);
    expect(worker.stats).toMatchObject({ registrations: 1, succeeded: 2, lost: 0 });
    expect(log.entries.filter((e) => e.level === "error")).toEqual([]);
  });
});

describe("task deadlines are the hub's time", () => {
  it.each([45, -45])("a worker whose clock is %i s off runs a task with a 5 s deadline to the end, and ctx.deadline leaves it about 5 s on its own clock", async (skewSeconds) => {
    const clock = skewedClock(skewSeconds * 1000);
    // The worker's clock alone: the transport stamps on it too.
    const { hub } = await start([nap], { worker: { clock } });
    const outcome = await (await hub.submit({ type: "nap", params: { ms: 200 }, timeoutMs: 5_000 })).result();
    expect(outcome).toMatchObject({ status: "success", attempts: 1 });
    const leftMs = outcome.data?.leftMs as number;
    expect(leftMs).toBeGreaterThan(2_000);
    expect(leftMs).toBeLessThanOrEqual(7_000);
  });
});

describe("intervals are measured on a monotonic clock", () => {
  it("a wall clock set back 5 min while the worker waits to heartbeat does not stretch the wait: a task that starts then is announced and the heartbeats go on", async () => {
    const clock = skewedClock(0);
    const { hub, worker } = await start([nap], { worker: { clock, transportOptions: { clock: clock.now } } });
    const expired: string[] = [];
    hub.on("worker:expired", (e) => expired.push(e.workerId));
    const beats: number[] = [];
    const send = worker.transport.sendHeartbeat.bind(worker.transport);
    worker.transport.sendHeartbeat = (heartbeat, options) => {
      beats.push(performance.now());
      return send(heartbeat, options);
    };
    // A first task: its start and end each sent a heartbeat for the load change (cooldown 2 s).
    expect(await (await hub.submit({ type: "nap", params: { ms: 40 } })).result()).toMatchObject({ status: "success" });
    await sleep(2_500);
    clock.skewMs -= 300_000;
    const jumped = performance.now();
    const handle = await hub.submit({ type: "nap", params: { ms: 3_000 } });
    expect(await handle.result()).toMatchObject({ status: "success", attempts: 1 });
    // Heartbeats every second (1 s interval) through the 3 s task: none stalled for minutes.
    expect(beats.filter((t) => t > jumped).length).toBeGreaterThanOrEqual(3);
    expect(expired).toEqual([]);
  });

  it("a wall clock set forward 5 min is not taken for a blocked event loop", async () => {
    const clock = skewedClock(0);
    const { hub, worker, log } = await start([nap], { worker: { clock, transportOptions: { clock: clock.now } } });
    const handle = await hub.submit({ type: "nap", params: { ms: 2_000 } });
    await waitUntil(() => worker.stats.inFlight === 1);
    clock.skewMs += 300_000;
    expect(await handle.result()).toMatchObject({ status: "success", attempts: 1 });
    await sleep(1_200);
    expect(log.entries.filter((e) => e.message.startsWith("event loop blocked"))).toEqual([]);
  });
});
