/**
 * What gets in: only values the wire can carry (400 with a JSON pointer otherwise), one job per
 * idempotency key, nothing past the queue limits (429 with Retry-After), and each client sees and
 * cancels only its own jobs unless its token is an admin's.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Hub, type HubServer } from "../../src/hub/index.js";
import { RateLimitError, ValidationError } from "../../src/errors.js";
import { api } from "./client-http.js";
import { poll, register, result, SECRETS } from "./helpers.js";

const CLIENT = "client-token-aaaaaaaaaaaa";
const OTHER = "client-token-bbbbbbbbbbbb";
const ADMIN = "admin-token-cccccccccccc";

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

async function serve(options: ConstructorParameters<typeof Hub>[0] = {}): Promise<{ hub: Hub; server: HubServer }> {
  const hub = new Hub({ auth: { tokens: SECRETS }, clientTokens: [CLIENT, OTHER, { token: ADMIN, scope: "admin" }], ...options });
  hubs.push(hub);
  return { hub, server: await hub.listen({ port: 0 }) };
}

describe("sendable values only", () => {
  it("refuses params and metadata the canonical wire form cannot carry, with a JSON pointer", async () => {
    const { hub, server } = await serve();
    for (const [raw, pointer] of [
      ['{"type":"echo","params":{"big":1e21}}', "/params/big"],
      ['{"type":"echo","params":{"x":[1,1e308]}}', "/params/x/1"],
      ['{"type":"echo","params":{"n":18446744073709551616}}', "/params/n"],
      ['{"type":"echo","params":{"s":"\\ud800"}}', "/params/s"],
      ['{"type":"echo","metadata":{"m":{"deep":1e300}}}', "/metadata/m/deep"],
    ] as const) {
      const a = await api(server.url, "POST", "/_client/tasks", { raw }, CLIENT);
      expect(a.status, raw).toBe(400);
      expect((a.body!.errors as { path: string }[]).map((e) => e.path), raw).toContain(pointer);
    }
    await expect(hub.submit({ type: "echo", params: { big: 1e21 } })).rejects.toBeInstanceOf(ValidationError);
    await expect(hub.submit({ type: "echo", params: { s: "\ud800" } })).rejects.toMatchObject({ errors: [{ path: "/params/s" }] });
    expect(await hub.store.queueLength()).toBe(0);
  });

  it("refuses to the worker a result that clients could not be shown, and the job stays readable", async () => {
    // An open hub (no signatures), so that the worker's result reaches the hub as sent.
    const { hub, server } = await serve({ auth: {} });
    await register(hub, "cpu-1", {}, { sign: false, token: null });
    const submitted = await api(server.url, "POST", "/_client/tasks", { body: { type: "echo" } }, CLIENT);
    const task = (await poll(hub, "cpu-1", { token: null }))!;
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 99; i++) deep = { d: deep };
    for (const data of [deep, { s: "\ud800" }, { n: 1e21 }]) {
      await expect(result(hub, "cpu-1", { job_id: task.job_id, task_id: task.task_id, data }, { sign: false, token: null })).rejects.toMatchObject({ status: 400, details: { reason: "unsendable_result" } });
    }
    const view = await api(server.url, "GET", `/_client/tasks/${submitted.body!.job_id as string}`, {}, CLIENT);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ status: "running" });
    // The worker can still report a proper result.
    expect(await result(hub, "cpu-1", { job_id: task.job_id, task_id: task.task_id, data: { ok: true } }, { sign: false, token: null })).toMatchObject({ status: "accepted" });
    const done = await api(server.url, "GET", `/_client/tasks/${submitted.body!.job_id as string}`, {}, CLIENT);
    expect(done.body).toMatchObject({ status: "finished", outcome: { data: { ok: true } } });
  });
});

describe("idempotent submission", () => {
  it("answers a retried submission with the job the first one created", async () => {
    const { hub, server } = await serve();
    const headers = { "Idempotency-Key": "order-42" };
    const first = await api(server.url, "POST", "/_client/tasks", { body: { type: "echo", params: { n: 1 } }, headers }, CLIENT);
    const again = await api(server.url, "POST", "/_client/tasks", { body: { type: "echo", params: { n: 1 } }, headers }, CLIENT);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body!.job_id).toBe(first.body!.job_id);
    expect(await hub.store.queueLength()).toBe(1);
    // Keys are per client: another client's same key is another job.
    const other = await api(server.url, "POST", "/_client/tasks", { body: { type: "echo" }, headers }, OTHER);
    expect(other.body!.job_id).not.toBe(first.body!.job_id);
    const a = await hub.submit({ type: "echo", idempotencyKey: "k1" });
    const b = await hub.submit({ type: "echo", idempotencyKey: "k1" });
    expect(b.jobId).toBe(a.jobId);
    expect(await hub.store.queueLength()).toBe(3);
  });

  it("refuses with 422 a key used again for a different task, and takes a retry whose deadline moved", async () => {
    const { hub, server } = await serve();
    const headers = { "Idempotency-Key": "order-43" };
    const body = { type: "echo", params: { n: 1 }, priority: 2, timeoutMs: 60_000, metadata: { ref: "a" } };
    const first = await api(server.url, "POST", "/_client/tasks", { body, headers }, CLIENT);
    expect(first.status).toBe(202);
    // The same task asked again later: its timeout gives another deadline, the job is the same.
    const retry = await api(server.url, "POST", "/_client/tasks", { body: { ...body, timeoutMs: 60_000 }, headers }, CLIENT);
    expect(retry.body!.job_id).toBe(first.body!.job_id);
    for (const changed of [{ params: { n: 2 } }, { type: "other" }, { priority: 3 }, { metadata: { ref: "b" } }, { requirements: { extra: { x: 1 } } }, { maxRetries: 0 }]) {
      const refused = await api(server.url, "POST", "/_client/tasks", { body: { ...body, ...changed }, headers }, CLIENT);
      expect(refused.status, JSON.stringify(changed)).toBe(422);
      expect(refused.body).toMatchObject({ error: "Idempotency-Key was already used for a different task", code: "INVALID_INPUT_ERROR" });
    }
    expect(await hub.store.queueLength()).toBe(1);
    await hub.submit({ type: "echo", params: { n: 1 }, idempotencyKey: "k2" });
    const err = await hub.submit({ type: "echo", params: { n: 2 }, idempotencyKey: "k2" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 422, details: { reason: "idempotency_key_reused" } });
  });
});

describe("back-pressure", () => {
  it("refuses submissions past the queue limits with 429 and Retry-After", async () => {
    const { hub, server } = await serve({ queueLimits: { total: 5, perSkill: 3, perOwner: 4 } });
    for (let i = 0; i < 3; i++) expect((await api(server.url, "POST", "/_client/tasks", { body: { type: "a" } }, CLIENT)).status).toBe(202);
    const perSkill = await api(server.url, "POST", "/_client/tasks", { body: { type: "a" } }, CLIENT);
    expect(perSkill.status).toBe(429);
    expect(Number(perSkill.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect((await api(server.url, "POST", "/_client/tasks", { body: { type: "b" } }, CLIENT)).status).toBe(202);
    const perOwner = await api(server.url, "POST", "/_client/tasks", { body: { type: "c" } }, CLIENT);
    expect(perOwner.status).toBe(429);
    expect((await api(server.url, "POST", "/_client/tasks", { body: { type: "c" } }, OTHER)).status).toBe(202);
    const total = await api(server.url, "POST", "/_client/tasks", { body: { type: "d" } }, OTHER);
    expect(total.status).toBe(429);
    await expect(hub.submit({ type: "e" })).rejects.toBeInstanceOf(RateLimitError);
    expect((await hub.stats()).throttled).toBe(4);
    // A dispatched task frees a place.
    await register(hub, "cpu-1", { supported_skills: [{ name: "a", version: "1.0.0" }] });
    expect(await poll(hub, "cpu-1")).not.toBeNull();
    expect((await api(server.url, "POST", "/_client/tasks", { body: { type: "a" } }, OTHER)).status).toBe(202);
  });

  it("refuses a submission that would open more than 256 requirement classes of one skill, by default", async () => {
    const { hub, server } = await serve();
    const submit = (c: number): ReturnType<typeof api> => api(server.url, "POST", "/_client/tasks", { body: { type: "a", requirements: { extra: { c } } } }, CLIENT);
    for (let c = 0; c < 256; c++) expect((await submit(c)).status).toBe(202);
    const refused = await submit(256);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: "Queue full: at most 256 distinct requirement classes may have tasks waiting for skill 'a'", code: "LIMIT_EXCEEDED_ERROR" });
    // A class that exists still takes tasks.
    expect((await submit(7)).status).toBe(202);
    const err = await hub.submit({ type: "a", requirements: { extra: { c: 999 } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ details: { reason: "queue_full", scope: "classes" } });
  });
});

describe("client token scopes", () => {
  it("lets a client see and cancel only its own jobs; an admin token sees and cancels all", async () => {
    const { server } = await serve();
    const mine = await api(server.url, "POST", "/_client/tasks", { body: { type: "echo" } }, CLIENT);
    const path = `/_client/tasks/${mine.body!.job_id as string}`;
    expect((await api(server.url, "GET", path, {}, CLIENT)).status).toBe(200);
    expect((await api(server.url, "GET", path, {}, OTHER)).status).toBe(404);
    expect((await api(server.url, "DELETE", path, {}, OTHER)).status).toBe(404);
    expect((await api(server.url, "GET", path, {}, CLIENT)).body).toMatchObject({ status: "waiting_for_worker" });
    expect((await api(server.url, "GET", path, {}, ADMIN)).status).toBe(200);
    const cancelled = await api(server.url, "DELETE", path, {}, ADMIN);
    expect(cancelled.body).toMatchObject({ status: "cancelled" });
  });
});
