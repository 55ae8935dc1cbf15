/** The hub's HTTP client API on a real server (127.0.0.1:0), with an rxon Worker running the tasks. */
import { afterEach, describe, expect, it } from "vitest";
import { Hub, MemoryStore, type HubServer } from "../../src/hub/index.js";
import { Worker } from "../../src/worker/index.js";
import { SECRETS, until } from "./helpers.js";
import { api as request, type Answer, type ApiOptions } from "./client-http.js";
import { double, hangSkill } from "../helpers/skills.js";

const TOKEN = "client-token-0123456789";


const hang = hangSkill();

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(options: ConstructorParameters<typeof Hub>[0] = {}): Promise<{ hub: Hub; server: HubServer }> {
  const hub = new Hub({ auth: { tokens: SECRETS }, heartbeatIntervalMs: 500, clientTokens: [TOKEN, "second-token"], ...options });
  const server = await hub.listen({ port: 0 });
  cleanup.push(() => hub.close());
  return { hub, server };
}

async function startWorker(url: string, id: string, skills: unknown[]): Promise<Worker> {
  const w = new Worker({ url, workerId: id, token: SECRETS[id]!, secret: SECRETS[id]!, skills: skills as never, heartbeatIntervalMs: 500 });
  cleanup.push(() => w.stop({ graceMs: 500 }));
  await w.start();
  return w;
}

function api(url: string, method: string, path: string, o: ApiOptions = {}): Promise<Answer> {
  return request(url, method, path, o, TOKEN);
}

