import { afterEach, describe, expect, it } from "vitest";
import type { Heartbeat } from "../../generated/types.js";
import { AuthError, NetworkError, ProtocolError, RateLimitError, ValidationError } from "../../src/errors.js";
import { MockTransport } from "../../src/testing/index.js";
import { hashPayload } from "../../src/wire/canonical.js";
import { Worker } from "../../src/worker/index.js";
import { add, gate, recordingClock, setup, task } from "./helpers.js";

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 0 })));
});
function track<T extends { worker: Worker }>(value: T): T {
  workers.push(value.worker);
  return value;
}

describe("registration", () => {
  it("registers with the full catalogue, then heartbeats with usage and only the hash", async () => {
    const { worker, mock } = track(
      setup({
        workerType: "cpu",
        resources: { devices: [{ type: "gpu", id: "gpu0" }] },
        usage: () => ({ devices_usage: [{ unit_id: "gpu0", load_percent: 150, metrics: { memory_used_gb: 3 } }] }),
      }),
    );
    await worker.start();
    expect(worker.state).toBe("running");
    const reg = mock.registrations[0]!;
    expect(reg.worker_id).toBe(worker.workerId);
    expect(reg.worker_type).toBe("cpu");
    expect(reg.supported_skills).toEqual([add.info]);
    expect(reg.skills_hash).toBe(hashPayload([add.info]));
    expect(reg.resources).toEqual({ devices: [{ type: "gpu", id: "gpu0" }] });
    expect(typeof reg.capabilities?.hostname).toBe("string");

    await mock.waitFor((m) => m.heartbeats.length >= 3);
    const [first, second] = mock.heartbeats as Heartbeat[];
    expect(first!.supported_skills).toEqual([add.info]);
    expect(second!.supported_skills).toBeUndefined();
    for (const hb of [first!, second!]) {
      expect(hb.status).toBe("idle");
      expect(hb.skills_hash).toBe(worker.catalogueHash);
      expect(hb.available_skills).toEqual(["add"]);
      expect(hb.current_tasks).toEqual([]);
      expect(hb.usage!.cpu_load_percent).toBeGreaterThanOrEqual(0);
      expect(hb.usage!.cpu_load_percent).toBeLessThanOrEqual(100);
      expect(hb.usage!.ram_used_gb).toBeGreaterThan(0);
      expect(hb.usage!.devices_usage).toEqual([{ unit_id: "gpu0", load_percent: 100, metrics: { memory_used_gb: 3 } }]);
      expect(typeof hb.timestamp).toBe("number");
    }
  });

  it("retries registration with doubling backoff, and waits after 429s that grow from the hint (at least 1 s)", async () => {
    const clock = recordingClock();
    const { worker, mock } = track(setup({ clock }));
    mock.failNext("register", new NetworkError("connection refused"));
    mock.failNext("register", new NetworkError("connection refused"));
    mock.failNext("register", new ProtocolError("HTTP 503: starting", { status: 503 }));
    mock.failNext("register", new RateLimitError("slow down", 0));
    mock.failNext("register", new RateLimitError("slow down", 7_000));
    mock.failNext("register", new AuthError("bad token"));
    const registered: number[] = [];
    worker.on("registered", ({ count }) => registered.push(count));
    await worker.start();
    expect(mock.registrations).toHaveLength(1);
    expect(registered).toEqual([1]);
    const waits = clock.waits.slice(0, 6);
    // Equal jitter: between half and all of 1 s, 2 s, 4 s.
    const nominal = [1_000, 2_000, 4_000];
    nominal.forEach((n, i) => {
      expect(waits[i]).toBeGreaterThanOrEqual(n * 0.5);
      expect(waits[i]).toBeLessThanOrEqual(n);
    });
    // Retry-After 0 counts as 1 s; the next 429 in a row waits the longer of twice that and its 7 s
    // hint (jitter only adds, up to 25%).
    expect(waits[3]).toBeGreaterThanOrEqual(990);
    expect(waits[3]).toBeLessThanOrEqual(1_250);
    expect(waits[4]).toBeGreaterThanOrEqual(6_990);
    expect(waits[4]).toBeLessThanOrEqual(8_750);
    expect(waits[5]).toBeGreaterThanOrEqual(4_000);
    expect(waits[5]).toBeLessThanOrEqual(8_000);
  });

  it("stop() ends a registration that never succeeds", async () => {
    const clock = recordingClock(0.01);
    const { worker, mock } = setup({ clock });
    for (let i = 0; i < 1_000; i++) mock.failNext("register", new NetworkError("down"));
    const started = worker.start();
    await mock.waitFor(() => clock.waits.length >= 3);
    await worker.stop();
    await started;
    expect(worker.state).toBe("stopped");
    expect(mock.heartbeats).toHaveLength(0);
    // Every wait was bounded by the 60 s cap.
    expect(Math.max(...clock.waits)).toBeLessThanOrEqual(60_000);
  });

  it("heartbeats go on when the usage provider throws or hangs", async () => {
    let calls = 0;
    const { worker, mock } = track(
      setup({
        usage: () => {
          calls++;
          if (calls === 1) throw new Error("nvml gone");
          return new Promise(() => {}); // never settles: skipped after 1 s
        },
      }),
    );
    const states: string[] = [];
    worker.on("state", ({ state }) => states.push(state));
    await worker.start();
    await mock.waitFor((m) => m.heartbeats.length >= 2, { timeoutMs: 10_000 });
    const [first, second] = mock.heartbeats as Heartbeat[];
    expect(first!.usage!.devices_usage).toBeUndefined();
    expect(second!.usage!.cpu_load_percent).toBeGreaterThanOrEqual(0);
    expect(states).toEqual(["starting", "running"]);
  });

  it("refuses bad options at construction", () => {
    const transport = new MockTransport({ workerId: "ok" });
    expect(() => new Worker({ workerId: "bad id", transport, skills: [add] })).toThrow(ValidationError);
    expect(() => new Worker({ workerId: "ok", transport, skills: [add, add] })).toThrow(/Duplicate skill/);
    expect(() => new Worker({ workerId: "ok", transport, skills: [add], concurrency: 0 })).toThrow(ValidationError);
    expect(() => new Worker({ workerId: "other", transport, skills: [add] })).toThrow(/transport speaks for/);
    expect(() => new Worker({ workerId: "ok", skills: [add] })).toThrow(/url/);
    expect(() => new Worker({ workerId: "ok", url: "ftp://x", token: "t", skills: [add] })).toThrow(/Unsupported transport scheme/);
    expect(() => new Worker({ workerId: "ok", transport, skills: [add], heartbeatCooldownMs: Number.NaN })).toThrow(/heartbeatCooldownMs/);
    expect(() => new Worker({ workerId: "ok", transport, skills: [add], authFailureLimit: 0 })).toThrow(/authFailureLimit/);
    expect(() => new Worker({ workerId: "ok", transport, skills: [add], orchestratorKey: "" })).toThrow(/orchestratorKey/);
    expect(new Worker({ workerId: "ok", transport, skills: [add], heartbeatCooldownMs: 0 }).state).toBe("new");
  });
});

