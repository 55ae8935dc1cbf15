/**
 * A hub whose Redis goes away: requests that need the store fail within the store's command
 * timeout with 503 and `Retry-After` (never hang, never a 500), readiness says `store`, and once
 * Redis is back (its append-only file read again) the hub serves as before and a worker that
 * started during the outage registers and runs what was queued before it. The hub logs the outage
 * once and its end, not every failed sweep. Workers that were silent only because Redis was away
 * are not dropped when it is back, and a result finished during the outage is still delivered.
 * A Redis at `maxmemory` is an outage of writes: the same 503s and single log entry, reads served.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, test } from "vitest";
import { request } from "undici";
import { Redis } from "ioredis";
import { UnavailableError } from "../../src/errors.js";
import { Hub, hubReadiness } from "../../src/hub/index.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import { Worker } from "../../src/worker/index.js";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import type { Logger } from "../../src/logger.js";
import { memoryLogger } from "../helpers/logger.js";
import { double, heldSkill } from "../helpers/skills.js";
import { api } from "./client-http.js";
import { until } from "./helpers.js";

const available = requireRedis("hub during a Redis outage");
const CLIENT = "client-token-outage";
const TOKENS: Record<string, string> = { "w-1": "secret-w-1", "w-2": "secret-w-2" };

describe.skipIf(!available)("a hub whose Redis goes away", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** A listening hub on a private redis-server that writes every change to disk before answering. */
  async function outageHub(heartbeatIntervalMs: number, logger?: Logger): Promise<{ redis: RedisServer; store: RedisStore; hub: Hub; url: string }> {
    const redis = await startRedis({ appendonly: true, appendfsync: "always" });
    cleanup.push(() => redis.stop());
    const store = new RedisStore({ url: redis.url, prefix: `outage-${randomUUID()}`, commandTimeoutMs: 300 });
    const hub = new Hub({ store, auth: { tokens: TOKENS }, clientTokens: [CLIENT], heartbeatIntervalMs, ...(logger ? { logger } : {}) });
    const server = await hub.listen({ port: 0, ready: hubReadiness(hub) });
    cleanup.push(async () => {
      await hub.close();
      await store.close();
    });
    return { redis, store, hub, url: server.url };
  }

  test("answers 503 with Retry-After while Redis is down, then serves again and loses nothing queued before", async () => {
    const logger = memoryLogger();
    // Every write is on disk before it is answered, so what was queued before the kill is there after.
    const { redis, store, hub, url } = await outageHub(500, logger);
    const before = await api(url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 1 } } }, CLIENT);
    expect(before.status).toBe(202);

    await redis.kill();
    // Bounded by the client's own timeouts: a hub that hung on the store would fail these requests.
    const timeouts = { headersTimeout: 5000, bodyTimeout: 5000 };
    const submit = await request(`${url}/_client/tasks`, {
      method: "POST",
      headers: { "x-client-token": CLIENT, "content-type": "application/json" },
      body: JSON.stringify({ type: "double", params: { n: 2 } }),
      ...timeouts,
    });
    const text = await submit.body.text();
    expect(submit.statusCode).toBe(503);
    expect(submit.headers["retry-after"]).toBe("1");
    expect(JSON.parse(text)).toEqual({ error: "The hub's store is unavailable; try again later", code: "TRANSIENT_ERROR" });
    // Nothing about the store's address or failure reaches the client.
    expect(text).not.toMatch(/127\.0\.0\.1|ECONN|timed out|retries|Redis/i);
    const view = await api(url, "GET", `/_client/tasks/${before.body!.job_id as string}`, {}, CLIENT);
    expect(view.status).toBe(503);
    const ready = await request(`${url}/readyz`, timeouts);
    expect(ready.statusCode).toBe(503);
    expect(await ready.body.json()).toEqual({ status: "not_ready", reason: "store" });
    // The embedded API says the same, as an error callers can branch on.
    const refused = await hub.submit({ type: "double", params: { n: 3 } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect(refused).toMatchObject({ status: 503, retryable: true, details: { reason: "store_unavailable" } });

    // A worker started now is told 503 (a reason to try again), not 500, until Redis is back.
    const seen: unknown[] = [];
    const worker = new Worker({ url, workerId: "w-1", token: TOKENS["w-1"]!, secret: TOKENS["w-1"]!, skills: [double], heartbeatIntervalMs: 500, pollTimeoutSeconds: 2 });
    worker.on("error", (e) => seen.push(e.error));
    cleanup.push(() => worker.stop({ graceMs: 500 }));
    const registered = worker.start();
    await until(() => seen.length > 0);
    expect(seen[0]).toMatchObject({ status: 503 });

    await redis.restart();
    await registered;
    const after = await api(url, "POST", "/_client/tasks?wait=20", { body: { type: "double", params: { n: 4 } } }, CLIENT);
    expect(after.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { n: 8 } } });
    const first = await api(url, "GET", `/_client/tasks/${before.body!.job_id as string}?wait=20`, {}, CLIENT);
    expect(first.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { n: 2 } } });
    expect((await request(`${url}/readyz`)).statusCode).toBe(200);
    // What was refused with 503 was not applied later (ioredis would send its queue on reconnect).
    const jobs = (await store.listJobs({}, 100)).jobs.map((j) => j.params.n).sort();
    expect(jobs).toEqual([1, 4]);
    // The outage is logged once (its housekeeping failed every sweep meanwhile), and its end.
    await until(() => logger.entries.some((e) => e.message === "hub: the store answers again"));
    expect(logger.entries.filter((e) => e.level === "error").map((e) => e.message)).toEqual([expect.stringMatching(/^hub: \w[\w ]* failed: the store is unavailable/)]);
  }, 60_000);

  test("workers silent only because Redis was down are not dropped when it is back: a running task is not given to another worker", async () => {
    // Workers live 3 s without a heartbeat; the hub sweeps every 750 ms.
    const { redis, hub, url } = await outageHub(1000);
    const { held, runs, release } = heldSkill();
    const start = async (id: string): Promise<Worker> => {
      const w = new Worker({ url, workerId: id, token: TOKENS[id]!, secret: TOKENS[id]!, skills: [held], heartbeatIntervalMs: 2000, pollTimeoutSeconds: 2 });
      cleanup.push(() => w.stop({ graceMs: 500 }));
      await w.start();
      return w;
    };
    await start("w-1");
    const submitted = await api(url, "POST", "/_client/tasks", { body: { type: "held", params: {} } }, CLIENT);
    await until(() => runs.length === 1);
    await start("w-2"); // idle, polling: it would take the task if w-1 were dropped
    // The hub has swept since (as it does every sweep interval): the store knows when it last did.
    await hub.sweep();

    await redis.kill();
    // Longer than a worker's lifetime: no heartbeat reached the store meanwhile.
    await new Promise((r) => setTimeout(r, 4000));
    await redis.restart();
    // Several sweeps after the outage, with w-1 still silent at first.
    await until(async () => (await request(`${url}/readyz`)).statusCode === 200);
    await new Promise((r) => setTimeout(r, 2000));
    expect(runs).toEqual(["w-1"]);
    release();
    const done = await api(url, "GET", `/_client/tasks/${submitted.body!.job_id as string}?wait=20`, {}, CLIENT);
    expect(done.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { by: "w-1" }, attempts: 1 } });
    expect(runs).toEqual(["w-1"]);
  }, 60_000);

  test("a result finished while Redis is down is delivered once it is back: the task is not run again", async () => {
    const { redis, hub, url } = await outageHub(500);
    const { held, runs, release } = heldSkill();
    const logger = memoryLogger();
    const retried = (): number => logger.entries.filter((e) => e.message === "result not delivered; retrying").length;
    // One attempt only: a result that met a 503 used to be lost at once.
    const worker = new Worker({ url, workerId: "w-1", token: TOKENS["w-1"]!, secret: TOKENS["w-1"]!, skills: [held], heartbeatIntervalMs: 500, pollTimeoutSeconds: 2, resultAttempts: 1, logger });
    cleanup.push(() => worker.stop({ graceMs: 500 }));
    await worker.start();
    const submitted = await api(url, "POST", "/_client/tasks", { body: { type: "held", params: {} } }, CLIENT);
    await until(() => runs.length === 1);
    // The hub has swept since (as it does every sweep interval): the store knows when it last did.
    await hub.sweep();

    await redis.kill();
    release();
    await until(() => retried() >= 2);
    // Down for longer than the worker's lifetime (1.5 s): no heartbeat reached the store meanwhile.
    await new Promise((r) => setTimeout(r, 1000));
    await redis.restart();
    const done = await api(url, "GET", `/_client/tasks/${submitted.body!.job_id as string}?wait=20`, {}, CLIENT);
    expect(done.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { by: "w-1" }, attempts: 1 } });
    expect(runs).toEqual(["w-1"]);
    expect(worker.stats).toMatchObject({ lost: 0 });
  }, 60_000);

  test("a Redis at maxmemory refuses writes: submissions are answered 503 and logged once, without their params; reads still work; then it serves again", async () => {
    const logger = memoryLogger();
    const { redis, hub, url } = await outageHub(500, logger);
    const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    cleanup.push(async () => void admin.disconnect());
    await admin.connect();
    const before = await api(url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 1 } } }, CLIENT);
    expect(before.status).toBe(202);
    await hub.sweep();

    // Full: with the default policy (noeviction) every script that would write is refused.
    await admin.config("SET", "maxmemory", "1");
    const secret = "param-value-that-must-not-be-logged";
    const refused = await api(url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 2, note: secret } } }, CLIENT);
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.body).toEqual({ error: "The hub's store is unavailable; try again later", code: "TRANSIENT_ERROR" });
    const embedded = await hub.submit({ type: "double", params: { n: 3, note: secret } }).catch((e: unknown) => e);
    expect(embedded).toBeInstanceOf(UnavailableError);
    // Its cause, Redis's reply, names the command but does not carry its arguments (the params).
    expect((embedded as Error).cause).toMatchObject({ command: { name: "evalsha" } });
    expect(JSON.stringify((embedded as Error).cause)).not.toContain(secret);
    // Reading needs no memory: the job queued before is still shown.
    const view = await api(url, "GET", `/_client/tasks/${before.body!.job_id as string}`, {}, CLIENT);
    expect(view.body).toMatchObject({ status: "waiting_for_worker" });
    await hub.sweep();
    await hub.sweep();

    await admin.config("SET", "maxmemory", "0");
    await hub.sweep();
    const worker = new Worker({ url, workerId: "w-1", token: TOKENS["w-1"]!, secret: TOKENS["w-1"]!, skills: [double], heartbeatIntervalMs: 500, pollTimeoutSeconds: 2 });
    cleanup.push(() => worker.stop({ graceMs: 500 }));
    await worker.start();
    const after = await api(url, "POST", "/_client/tasks?wait=20", { body: { type: "double", params: { n: 4 } } }, CLIENT);
    expect(after.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { n: 8 } } });
    const first = await api(url, "GET", `/_client/tasks/${before.body!.job_id as string}?wait=20`, {}, CLIENT);
    expect(first.body).toMatchObject({ status: "finished", outcome: { status: "success", data: { n: 2 } } });
    // Once at error for the whole episode (the refused sweeps included), and its end; the params
    // of the refused submissions appear in no entry at any level.
    expect(logger.entries.filter((e) => e.level === "error").map((e) => e.message)).toEqual([expect.stringMatching(/^hub: sweep failed: the store is unavailable/)]);
    expect(logger.entries.some((e) => e.message === "hub: the store answers again")).toBe(true);
    expect(JSON.stringify(logger.entries, (_k, v: unknown) => (v instanceof Error ? { ...v, message: v.message, stack: v.stack, cause: v.cause } : v))).not.toContain(secret);
  }, 60_000);
});
