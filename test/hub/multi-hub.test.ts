/**
 * Several hubs on one Redis serve one fleet: a task submitted on hub A reaches a worker polling
 * hub B; a cancel on A reaches a worker connected to B; every hub answers the same for a job.
 * And a hub killed with SIGKILL and restarted on Redis loses nothing: queued and running tasks
 * survive and finish.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, test } from "vitest";
import { request } from "undici";
import { Hub } from "../../src/hub/index.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import type { Settlement } from "../../src/hub/store.js";
import { Worker } from "../../src/worker/index.js";
import { redisSuite, requireRedis, startRedis } from "../helpers/redis.js";
import { api } from "./client-http.js";
import { redisHubs, type RedisHub } from "./fixtures/redis-hubs.js";
import { poll, register, result, SECRETS, signed, until } from "./helpers.js";
import { double, hangSkill } from "../helpers/skills.js";

const available = requireRedis("hubs sharing a Redis store");
const ROOT = resolve(import.meta.dirname, "../..");
const CLIENT = "client-token-multi-hub";
const TOKENS: Record<string, string> = { "w-1": "secret-w-1", "w-2": "secret-w-2" };


let started = 0;
const hang = hangSkill(() => started++);

describe.skipIf(!available)("hubs sharing a Redis store", () => {
  const suite = redisSuite();
  const { cleanup } = suite;

  const hubs = (n: number): Promise<RedisHub[]> => redisHubs(suite.redis.url, n, { tokens: TOKENS, clientToken: CLIENT, cleanup });

  async function worker(url: string, id: string, skills: unknown[]): Promise<Worker> {
    const w = new Worker({ url, workerId: id, token: TOKENS[id]!, secret: TOKENS[id]!, skills: skills as never, heartbeatIntervalMs: 500, pollTimeoutSeconds: 5 });
    cleanup.push(() => w.stop({ graceMs: 500 }));
    await w.start();
    return w;
  }

  test("a task submitted on hub A runs on a worker polling hub B, and every hub answers the same", async () => {
    const [a, b, c] = await hubs(3);
    await worker(b!.server.url, "w-1", [double]);
    const submitted = await api(a!.server.url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 21 } } }, CLIENT);
    expect(submitted.status).toBe(202);
    const path = `/_client/tasks/${submitted.body!.job_id as string}`;
    const done = await api(c!.server.url, "GET", `${path}?wait=20`, {}, CLIENT);
    expect(done.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { n: 42 }, worker_id: "w-1", attempts: 1 } });
    const views = await Promise.all([a, b, c].map((h) => api(h!.server.url, "GET", path, {}, CLIENT)));
    for (const v of views) expect(v.body).toEqual(done.body);
    // hub.submit() on A resolves with the outcome produced through B.
    const h = await a!.hub.submit({ type: "double", params: { n: 5 } });
    expect(await h.result()).toMatchObject({ status: "success", data: { n: 10 } });
  });

  test("submit-and-wait on hub A ends with the outcome of a worker polling hub B; a wait after a submission on the same hub too", async () => {
    const [a, b] = await hubs(2);
    await worker(b!.server.url, "w-1", [double]);
    for (let n = 0; n < 5; n++) {
      const done = await api(a!.server.url, "POST", "/_client/tasks?wait=20", { body: { type: "double", params: { n } } }, CLIENT);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { n: 2 * n }, worker_id: "w-1" } });
      // Queued on A, ended through B: A's wait (which reads nothing before the end) wakes on B's signal.
      const queued = await api(a!.server.url, "POST", "/_client/tasks", { body: { type: "double", params: { n } } }, CLIENT);
      const ended = await api(a!.server.url, "GET", `/_client/tasks/${queued.body!.job_id as string}?wait=20`, {}, CLIENT);
      expect(ended.body).toMatchObject({ status: "finished", outcome: { data: { n: 2 * n } } });
    }
  });

  /** A RedisStore that records what its settle is handed; with `declares` false, a store written before `Settlement.remember` (its settle ignores the entry). */
  class RecordingStore extends RedisStore {
    override readonly settleRemembers: boolean;
    readonly settledWith: Settlement[] = [];
    constructor(url: string, prefix: string, declares: boolean) {
      super({ url, prefix });
      this.settleRemembers = declares;
    }
    override settle(workerId: string, jobId: string, taskId: string, s: Settlement): ReturnType<RedisStore["settle"]> {
      this.settledWith.push(s);
      if (this.settleRemembers) return super.settle(workerId, jobId, taskId, s);
      const { remember: _ignored, ...rest } = s;
      return super.settle(workerId, jobId, taskId, rest);
    }
  }

  test.each([
    ["whose settle records the replay memory", true],
    ["whose settle does not (the hub records it first)", false],
  ])("on a store %s, a signed result seen by hub A is answered as the first time on hub B when it was applied, and refused as a replay when it was not", async (_kind, declares) => {
    const stores: RecordingStore[] = [];
    const store = (url: string, prefix: string): RecordingStore => {
      const made = new RecordingStore(url, prefix, declares);
      stores.push(made);
      return made;
    };
    const [a, b] = await redisHubs(suite.redis.url, 2, { tokens: { "cpu-1": SECRETS["cpu-1"]! }, clientToken: CLIENT, cleanup, store });
    await register(a!.hub, "cpu-1");
    const done = await a!.hub.submit({ type: "echo", params: { n: 1 } });
    const task = (await poll(a!.hub, "cpu-1"))!;
    expect(task.job_id).toBe(done.jobId);
    const applied = signed("cpu-1", { worker_id: "cpu-1", job_id: done.jobId, task_id: task.task_id, status: "success", data: { n: 1 } });
    expect(await result(a!.hub, "cpu-1", {}, { raw: applied })).toMatchObject({ status: "accepted" });
    // Its answer lost, the worker sends it again through another hub: the same answer, nothing re-applied.
    expect(await result(b!.hub, "cpu-1", {}, { raw: applied })).toMatchObject({ status: "accepted" });
    expect((await done.result()).data).toEqual({ n: 1 });
    // A result that was not applied (its task id is not the job's) is a replay on every other hub.
    const other = await a!.hub.submit({ type: "echo" });
    await poll(a!.hub, "cpu-1");
    const stale = signed("cpu-1", { worker_id: "cpu-1", job_id: other.jobId, task_id: `${other.jobId}_9`, status: "success", data: {} });
    expect(await result(a!.hub, "cpu-1", {}, { raw: stale })).toMatchObject({ status: "ignored", reason: "stale_task" });
    await expect(result(b!.hub, "cpu-1", {}, { raw: stale })).rejects.toMatchObject({ status: 403, details: { reason: "replay" } });
    expect((await b!.hub.stats()).refused).toBe(1);
    expect((await a!.store.getJob(other.jobId))!.state).toBe("running");
    // The entry goes to the settle only when the store says it records it there.
    const settled = stores.flatMap((x) => x.settledWith);
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.map((x) => x.remember !== undefined)).toEqual(settled.map(() => declares));
  });

  test("an idempotency key answers the same job on every hub, and is refused (422) for a different task on any", async () => {
    const [a, b] = await hubs(2);
    const headers = { "Idempotency-Key": `order-${randomUUID()}` };
    const body = { type: "double", params: { n: 1.5, big: 12345678901234, s: "é" }, requirements: { extra: { zone: "eu" } }, metadata: { ref: [1, 2] } };
    const first = await api(a!.server.url, "POST", "/_client/tasks", { body, headers }, CLIENT);
    const again = await api(b!.server.url, "POST", "/_client/tasks", { body, headers }, CLIENT);
    expect(again.status).toBe(202);
    expect(again.body!.job_id).toBe(first.body!.job_id);
    const other = await api(b!.server.url, "POST", "/_client/tasks", { body: { ...body, params: { n: 2 } }, headers }, CLIENT);
    expect(other.status).toBe(422);
  });

  test("a cancel on hub A reaches the worker connected to hub B", async () => {
    const [a, b] = await hubs(2);
    started = 0;
    await worker(b!.server.url, "w-2", [hang]);
    const submitted = await api(a!.server.url, "POST", "/_client/tasks", { body: { type: "hang" } }, CLIENT);
    const path = `/_client/tasks/${submitted.body!.job_id as string}`;
    await until(() => started === 1, 10_000);
    expect((await api(a!.server.url, "DELETE", path, {}, CLIENT)).status).toBe(202);
    const ended = await api(b!.server.url, "GET", `${path}?wait=20`, {}, CLIENT);
    expect(ended.body).toMatchObject({ status: "cancelled" });
  });

  test("the dashboard of any hub shows the whole fleet and the shared queues", async () => {
    const prefix = `dash-${randomUUID()}`;
    const admin = "admin-token-multi-hub";
    const made = [];
    for (let i = 0; i < 2; i++) {
      const store = new RedisStore({ url: suite.redis.url, prefix });
      const hub = new Hub({ store, auth: { tokens: TOKENS }, clientTokens: [CLIENT, { token: admin, scope: "admin" }], dashboard: true, heartbeatIntervalMs: 500 });
      const server = await hub.listen({ port: 0 });
      cleanup.push(async () => {
        await hub.close();
        await store.close();
      });
      made.push({ hub, server });
    }
    const [a, b] = made;
    await worker(b!.server.url, "w-1", [double]);
    // Queued on B for a skill nobody offers.
    await api(b!.server.url, "POST", "/_client/tasks", { body: { type: "nobody-offers-this" } }, CLIENT);
    const dash = async (path: string): Promise<Record<string, unknown>> => {
      const res = await request(`${a!.server.url}/_dashboard/api/${path}`, { headers: { "X-Client-Token": admin } });
      expect(res.statusCode).toBe(200);
      return (await res.body.json()) as Record<string, unknown>;
    };
    const workers = await dash("workers");
    expect((workers.items as { id: string }[]).map((w) => w.id)).toEqual(["w-1"]);
    const queues = await dash("queues");
    expect(queues.total).toBe(1);
    // A client token without the admin scope is refused.
    expect((await request(`${a!.server.url}/_dashboard/api/workers`, { headers: { "X-Client-Token": CLIENT } })).statusCode).toBe(403);
  });

  test("/readyz answers 503 while the Redis store is down, and 200 again once it is back", async () => {
    const own = await startRedis();
    cleanup.push(() => own.stop());
    const store = new RedisStore({ url: own.url, prefix: `ready-${randomUUID()}`, pingTimeoutMs: 300 });
    const hub = new Hub({ store, auth: { tokens: TOKENS } });
    const server = await hub.listen({ port: 0 });
    cleanup.push(async () => {
      await hub.close();
      await store.close();
    });
    const readyz = async (): Promise<{ status: number; body: unknown }> => {
      const res = await request(`${server.url}/readyz`);
      return { status: res.statusCode, body: await res.body.json() };
    };
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready" } });
    await own.kill();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "not_ready", reason: "store" });
    expect((await request(`${server.url}/healthz`)).statusCode).toBe(200);
    await own.restart();
    await until(async () => (await readyz()).status === 200, 10_000);
  });

  test("a hub killed with SIGKILL and restarted keeps its queued and running tasks, and they finish", async () => {
    const prefix = `restart-${randomUUID()}`;
    const env = { REDIS_URL: suite.redis.url, PREFIX: prefix, TOKENS: JSON.stringify(TOKENS), CLIENT_TOKEN: CLIENT, HEARTBEAT_MS: "1000", LEASE_GRACE_MS: "3000" };
    const startHub = async (port: number): Promise<{ child: ChildProcess; url: string }> => {
      const child = spawn(process.execPath, ["--import", "tsx", "test/hub/fixtures/redis-hub.ts"], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
      cleanup.push(async () => void child.kill("SIGKILL"));
      const url = await new Promise<string>((resolve, reject) => {
        child.once("exit", (code) => reject(new Error(`hub exited ${code}`)));
        createInterface({ input: child.stdout! }).on("line", (line) => {
          const e = JSON.parse(line) as { ev: string; url?: string };
          if (e.ev === "listening") resolve(e.url!);
        });
      });
      return { child, url };
    };
    const first = await startHub(0);
    const port = Number(new URL(first.url).port);
    // One task runs (its worker holds it), nine wait.
    started = 0;
    await worker(first.url, "w-2", [hang]);
    const hung = await api(first.url, "POST", "/_client/tasks", { body: { type: "hang" } }, CLIENT);
    await until(() => started === 1, 10_000);
    const queued: string[] = [];
    for (let i = 0; i < 9; i++) queued.push((await api(first.url, "POST", "/_client/tasks", { body: { type: "double", params: { n: i } } }, CLIENT)).body!.job_id as string);

    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    const second = await startHub(port);
    // The queued tasks are all there and run once a worker for them arrives.
    await worker(second.url, "w-1", [double]);
    for (const [i, id] of queued.entries()) {
      const done = await api(second.url, "GET", `/_client/tasks/${id}?wait=20`, {}, CLIENT);
      expect(done.body, id).toMatchObject({ status: "finished", outcome: { data: { n: i * 2 } } });
    }
    // The running task is still leased to its worker (which lived through the restart); a cancel ends it.
    const hungPath = `/_client/tasks/${hung.body!.job_id as string}`;
    expect((await api(second.url, "GET", hungPath, {}, CLIENT)).body).toMatchObject({ status: "running" });
    await api(second.url, "DELETE", hungPath, {}, CLIENT);
    expect((await api(second.url, "GET", `${hungPath}?wait=20`, {}, CLIENT)).body).toMatchObject({ status: "cancelled" });
  });
});