describe("heartbeat replies", () => {
  it("require_full_sync makes the worker register again and resend the catalogue", async () => {
    let answered = 0;
    const { worker, mock } = track(
      setup({}, {
        heartbeatResponse: () => (++answered === 2 ? { status: "ok", require_full_sync: true } : { status: "ok" }),
      }),
    );
    await worker.start();
    await mock.waitFor((m) => m.registrations.length === 2 && m.heartbeats.length >= 4);
    const beats = mock.heartbeats as Heartbeat[];
    expect(beats[0]!.supported_skills).toBeDefined();
    expect(beats[1]!.supported_skills).toBeUndefined();
    // The first heartbeat after the re-registration carries the full catalogue again.
    expect(beats[2]!.supported_skills).toEqual([add.info]);
    expect(beats[3]!.supported_skills).toBeUndefined();
    expect(worker.stats.registrations).toBe(2);
  });

  it("a null reply or an auth error makes the worker register again", async () => {
    let answered = 0;
    const { worker, mock } = track(setup({}, { heartbeatResponse: () => (++answered === 1 ? null : { status: "ok" }) }));
    await worker.start();
    await mock.waitFor((m) => m.registrations.length === 2);
    mock.failNext("heartbeat", new ProtocolError("HTTP 404: worker not found", { status: 404 }));
    await mock.waitFor((m) => m.registrations.length === 3);
    mock.failNext("heartbeat", new AuthError("Unauthorized"));
    await mock.waitFor((m) => m.registrations.length === 4);
  });

  it("an orchestrator that always asks for a full sync is not hammered", async () => {
    const clock = recordingClock(0.001);
    const { worker, mock } = track(setup({ clock }, { heartbeatResponse: { status: "ok", require_full_sync: true } }));
    await worker.start();
    await mock.waitFor((m) => m.registrations.length >= 5);
    // Re-registrations in a row wait 1 s, 2 s, 4 s... (jittered) in between.
    const long = clock.waits.filter((w) => w >= 800);
    expect(long.length).toBeGreaterThanOrEqual(3);
  });

  it("a load change sends a heartbeat at once; further changes within the cooldown make no more", async () => {
    const release = gate();
    const { worker, mock } = track(setup({ heartbeatIntervalMs: 600_000, heartbeatCooldownMs: 600_000, skills: [add, slow(release)] }));
    await worker.start();
    await mock.waitFor((m) => m.heartbeats.length === 1);
    mock.pushTask(task("slow"));
    // The task start is reported at once, as `full`.
    await mock.waitFor((m) => m.heartbeats.length === 2);
    expect((mock.heartbeats[1] as Heartbeat).status).toBe("full");
    release.open();
    for (let i = 0; i < 10; i++) mock.pushTask(task("add", { a: i, b: 1 }));
    await mock.waitFor((m) => m.results.length === 11);
    expect(mock.heartbeats).toHaveLength(2);
  });

  it("backs off on heartbeat errors instead of spinning", async () => {
    const clock = recordingClock(0.001);
    const { worker, mock } = track(setup({ clock, heartbeatIntervalMs: 60_000 }));
    for (let i = 0; i < 4; i++) mock.failNext("heartbeat", new NetworkError("reset"));
    mock.failNext("heartbeat", new RateLimitError("slow", 0));
    await worker.start();
    await mock.waitFor((m) => m.heartbeats.length >= 1);
    const waits = clock.waits.filter((w) => w !== 60_000);
    // Equal jitter of the 1 s first delay: never under half of it.
    expect(waits.slice(0, 4).every((w) => w >= 500)).toBe(true);
    // Retry-After 0 is waited as at least 1 s.
    expect(waits[4]).toBeGreaterThanOrEqual(990);
  });
});

