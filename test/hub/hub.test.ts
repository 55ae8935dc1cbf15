import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { AuthError } from "../../src/errors.js";
import { call, ctx, fakeChannel, heartbeat, poll, register, result, SECRETS, signed, skill, until } from "./helpers.js";
import type { ListenerContext } from "../../src/listener/types.js";

const hubs: Hub[] = [];
function makeHub(opts: ConstructorParameters<typeof Hub>[0] = {}): Hub {
  const hub = new Hub({ auth: { tokens: SECRETS }, ...opts });
  hubs.push(hub);
  return hub;
}
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

const GPU24 = { devices: [{ type: "gpu", id: "g0", model: "RTX 4090", properties: { vram_gb: 24 } }], properties: { cpu_cores: 16 } };
const GPU8 = { devices: [{ type: "gpu", id: "g0", model: "RTX 3070", properties: { vram_gb: 8 } }], properties: { cpu_cores: 8 } };
const CPU = { properties: { cpu_cores: 4 } };

describe("hub dispatch", () => {
  it("hands a task only to a worker that matches its requirements", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1", { resources: CPU });
    await register(hub, "gpu-2", { resources: GPU8 });
    await register(hub, "gpu-1", { resources: GPU24 });
    const big = await hub.submit({ type: "echo", params: { n: 1 }, requirements: { resources: { devices: [{ type: "gpu", properties: { vram_gb: 16 } }] } } });
    expect(await poll(hub, "cpu-1")).toBeNull();
    expect(await poll(hub, "gpu-2")).toBeNull();
    const task = await poll(hub, "gpu-1");
    expect(task).toMatchObject({ job_id: big.jobId, task_id: big.taskId, type: "echo", params: { n: 1 } });
    expect(big.status).toBe("running");
  });

  it("respects skill versions and unknown skills", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1", { supported_skills: [skill("echo", { version: "1.0.0" })] });
    await register(hub, "cpu-2", { supported_skills: [skill("echo", { version: "2.0.0" })] });
    await hub.submit({ type: "echo", requirements: { skillVersion: "2.0.0" } });
    expect(await poll(hub, "cpu-1")).toBeNull();
    expect(await poll(hub, "cpu-2")).not.toBeNull();
  });

  it("serves higher priority first, FIFO within a priority", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1");
    const low1 = await hub.submit({ type: "echo", params: { i: 1 } });
    const high = await hub.submit({ type: "echo", params: { i: 2 }, priority: 5 });
    const low2 = await hub.submit({ type: "echo", params: { i: 3 } });
    const order: unknown[] = [];
    for (let i = 0; i < 3; i++) order.push((await poll(hub, "cpu-1"))?.job_id);
    expect(order).toEqual([high.jobId, low1.jobId, low2.jobId]);
  });

  it("wakes a held poll when a matching task is submitted", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1");
    const pending = poll(hub, "cpu-1", { pollTimeout: 10 });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    const h = await hub.submit({ type: "echo", params: { x: 1 } });
    const task = await pending;
    expect(task?.job_id).toBe(h.jobId);
    expect((await hub.stats()).waitingPolls).toBe(0);
  });

  it("does not wake a held poll that cannot run the task", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1", { resources: CPU });
    const pending = poll(hub, "cpu-1", { pollTimeout: 0.3 });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    await hub.submit({ type: "echo", requirements: { resources: { devices: [{ type: "gpu" }] } } });
    expect(await pending).toBeNull();
    expect((await hub.stats()).queued).toBe(1);
  });

  it("gives up a held poll when the client leaves", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1");
    const ac = new AbortController();
    const pending = poll(hub, "cpu-1", { pollTimeout: 30, signal: ac.signal });
    await until(async () => (await hub.stats()).waitingPolls === 1);
    ac.abort();
    expect(await pending).toBeNull();
    expect((await hub.stats()).waitingPolls).toBe(0);
  });

  it("refuses at submit params that no known contract accepts", async () => {
    const hub = makeHub();
    const strict = skill("resize", {
      input_schema: { type: "object", properties: { width: { type: "integer", minimum: 1 } }, required: ["width"] },
    });
    await register(hub, "cpu-1", { supported_skills: [strict] });
    const bad = await hub.submit({ type: "resize", params: { width: "wide" } });
    const outcome = await bad.result();
    expect(outcome.status).toBe("failure");
    expect(outcome.error?.code).toBe("INVALID_INPUT_ERROR");
    const good = await hub.submit({ type: "resize", params: { width: 4 } });
    expect((await poll(hub, "cpu-1"))?.job_id).toBe(good.jobId);
    expect((await hub.stats()).rejected).toBe(1);
  });

  it("checks a contract that appeared since its last look before refusing params", async () => {
    const hub = makeHub();
    const strict = skill("resize", { input_schema: { type: "object", properties: { width: { type: "integer" } }, required: ["width"] } });
    await register(hub, "cpu-1", { supported_skills: [strict] });
    // Refused, and the skill's contracts are now remembered by the hub for a while.
    expect((await (await hub.submit({ type: "resize", params: { width: "wide" } })).result()).error?.code).toBe("INVALID_INPUT_ERROR");
    const loose = skill("resize", { input_schema: { type: "object", properties: { width: { type: "string" } }, required: ["width"] } });
    await register(hub, "cpu-2", { supported_skills: [loose] });
    // The remembered list refuses it; the fresh one holds cpu-2's contract, which takes it.
    const h = await hub.submit({ type: "resize", params: { width: "wide" } });
    expect(h.status).toBe("waiting_for_worker");
    expect(await poll(hub, "cpu-1")).toBeNull();
    expect((await poll(hub, "cpu-2"))?.job_id).toBe(h.jobId);
    expect((await hub.stats()).rejected).toBe(1);
  });
});

