/**
 * The hub's client API under abuse: waits on jobs that ended long ago, odd `wait` values, and
 * the size of what a refusal lists. Real hub on 127.0.0.1:0, real HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ownerOf } from "../../src/hub/client-api.js";
import { Hub, type HubServer } from "../../src/hub/index.js";
import { memoryLogger } from "../helpers/logger.js";
import { api as request, type Answer, type ApiOptions } from "./client-http.js";

const TOKEN = "client-token-waits-0123456789";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(options: ConstructorParameters<typeof Hub>[0] = {}): Promise<{ hub: Hub; server: HubServer }> {
  const hub = new Hub({ clientTokens: [TOKEN], ...options });
  const server = await hub.listen({ port: 0 });
  cleanup.push(() => hub.close());
  return { hub, server };
}

function api(url: string, method: string, path: string, o: ApiOptions = {}): Promise<Answer> {
  return request(url, method, path, o, TOKEN);
}

describe("client API waits", () => {
  it("answers a GET ?wait on a job it queued that ended long ago (many ends since) at once, not when the wait runs out", async () => {
    const { server, hub } = await setup();
    const jobId = (await api(server.url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } })).body!.job_id as string;
    expect((await api(server.url, "DELETE", `/_client/tasks/${jobId}`)).body).toMatchObject({ status: "cancelled" });
    // Ten thousand other jobs end after it: far more than the hub keeps as "ended lately".
    for (let i = 0; i < 10_000; i++) await (await hub.submit({ type: "other" })).cancel();
    const started = Date.now();
    const answer = await api(server.url, "GET", `/_client/tasks/${jobId}?wait=60`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ job_id: jobId, status: "cancelled", outcome: { status: "cancelled" } });
    // Held for the whole 60 s before; answered from the store at once now.
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 40_000);
});

describe("client API wait values", () => {
  it("refuses a wait that is not decimal seconds given once, before anything is queued; takes fractions and caps huge ones", async () => {
    const { server, hub } = await setup({ clientApi: { maxWaitSeconds: 1 } });
    for (const wait of ["wait=1&wait=999", "wait=0x10", "wait=%20", "wait=1e1", "wait=-1", "wait=Infinity", "wait=", "wait=1%00"]) {
      const answer = await api(server.url, "POST", `/_client/tasks?${wait}`, { body: { type: "double", params: { n: 1 } } });
      expect(answer.status, wait).toBe(400);
      expect(answer.body, wait).toMatchObject({ code: "INVALID_INPUT_ERROR", errors: [{ path: "/wait" }] });
    }
    expect((await hub.stats()).submitted).toBe(0);
    const job = (await api(server.url, "POST", "/_client/tasks?wait=0.05", { body: { type: "double", params: { n: 1 } } })).body!.job_id as string;
    expect((await api(server.url, "GET", `/_client/tasks/${job}?wait=1&wait=2`)).status).toBe(400);
    // Capped at maxWaitSeconds: a wait of 10^9 s is held for 1 s.
    expect((await api(server.url, "GET", `/_client/tasks/${job}?wait=1000000000`)).body).toMatchObject({ job_id: job, status: "waiting_for_worker" });
  });
});

describe("client API refusals", () => {
  it("lists at most 20 problems of a submission, whatever their number, and says how many there were", async () => {
    const { server } = await setup();
    const body: Record<string, unknown> = { type: "double" };
    for (let i = 0; i < 5000; i++) body[`unknown-${i}`] = 1;
    const answer = await api(server.url, "POST", "/_client/tasks", { body });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "INVALID_INPUT_ERROR", error: "Invalid task: /unknown-0 unknown member (and 4999 more)" });
    expect((answer.body!.errors as unknown[]).length).toBe(20);
    expect(answer.body!.truncated).toBeUndefined();
  });
});

describe("client API waits per client token", () => {
  const OTHER = "client-token-other-9876543210";

  /** Resolves once the hub holds `n` waits (bounded: fails after 5 s). */
  async function holding(hub: Hub, n: number): Promise<void> {
    for (const until = Date.now() + 5000; hub.clientApi.waiting !== n; ) {
      if (Date.now() > until) throw new Error(`the hub holds ${hub.clientApi.waiting} waits, not ${n}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("refuses a token's wait past maxWaitsPerClient with 429 and Retry-After, before anything is queued; other tokens and plain requests go on", async () => {
    const logger = memoryLogger();
    const { server, hub } = await setup({ clientTokens: [TOKEN, OTHER], clientApi: { maxWaitsPerClient: 2 }, logger });
    const job = (await api(server.url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } })).body!.job_id as string;
    const leave = new AbortController();
    const held = [1, 2].map(() => api(server.url, "GET", `/_client/tasks/${job}?wait=30`, { signal: leave.signal }).catch(() => undefined));
    await holding(hub, 2);

    const third = await api(server.url, "GET", `/_client/tasks/${job}?wait=30`);
    expect(third.status).toBe(429);
    expect(third.headers["retry-after"]).toBe("1");
    expect(third.body).toEqual({ error: "Too many waits: this client token holds 2, the most allowed; try again later", code: "LIMIT_EXCEEDED_ERROR" });
    const submitted = (await hub.stats()).submitted;
    const post = await api(server.url, "POST", "/_client/tasks?wait=30", { body: { type: "nobody-runs-this" } });
    expect(post.status).toBe(429);
    expect((await hub.stats()).submitted).toBe(submitted);
    // Said to the operator, with the token's owner id (never the token) and the limit.
    const refusals = logger.entries.filter((e) => (e.fields as { reason?: string }).reason === "too_many_waits");
    expect(refusals.map((e) => [e.level, e.fields])).toEqual([
      ["warn", { reason: "too_many_waits", owner: ownerOf(TOKEN), limit: 2 }],
      ["warn", { reason: "too_many_waits", owner: ownerOf(TOKEN), limit: 2 }],
    ]);
    expect(JSON.stringify(logger.entries)).not.toContain(TOKEN);

    // Requests that do not wait, and another token's waits, are not this token's share.
    expect((await api(server.url, "GET", `/_client/tasks/${job}`)).status).toBe(200);
    expect((await api(server.url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } })).status).toBe(202);
    const theirs = (await api(server.url, "POST", "/_client/tasks?wait=0.05", { body: { type: "nobody-runs-this" }, token: OTHER })).body!.job_id as string;
    expect((await api(server.url, "GET", `/_client/tasks/${theirs}?wait=0.05`, { token: OTHER })).status).toBe(200);

    // A client that leaves gives its waits back.
    leave.abort();
    await Promise.all(held);
    await holding(hub, 0);
    expect((await api(server.url, "GET", `/_client/tasks/${job}?wait=0.05`)).status).toBe(200);
  });

  it("gives the share back whatever ends a wait: a refused submission, an unknown job, the end of the task, the timeout", async () => {
    const { server, hub } = await setup({ clientApi: { maxWaitsPerClient: 1 } });
    for (let i = 0; i < 3; i++) {
      expect((await api(server.url, "POST", "/_client/tasks?wait=5", { raw: "{not json" })).status).toBe(400);
      expect((await api(server.url, "POST", "/_client/tasks?wait=5", { body: { type: "t", params: { big: 1e21 } } })).status).toBe(400);
      expect((await api(server.url, "GET", "/_client/tasks/no-such-job?wait=5")).status).toBe(404);
    }
    const job = (await api(server.url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } })).body!.job_id as string;
    const ending = api(server.url, "GET", `/_client/tasks/${job}?wait=30`);
    await holding(hub, 1);
    expect((await api(server.url, "DELETE", `/_client/tasks/${job}`)).status).toBe(202);
    expect((await ending).body).toMatchObject({ status: "cancelled" });
    expect((await api(server.url, "POST", "/_client/tasks?wait=0.05", { body: { type: "nobody-runs-this" } })).status).toBe(202);
    expect((await api(server.url, "POST", "/_client/tasks?wait=0.05", { body: { type: "nobody-runs-this" } })).status).toBe(202);
  });

  it("takes 0 for no cap and refuses a share that is not a whole number >= 0", async () => {
    const { server, hub } = await setup({ clientApi: { maxWaitsPerClient: 0 } });
    const job = (await api(server.url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } })).body!.job_id as string;
    const leave = Array.from({ length: 40 }, () => new AbortController());
    const held = leave.map((c) => api(server.url, "GET", `/_client/tasks/${job}?wait=30`, { signal: c.signal }).catch(() => undefined));
    await holding(hub, 40);
    for (const c of leave) c.abort();
    await Promise.all(held);
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => new Hub({ clientTokens: [TOKEN], clientApi: { maxWaitsPerClient: bad } })).toThrow(/maxWaitsPerClient/);
  });
});
