/**
 * `POST /skills/call` (rxon 1.0b15) on a real server: a running task's handler runs another skill
 * as a child job and gets its outcome; children carry `depth` and `parent_hash`; chains deeper
 * than the limit are refused; strangers are refused before the body is read; a worker holds at
 * most its share of calls at once. And with an
 * orchestrator key the hub signs every task it dispatches (`sig`) and sets `policy.allowed_skills`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { Hub } from "../../src/hub/index.js";
import { verifyHmac } from "../../src/security/index.js";
import { memoryLogger } from "../helpers/logger.js";
import { poll, register, result, SECRETS, skill } from "./helpers.js";

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

async function skillCall(url: string, workerId: string, body: unknown, token: string | null = SECRETS[workerId]!): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${url}/skills/call`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Worker-ID": workerId, ...(token !== null ? { "X-Worker-Token": token } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe("POST /skills/call", () => {
  it("runs the named skill as a child job and answers its outcome", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS }, maxCallDepth: 1 });
    hubs.push(hub);
    const server = await hub.listen({ port: 0 });
    await register(hub, "cpu-1", { supported_skills: [skill("parent")] });
    await register(hub, "cpu-2", { supported_skills: [skill("child")] });
    const parent = await hub.submit({ type: "parent" });
    const pt = (await poll(hub, "cpu-1"))!;
    expect(pt.depth).toBeUndefined();

    const answer = skillCall(server.url, "cpu-1", { skill_name: "child", params: { x: 2 }, task_id: pt.task_id });
    const ct = (await poll(hub, "cpu-2", { pollTimeout: 5 }))!;
    expect(ct).toMatchObject({ type: "child", params: { x: 2 }, depth: 1 });
    expect(ct.parent_hash).toMatch(/^[0-9a-f]{64}$/);
    // The child may not call deeper than the limit.
    const tooDeep = await skillCall(server.url, "cpu-2", { skill_name: "parent", task_id: ct.task_id });
    expect(tooDeep.status).toBe(422);
    expect(tooDeep.body.error).toMatch(/limit of 1/);
    await result(hub, "cpu-2", { job_id: ct.job_id, task_id: ct.task_id, data: { y: 4 } });
    expect(await answer).toEqual({ status: 200, body: { status: "success", data: { y: 4 } } });

    // Even without naming its task, a caller's chain is bounded by the deepest task it runs.
    const anonymous = skillCall(server.url, "cpu-1", { skill_name: "child" });
    const ct2 = (await poll(hub, "cpu-2", { pollTimeout: 5 }))!;
    expect(ct2.depth).toBe(1);
    await result(hub, "cpu-2", { job_id: ct2.job_id, task_id: ct2.task_id, status: "failure", error: { code: "PERMANENT_ERROR", message: "no" } });
    expect((await anonymous).body).toMatchObject({ status: "failure", error: { code: "PERMANENT_ERROR" } });

    await result(hub, "cpu-1", { job_id: pt.job_id, task_id: pt.task_id, data: {} });
    expect((await parent.result()).status).toBe("success");
  });

  it("refuses strangers and bad bodies", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS } });
    hubs.push(hub);
    const server = await hub.listen({ port: 0 });
    expect((await skillCall(server.url, "cpu-1", { skill_name: "x" }, null)).status).toBe(403);
    expect((await skillCall(server.url, "cpu-1", { skill_name: "x" }, "wrong")).status).toBe(403);
    expect((await skillCall(server.url, "cpu-1", { skill_name: "no spaces" })).status).toBe(400);
    expect((await skillCall(server.url, "cpu-1", { skill_name: "x", params: [1] })).status).toBe(400);
  });
});

describe("POST /skills/call share per worker", () => {
  /** A call whose answer is read raw (status, Retry-After, body); `signal` ends it early. */
  async function rawCall(url: string, workerId: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; retryAfter: unknown; body: unknown }> {
    const res = await request(`${url}/skills/call`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Worker-ID": workerId, "X-Worker-Token": SECRETS[workerId]! },
      body: JSON.stringify(body),
      ...(signal !== undefined ? { signal } : {}),
    });
    return { status: res.statusCode, retryAfter: res.headers["retry-after"], body: await res.body.json() };
  }

  /** Resolves once `check` holds, checking every 10 ms; fails with `what` after 5 s. */
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    for (const end = Date.now() + 5000; !(await check()); ) {
      if (Date.now() > end) throw new Error(what);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("refuses a worker's call past maxSkillCallsPerWorker with 429 before anything is submitted; other workers go on; an ended or abandoned call gives its share back", async () => {
    const logger = memoryLogger();
    const hub = new Hub({ auth: { tokens: SECRETS }, maxSkillCallsPerWorker: 1, logger });
    hubs.push(hub);
    const server = await hub.listen({ port: 0 });
    await register(hub, "cpu-1", { supported_skills: [skill("parent")] });
    await register(hub, "cpu-2", { supported_skills: [skill("child")] });

    const first = skillCall(server.url, "cpu-1", { skill_name: "child", params: { x: 1 } });
    const child = (await poll(hub, "cpu-2", { pollTimeout: 5 }))!;
    const submitted = (await hub.stats()).submitted;
    const refused = await rawCall(server.url, "cpu-1", { skill_name: "child", params: { x: 2 } });
    expect(refused).toEqual({
      status: 429,
      retryAfter: "1",
      body: { error: "Too many skill calls: this worker holds 1, the most allowed; try again later", code: "LIMIT_EXCEEDED_ERROR" },
    });
    expect((await hub.stats()).submitted).toBe(submitted);
    expect(logger.entries.filter((e) => e.level === "warn").map((e) => e.fields)).toEqual([{ reason: "too_many_skill_calls", worker_id: "cpu-1", limit: 1 }]);

    // Another worker's call is its own share.
    const theirs = skillCall(server.url, "cpu-2", { skill_name: "parent" });
    const theirChild = (await poll(hub, "cpu-1", { pollTimeout: 5 }))!;
    await result(hub, "cpu-1", { job_id: theirChild.job_id, task_id: theirChild.task_id, data: { z: 1 } });
    expect(await theirs).toEqual({ status: 200, body: { status: "success", data: { z: 1 } } });

    // The call that ends gives its share back.
    await result(hub, "cpu-2", { job_id: child.job_id, task_id: child.task_id, data: { y: 1 } });
    expect(await first).toEqual({ status: 200, body: { status: "success", data: { y: 1 } } });
    // So does a caller that leaves (its child, still queued, is cancelled).
    const before = await hub.stats();
    const leave = new AbortController();
    const abandoned = rawCall(server.url, "cpu-1", { skill_name: "child", params: { x: 3 } }, leave.signal).catch(() => "left");
    await until(async () => (await hub.stats()).submitted === before.submitted + 1, "the abandoned call's child was not submitted");
    leave.abort();
    expect(await abandoned).toBe("left");
    await until(async () => (await hub.stats()).cancelled === before.cancelled + 1, "the abandoned call's child was not cancelled");
    const again = skillCall(server.url, "cpu-1", { skill_name: "child", params: { x: 4 } });
    const last = (await poll(hub, "cpu-2", { pollTimeout: 5 }))!;
    expect(last.params).toEqual({ x: 4 });
    await result(hub, "cpu-2", { job_id: last.job_id, task_id: last.task_id, data: { y: 4 } });
    expect(await again).toEqual({ status: 200, body: { status: "success", data: { y: 4 } } });
  });

  it("refuses a share that is not a whole number >= 0", () => {
    for (const bad of [-1, 0.5, Number.NaN]) expect(() => new Hub({ maxSkillCallsPerWorker: bad })).toThrow(/maxSkillCallsPerWorker/);
  });
});

describe("signed tasks", () => {
  it("signs every dispatched task with the orchestrator key and sets policy.allowed_skills", async () => {
    const key = "orchestrator-secret-0123456789";
    const hub = new Hub({ auth: { tokens: SECRETS }, orchestratorKey: key, allowedSkills: ["echo"] });
    hubs.push(hub);
    await register(hub, "cpu-1");
    await hub.submit({ type: "echo", params: { n: 1 }, metadata: { m: "x" } });
    const task = (await poll(hub, "cpu-1"))!;
    expect(task.policy).toEqual({ allowed_skills: ["echo"] });
    expect(task.sig).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyHmac(task, task.sig, key, { ignoreFields: ["sig", "orchestrator_signature"] })).toBe(true);
    expect(verifyHmac({ ...task, params: { n: 2 } }, task.sig, key, { ignoreFields: ["sig", "orchestrator_signature"] })).toBe(false);
    expect(verifyHmac(task, task.sig, "another-key", { ignoreFields: ["sig", "orchestrator_signature"] })).toBe(false);
  });
});