describe("hub results", () => {
  it("accepts a result once, answers its re-sends as the first time, and ignores foreign, stale and unknown results", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1");
    await register(hub, "cpu-2");
    const h = await hub.submit({ type: "echo", params: { v: 7 } });
    const task = (await poll(hub, "cpu-1"))!;
    const ids = { job_id: task.job_id, task_id: task.task_id };
    expect(await result(hub, "cpu-2", { ...ids, data: { v: 7 } }, { at: Date.now() - 3000 })).toMatchObject({ status: "ignored", reason: "worker_mismatch" });
    expect(await result(hub, "cpu-1", { ...ids, data: { v: 7 } })).toEqual({ status: "accepted", transition: "success_transition" });
    // The same result re-sent after its answer was lost (re-signed later, or byte for byte): answered as the first time.
    expect(await result(hub, "cpu-1", { ...ids, data: { v: 7 } }, { at: Date.now() + 2000 })).toEqual({ status: "accepted", transition: "success_transition" });
    const raw = signed("cpu-1", { worker_id: "cpu-1", ...ids, status: "success", data: { v: 7 } }, { at: Date.now() + 3000 });
    expect(await result(hub, "cpu-1", {}, { raw })).toEqual({ status: "accepted", transition: "success_transition" });
    expect(await result(hub, "cpu-1", {}, { raw })).toEqual({ status: "accepted", transition: "success_transition" });
    // A different result for the ended task is not a re-send.
    expect(await result(hub, "cpu-1", { ...ids, data: { v: 8 } }, { at: Date.now() + 4000 })).toMatchObject({ status: "ignored", reason: "job_already_terminated" });
    expect(await result(hub, "cpu-1", { job_id: "job-nope", task_id: "t" })).toMatchObject({ status: "ignored", reason: "job_not_found" });
    expect(await result(hub, "cpu-1", { job_id: task.job_id, task_id: "task-old" })).toMatchObject({ status: "ignored", reason: "stale_task" });
    const outcome = await h.result();
    expect(outcome).toMatchObject({ status: "success", data: { v: 7 }, workerId: "cpu-1", attempts: 1 });
  });

  it("turns output that breaks the skill's output_schema into CONTRACT_VIOLATION_ERROR", async () => {
    const hub = makeHub();
    const s = skill("echo", { output_schema: { type: "object", properties: { v: { type: "number" } }, required: ["v"] } });
    await register(hub, "cpu-1", { supported_skills: [s] });
    const h = await hub.submit({ type: "echo" });
    const task = (await poll(hub, "cpu-1"))!;
    const answer = await result(hub, "cpu-1", { job_id: task.job_id, task_id: task.task_id, data: { v: "seven" } });
    expect(answer).toEqual({ status: "accepted", transition: "failure_handled" });
    const outcome = await h.result();
    expect(outcome.status).toBe("failure");
    expect(outcome.error?.code).toBe("CONTRACT_VIOLATION_ERROR");
  });

  it("retries transient failures with a new task id and ends permanent ones", async () => {
    const hub = makeHub({ maxRetries: 1 });
    await register(hub, "cpu-1");
    const h = await hub.submit({ type: "echo" });
    const t1 = (await poll(hub, "cpu-1"))!;
    await result(hub, "cpu-1", { job_id: t1.job_id, task_id: t1.task_id, status: "failure", error: { code: "TRANSIENT_ERROR", message: "flaky" } });
    const t2 = (await poll(hub, "cpu-1"))!;
    expect(t2.job_id).toBe(t1.job_id);
    expect(t2.task_id).not.toBe(t1.task_id);
    // The first attempt's late duplicate is stale now.
    expect(await result(hub, "cpu-1", { job_id: t1.job_id, task_id: t1.task_id }, { at: Date.now() + 2000 })).toMatchObject({ reason: "stale_task" });
    await result(hub, "cpu-1", { job_id: t2.job_id, task_id: t2.task_id, status: "failure", error: { code: "TRANSIENT_ERROR", message: "again" } });
    const outcome = await h.result();
    expect(outcome).toMatchObject({ status: "failure", attempts: 2, error: { code: "TRANSIENT_ERROR" } });

    const p = await hub.submit({ type: "echo" });
    const t3 = (await poll(hub, "cpu-1"))!;
    await result(hub, "cpu-1", { job_id: t3.job_id, task_id: t3.task_id, status: "failure", error: { code: "PERMANENT_ERROR", message: "no" } });
    expect(await p.result()).toMatchObject({ status: "failure", attempts: 1, error: { code: "PERMANENT_ERROR" } });
  });

  it("fails tasks past their deadline and answers late results deadline_exceeded", async () => {
    let now = Date.now();
    const hub = makeHub({ now: () => now });
    await register(hub, "cpu-1");
    const h = await hub.submit({ type: "echo", timeoutMs: 1000 });
    const task = (await poll(hub, "cpu-1"))!;
    expect(task.deadline).toBeCloseTo((now + 1000) / 1000, 3);
    now += 2000;
    await hub.sweep();
    expect(await h.result()).toMatchObject({ status: "failure", error: { code: "TIMEOUT_ERROR" } });
    const late = await result(hub, "cpu-1", { job_id: task.job_id, task_id: task.task_id }, { raw: undefined });
    expect(late).toMatchObject({ status: "ignored", reason: "deadline_exceeded" });
  });
});