describe("hub client API", () => {
  it("is disabled (404) without client tokens, and worker routes are untouched", async () => {
    const { server } = await setup({ clientTokens: undefined });
    expect((await api(server.url, "POST", "/_client/tasks", { body: { type: "double" } })).status).toBe(404);
    expect((await api(server.url, "GET", "/_client/tasks/job-1")).status).toBe(404);
    expect((await api(server.url, "GET", "/elsewhere")).status).toBe(404);
    await startWorker(server.url, "cpu-1", [double]);
  });

  it("refuses requests without a token (401) or with a wrong one (403)", async () => {
    const { server } = await setup();
    for (const [method, path] of [["POST", "/_client/tasks"], ["GET", "/_client/tasks/job-x"], ["DELETE", "/_client/tasks/job-x"], ["GET", "/_client/nowhere"]] as const) {
      const none = await api(server.url, method, path, { token: null, body: method === "POST" ? { type: "double" } : undefined });
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.body).toMatchObject({ code: "SECURITY_ERROR" });
      for (const wrong of ["client-token-012345678", "client-token-01234567890", "x"]) {
        expect((await api(server.url, method, path, { token: wrong })).status).toBe(403);
      }
    }
    // Either configured token works.
    expect((await api(server.url, "GET", "/_client/tasks/job-x", { token: "second-token" })).status).toBe(404);
  });

  it("submits a task that a worker runs; GET ?wait returns the outcome", async () => {
    const { server, hub } = await setup();
    const submitted = await api(server.url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 21 }, priority: 3, timeoutMs: 60_000, metadata: { who: "test" } } });
    expect(submitted.status).toBe(202);
    const jobId = submitted.body!.job_id as string;
    expect(submitted.body).toMatchObject({ status: "waiting_for_worker" });
    expect(typeof submitted.body!.task_id).toBe("string");
    const before = await api(server.url, "GET", `/_client/tasks/${jobId}`);
    expect(before.body).toMatchObject({ job_id: jobId, status: "waiting_for_worker" });
    expect(before.body!.outcome).toBeUndefined();

    const waiting = api(server.url, "GET", `/_client/tasks/${jobId}?wait=30`);
    await until(() => hub.clientApi.waiting === 1, 10_000);
    await startWorker(server.url, "cpu-1", [double]);
    const done = await waiting;
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ job_id: jobId, status: "finished", outcome: { status: "success", data: { n: 42 }, worker_id: "cpu-1", job_id: jobId, attempts: 1 } });
    expect(hub.clientApi.waiting).toBe(0);
    // Ended: answers at once, wait or not.
    expect((await api(server.url, "GET", `/_client/tasks/${jobId}?wait=30`)).body).toMatchObject({ outcome: { status: "success" } });
  });

  it("submits and waits in one request: POST ?wait answers 200 with the outcome, or 202 with the view in time", async () => {
    const { server, hub } = await setup();
    await startWorker(server.url, "cpu-1", [double]);
    const done = await api(server.url, "POST", "/_client/tasks?wait=30", { body: { type: "double", params: { n: 4 } } });
    expect(done.status).toBe(200);
    const jobId = done.body!.job_id as string;
    expect(done.body).toMatchObject({ job_id: jobId, status: "finished", outcome: { status: "success", data: { n: 8 }, worker_id: "cpu-1", attempts: 1 } });
    expect(hub.clientApi.waiting).toBe(0);

    // Nobody runs it: the wait passes and the answer is the queued view.
    const queued = await api(server.url, "POST", "/_client/tasks?wait=0.2", { body: { type: "nobody-runs-this" } });
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ status: "waiting_for_worker" });
    expect(queued.body!.outcome).toBeUndefined();

    // A retry of a finished submission (same Idempotency-Key) answers its outcome at once.
    const first = await api(server.url, "POST", "/_client/tasks?wait=30", { body: { type: "double", params: { n: 5 } }, headers: { "Idempotency-Key": "k-1" } });
    const again = await api(server.url, "POST", "/_client/tasks?wait=30", { body: { type: "double", params: { n: 5 } }, headers: { "Idempotency-Key": "k-1" } });
    expect(first.body).toMatchObject({ status: "finished", outcome: { data: { n: 10 } } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ job_id: first.body!.job_id, status: "finished", outcome: { data: { n: 10 } } });

    // A bad wait is refused before anything is queued.
    const submitted = (await hub.stats()).submitted;
    expect((await api(server.url, "POST", "/_client/tasks?wait=soon", { body: { type: "double", params: { n: 1 } } })).status).toBe(400);
    expect((await hub.stats()).submitted).toBe(submitted);
  });

  it("answers a wait on a job it queued from the settled record, without reading the store", async () => {
    class CountingStore extends MemoryStore {
      reads = 0;
      override getJob(jobId: string): ReturnType<MemoryStore["getJob"]> {
        this.reads++;
        return super.getJob(jobId);
      }
    }
    const store = new CountingStore();
    const { server } = await setup({ store });
    const jobId = (await api(server.url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 7 } } })).body!.job_id as string;
    const waiting = api(server.url, "GET", `/_client/tasks/${jobId}?wait=30`);
    await startWorker(server.url, "cpu-1", [double]);
    expect((await waiting).body).toMatchObject({ job_id: jobId, status: "finished", outcome: { data: { n: 14 } } });
    // Submit, dispatch (params at hand), result (contract at hand), wait (record from the settle).
    expect(store.reads).toBe(0);
    // Another client's wait on it is still checked against the store (and is 404 to it).
    expect((await request(server.url, "GET", `/_client/tasks/${jobId}?wait=1`, {}, "second-token")).status).toBe(404);
    expect(store.reads).toBe(1);
  });

  it("answers every GET ?wait held on a job when it ends, also many at once", async () => {
    const { server, hub } = await setup();
    const jobId = (await api(server.url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 3 } } })).body!.job_id as string;
    const held = Array.from({ length: 5 }, () => api(server.url, "GET", `/_client/tasks/${jobId}?wait=30`));
    await until(() => hub.clientApi.waiting === 5, 10_000);
    await startWorker(server.url, "cpu-1", [double]);
    for (const answer of await Promise.all(held)) expect(answer.body).toMatchObject({ status: "finished", outcome: { data: { n: 6 } } });
    expect(hub.clientApi.waiting).toBe(0);
  });

  it("cancels a queued and a running task", async () => {
    const { server, hub } = await setup();
    const queued = (await api(server.url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } })).body!.job_id as string;
    const cancelled = await api(server.url, "DELETE", `/_client/tasks/${queued}`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ job_id: queued, status: "cancelled" });
    expect((await api(server.url, "GET", `/_client/tasks/${queued}`)).body).toMatchObject({ status: "cancelled", outcome: { status: "cancelled" } });

    await startWorker(server.url, "cpu-2", [hang]);
    const running = (await api(server.url, "POST", "/_client/tasks", { body: { type: "hang", params: {} } })).body!.job_id as string;
    await until(async () => (await api(server.url, "GET", `/_client/tasks/${running}`)).body?.status === "running", 15_000);
    expect((await api(server.url, "DELETE", `/_client/tasks/${running}`)).status).toBe(202);
    const end = await api(server.url, "GET", `/_client/tasks/${running}?wait=30`);
    expect(end.body).toMatchObject({ status: "cancelled", outcome: { status: "cancelled" } });
    expect((await hub.stats()).cancelled).toBe(2);
  });

  it("refuses invalid submissions with JSON pointers", async () => {
    const { server, hub } = await setup();
    const bad = await api(server.url, "POST", "/_client/tasks", {
      body: { type: "no spaces", params: [1], priority: 1.5, timeoutMs: -1, maxRetries: 1000, surprise: true, requirements: { resources: { devices: "gpu" }, skillVersion: 3, bogus: 1 } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "INVALID_INPUT_ERROR" });
    const paths = (bad.body!.errors as { path: string; message: string }[]).map((e) => e.path);
    for (const p of ["/type", "/params", "/priority", "/timeoutMs", "/maxRetries", "/surprise", "/requirements/resources/devices", "/requirements/skillVersion", "/requirements/bogus"]) {
      expect(paths, p).toContain(p);
    }
    expect((await api(server.url, "POST", "/_client/tasks", { body: {} })).body!.errors).toEqual([{ path: "/type", message: "required" }]);
    expect((await api(server.url, "POST", "/_client/tasks", { body: { type: "a", timeoutMs: 5, deadline: Date.now() } })).status).toBe(400);
    expect((await api(server.url, "POST", "/_client/tasks", { body: [1] })).status).toBe(400);
    expect((await api(server.url, "POST", "/_client/tasks", { raw: "{not json" })).status).toBe(400);
    const proto = await api(server.url, "POST", "/_client/tasks", { raw: '{"type":"double","params":{"__proto__":{"x":1}}}' });
    expect(proto.status).toBe(400);
    expect((await api(server.url, "POST", "/_client/tasks", { raw: '{"type":"double"}', headers: { "Content-Type": "text/plain" } })).status).toBe(415);
    expect((await api(server.url, "POST", "/_client/tasks", { token: TOKEN })).status).toBe(400);
    const deep = await api(server.url, "GET", "/_client/tasks/job-x?wait=soon");
    expect(deep.status).toBe(404); // unknown job decided before the query
    expect((await hub.stats()).submitted).toBe(0);
  });

  it("answers 413 for oversized bodies, 404 for unknown jobs and routes, 405 for other methods", async () => {
    const { server } = await setup({ clientApi: { maxBodyBytes: 1024 } });
    const big = await api(server.url, "POST", "/_client/tasks", { body: { type: "double", params: { blob: "x".repeat(4096) } } });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ code: "LIMIT_EXCEEDED_ERROR" });
    const unknown = await api(server.url, "GET", "/_client/tasks/job-does-not-exist");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: "job_not_found" });
    expect((await api(server.url, "DELETE", "/_client/tasks/job-does-not-exist")).status).toBe(404);
    expect((await api(server.url, "GET", "/_client/tasks/..%2F..%2Fetc")).status).toBe(404);
    expect((await api(server.url, "GET", "/_client/other")).status).toBe(404);
    const put = await api(server.url, "PUT", "/_client/tasks", { body: { type: "double" } });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("POST");
    const job = (await api(server.url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 1 } } })).body!.job_id as string;
    expect((await api(server.url, "GET", `/_client/tasks/${job}?wait=soon`)).status).toBe(400);
    expect((await api(server.url, "GET", `/_client/tasks/${job}?wait=-1`)).status).toBe(400);
  });

  it("ends a wait when the client leaves or the hub closes", async () => {
    const { server, hub } = await setup();
    const job = (await api(server.url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } })).body!.job_id as string;
    const controller = new AbortController();
    const gone = api(server.url, "GET", `/_client/tasks/${job}?wait=60`, { signal: controller.signal }).catch((e: unknown) => e);
    await until(() => hub.clientApi.waiting === 1, 10_000);
    controller.abort();
    await gone;
    await until(() => hub.clientApi.waiting === 0, 10_000);

    // Submit-and-wait ends the same ways.
    const leaving = new AbortController();
    const gone2 = api(server.url, "POST", "/_client/tasks?wait=60", { body: { type: "nobody-runs-this" }, signal: leaving.signal }).catch((e: unknown) => e);
    await until(() => hub.clientApi.waiting === 1, 10_000);
    leaving.abort();
    await gone2;
    await until(() => hub.clientApi.waiting === 0, 10_000);

    const held = api(server.url, "GET", `/_client/tasks/${job}?wait=60`).catch((e: unknown) => e);
    const heldSubmit = api(server.url, "POST", "/_client/tasks?wait=60", { body: { type: "nobody-runs-this" } }).catch((e: unknown) => e);
    await until(() => hub.clientApi.waiting === 2, 10_000);
    await hub.close();
    // Answered with the job's state so far before the connections close, instead of holding for
    // 60 s or being cut: a client that submitted and waited learns its job id, and can ask
    // another hub on the same store, or this one once it is back.
    expect(await held).toMatchObject({ status: 200, body: { job_id: job, status: "waiting_for_worker" } });
    const closedAnswer = await heldSubmit;
    expect(closedAnswer).toMatchObject({ status: 202, body: { job_id: expect.stringMatching(/^job-/), status: "waiting_for_worker" } });
    expect(hub.clientApi.waiting).toBe(0);
  }, 30_000);
});