describe("drain and stop", () => {
  it("drain() reports draining at once, finishes the running task and takes no more", async () => {
    const release = gate();
    const { worker, mock } = track(setup({ heartbeatIntervalMs: 60_000, skills: [slow(release)] }));
    await worker.start();
    mock.pushTask(task("slow"));
    await mock.waitFor(() => worker.stats.inFlight === 1);
    const beatsBefore = mock.heartbeats.length;
    const drained = worker.drain();
    await mock.waitFor((m) => m.heartbeats.length > beatsBefore);
    expect((mock.heartbeats.at(-1) as Heartbeat).status).toBe("draining");
    expect(worker.state).toBe("draining");
    mock.pushTask(task("slow"));
    release.open();
    await drained;
    expect(mock.results).toHaveLength(1);
    expect(mock.results[0]!.status).toBe("success");
    expect(mock.queuedTasks).toBe(1);
    expect(worker.stats.inFlight).toBe(0);
  });

  it("a worker drained before start registers, says draining and takes no work", async () => {
    const { worker, mock } = track(setup());
    await worker.drain();
    mock.pushTask(task("add", { a: 1, b: 1 }));
    await worker.start();
    await mock.waitFor((m) => m.heartbeats.length >= 2);
    expect(mock.heartbeats.every((hb) => hb?.status === "draining")).toBe(true);
    expect(mock.queuedTasks).toBe(1);
    expect(mock.polls).toHaveLength(0);
    expect(worker.state).toBe("draining");
  });

  it("stop() aborts running tasks after the grace period, reports them as transient failures (re-queued, not cancelled), says offline and closes", async () => {
    let seen: unknown;
    const { worker, mock } = setup({
      skills: [
        stuck((reason) => {
          seen = reason;
        }),
      ],
    });
    await worker.start();
    mock.pushTask(task("stuck"));
    await mock.waitFor(() => worker.stats.inFlight === 1);
    await worker.stop({ graceMs: 20 });
    expect(worker.state).toBe("stopped");
    expect(seen).toBeInstanceOf(DOMException);
    expect(mock.results).toHaveLength(1);
    expect(mock.results[0]!.status).toBe("failure");
    expect((mock.results[0]!.error as { code: string }).code).toBe("TRANSIENT_ERROR");
    expect((mock.heartbeats.at(-1) as Heartbeat).status).toBe("offline");
    expect(mock.connected).toBe(false);
    expect(worker.stats).toMatchObject({ failed: 1, cancelled: 0, inFlight: 0 });
    await expect(worker.start()).rejects.toThrow(/stopped/);
  });

  it("leaves no timers behind", async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const { worker, mock } = setup({ usage: () => ({}) });
    await worker.start();
    mock.pushTask(task("add", { a: 1, b: 2 }, { deadline: Date.now() / 1000 + 3600 }));
    await mock.waitFor((m) => m.results.length === 1 && m.heartbeats.length >= 2);
    await worker.stop();
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";

function slow(release: { promise: Promise<void> }) {
  return defineSkill({
    name: "slow",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: async () => {
      await release.promise;
      return {};
    },
  });
}

function stuck(onAbort: (reason: unknown) => void) {
  return defineSkill({
    name: "stuck",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: (_p, ctx) =>
      new Promise<Record<string, never>>((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          onAbort(ctx.signal.reason);
          reject(ctx.signal.reason);
        });
      }),
  });
}