describe("hub leases and heartbeats", () => {
  it("re-queues the task of a worker that stops heartbeating, and the other worker finishes it", async () => {
    let now = Date.now();
    const hub = makeHub({ now: () => now, workerTtlMs: 1000, sweepIntervalMs: 60_000 });
    await register(hub, "cpu-1");
    await register(hub, "cpu-2");
    const h = await hub.submit({ type: "echo" });
    const t1 = (await poll(hub, "cpu-1"))!;
    now += 600;
    await heartbeat(hub, "cpu-2", {});
    now += 600;
    await hub.sweep();
    expect(h.status).toBe("waiting_for_worker");
    const t2 = (await poll(hub, "cpu-2"))!;
    expect(t2.job_id).toBe(t1.job_id);
    expect(await result(hub, "cpu-2", { job_id: t2.job_id, task_id: t2.task_id, data: { ok: true } })).toMatchObject({ status: "accepted" });
    expect(await h.result()).toMatchObject({ status: "success", workerId: "cpu-2", attempts: 2 });
    // The lost worker comes back: told to register again (404 "Worker not found"); its old result is stale.
    await expect(heartbeat(hub, "cpu-1", {})).rejects.toMatchObject({ status: 404, message: expect.stringContaining("Worker not found") });
    expect(await result(hub, "cpu-1", { job_id: t1.job_id, task_id: t1.task_id })).toMatchObject({ status: "ignored", reason: "stale_task" });
  });

  it("answers heartbeats: unknown worker, empty body, skills hash changes", async () => {
    const hub = makeHub();
    // Unknown: 404 with "not found" in the text, on which every worker SDK registers again.
    await expect(heartbeat(hub, "cpu-1", {})).rejects.toMatchObject({ status: 404, message: expect.stringContaining("Worker not found") });
    await expect(heartbeat(hub, "cpu-1", null)).rejects.toMatchObject({ status: 404 });
    await register(hub, "cpu-1", { skills_hash: "h1" });
    expect(await heartbeat(hub, "cpu-1", null)).toEqual({ status: "ttl_refreshed" });
    expect(await heartbeat(hub, "cpu-1", { skills_hash: "h1" })).toEqual({ status: "ok" });
    expect(await heartbeat(hub, "cpu-1", { skills_hash: "h2" })).toEqual({ status: "ok", require_full_sync: true });
    expect(await heartbeat(hub, "cpu-1", { skills_hash: "h2", supported_skills: [skill("echo")] })).toEqual({ status: "ok" });
    // A worker without skills, registered with the hash of its empty catalogue, is not asked for it again.
    await register(hub, "gpu-1", { skills_hash: "h-empty", supported_skills: [] });
    expect(await heartbeat(hub, "gpu-1", { skills_hash: "h-empty" })).toEqual({ status: "ok" });
    // One registered without a hash is asked for its catalogue, as before.
    await register(hub, "gpu-2", { supported_skills: [] });
    expect(await heartbeat(hub, "gpu-2", { skills_hash: "h-empty" })).toEqual({ status: "ok", require_full_sync: true });
  });

  it("stops dispatching to a draining worker", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1");
    await heartbeat(hub, "cpu-1", { status: "draining" });
    await hub.submit({ type: "echo" });
    expect(await poll(hub, "cpu-1")).toBeNull();
    await heartbeat(hub, "cpu-1", { status: "idle" });
    expect(await poll(hub, "cpu-1")).not.toBeNull();
  });
});

describe("hub cancellation", () => {
  it("ends a queued task at once", async () => {
    const hub = makeHub();
    const h = await hub.submit({ type: "echo" });
    await h.cancel();
    expect(await h.result()).toMatchObject({ status: "cancelled", attempts: 0 });
  });

  it("pushes cancel_task over the WebSocket and in the next heartbeat, then accepts the cancelled result", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1");
    const channel = fakeChannel("cpu-1");
    const wsDone = (hub.handler as (a: string, p: unknown, c: ListenerContext) => Promise<unknown>)("websocket", channel, ctx("cpu-1", null));
    const h = await hub.submit({ type: "echo" });
    const task = (await poll(hub, "cpu-1"))!;
    await h.cancel();
    expect(channel.sent).toEqual([{ command: "cancel_task", task_id: task.task_id, job_id: task.job_id }]);
    expect(await heartbeat(hub, "cpu-1", { current_tasks: [task.task_id] })).toEqual({ status: "ok", cancel_task_ids: [task.task_id] });
    expect(h.status).toBe("running");
    expect(await result(hub, "cpu-1", { job_id: task.job_id, task_id: task.task_id, status: "cancelled" })).toEqual({
      status: "accepted",
      transition: "cancelled_handled",
    });
    expect(await h.result()).toMatchObject({ status: "cancelled", workerId: "cpu-1" });
    channel.end();
    await wsDone;
  });
});

describe("hub zero trust", () => {
  it("refuses a bad token, another worker's token and a sender mismatch", async () => {
    const hub = makeHub();
    const refused: string[] = [];
    hub.on("message:refused", (e) => refused.push(e.reason));
    await expect(register(hub, "cpu-1", {}, { token: "wrong" })).rejects.toBeInstanceOf(AuthError);
    await expect(register(hub, "cpu-1", {}, { token: null })).rejects.toMatchObject({ status: 403 });
    await expect(register(hub, "cpu-1", {}, { token: SECRETS["cpu-2"]! })).rejects.toMatchObject({ status: 403 });
    await register(hub, "cpu-1");
    await expect(poll(hub, "cpu-1", { token: "nope" })).rejects.toMatchObject({ status: 403 });
    expect(refused).toEqual(["bad_token", "missing_token", "bad_token", "bad_token"]);
  });

  it("refuses unsigned, wrongly signed and replayed messages and logs them", async () => {
    const logged: unknown[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (f: unknown) => logged.push(f) };
    const hub = makeHub({ logger });
    await expect(register(hub, "cpu-1", {}, { sign: false })).rejects.toMatchObject({ status: 403 });
    await expect(register(hub, "cpu-1", {}, { sign: "not-the-secret" })).rejects.toMatchObject({ status: 403, details: { reason: "bad_signature" } });
    const raw = signed("cpu-1", { worker_id: "cpu-1", supported_skills: [skill("echo")] });
    await register(hub, "cpu-1", {}, { raw });
    // A registration sent twice (its answer lost) is answered as the first one.
    expect(await register(hub, "cpu-1", {}, { raw })).toMatchObject({ status: "registered" });
    // An event is not idempotent: the same signed event again is a replay.
    const event = signed("cpu-1", { event_id: "ev-1", worker_id: "cpu-1", origin_worker_id: "cpu-1", event_type: "progress", payload: { progress: 0.5 } });
    await call(hub, "event", "WorkerEventPayload", "cpu-1", null, { raw: event });
    await expect(call(hub, "event", "WorkerEventPayload", "cpu-1", null, { raw: event })).rejects.toMatchObject({ status: 403, details: { reason: "replay" } });
    expect(logged).toHaveLength(3);
    expect((await hub.stats()).refused).toBe(3);
  });

  it("issues STS tokens usable as X-Worker-Token and rotates refresh tokens", async () => {
    const hub = makeHub();
    await register(hub, "cpu-1");
    const h = hub.handler as (a: string, p: unknown, c: ListenerContext) => Promise<unknown>;
    const tokens = (await h("sts_token", null, ctx("cpu-1", null))) as { access_token: string; refresh_token: string; expires_in: number };
    expect(tokens.expires_in).toBe(3600);
    expect(await heartbeat(hub, "cpu-1", null, { token: tokens.access_token })).toEqual({ status: "ttl_refreshed" });
    await expect(heartbeat(hub, "cpu-2", null, { token: tokens.access_token })).rejects.toMatchObject({ status: 403 });
    // An access token cannot sign: messages are still signed with the long-term secret.
    const next = (await h("sts_refresh", { refresh_token: tokens.refresh_token }, ctx("cpu-1", null))) as { refresh_token: string };
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    await expect(h("sts_refresh", { refresh_token: tokens.refresh_token }, ctx("cpu-1", null))).rejects.toMatchObject({ status: 403 });
    await expect(h("sts_refresh", { refresh_token: next.refresh_token }, ctx("cpu-2", null))).rejects.toMatchObject({ status: 403 });
  });

  it("runs open (no credentials) without signatures", async () => {
    const hub = new Hub();
    hubs.push(hub);
    expect(hub.insecure).toBe(true);
    await call(hub, "register", "WorkerRegistration", "dev-1", { worker_id: "dev-1", supported_skills: [skill("echo")] }, { token: null, sign: false });
    await hub.submit({ type: "echo" });
    expect(await poll(hub, "dev-1", { token: null })).not.toBeNull();
  });
});
