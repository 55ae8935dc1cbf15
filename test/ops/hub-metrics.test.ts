/**
 * `GET /metrics` of a hub after a known workload: real Worker runtimes over HTTP, refused
 * requests sent raw, and the counters, gauges and histograms checked against what was done.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, Header } from "../../generated/constants.js";
import { RxonError } from "../../src/errors.js";
import { Hub } from "../../src/hub/index.js";
import { attachHubMetrics, serveMetrics, type HubMetrics } from "../../src/metrics/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { Worker } from "../../src/worker/index.js";
import { SECRETS } from "../hub/helpers.js";
import { parseExposition, sum, value, type Sample } from "./metrics-text.js";
import { double, hangSkill } from "../helpers/skills.js";
import { serve } from "../../src/hub/server.js";
import { silentLogger } from "../../src/logger.js";
import { until } from "../hub/helpers.js";
import { destroyAll, open, settled, type Watched } from "../hardening/sockets.js";

const refuse = {
  info: { name: "refuse", version: "1.0.0" },
  handler: () => {
    throw new RxonError("not this one", { code: ErrorCode.INVALID_INPUT_ERROR });
  },
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function scrape(url: string): Promise<{ status: number; type: string | null; samples: Sample[]; text: string }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), samples: res.status === 200 ? parseExposition(text) : [], text };
}

async function setup(listen: { serveMetrics?: boolean } = {}): Promise<{ hub: Hub; url: string; metrics: HubMetrics }> {
  const hub = new Hub({ auth: { tokens: SECRETS }, heartbeatIntervalMs: 500 });
  const metrics = attachHubMetrics(hub);
  const server = await hub.listen({ port: 0, metrics, ...listen });
  cleanup.push(() => hub.close());
  return { hub, url: server.url, metrics };
}

function worker(url: string, id: string): Worker {
  const w = new Worker({ url, workerId: id, token: SECRETS[id]!, secret: SECRETS[id]!, skills: [double, refuse] as never, heartbeatIntervalMs: 500, concurrency: 2 });
  cleanup.push(() => w.stop({ graceMs: 500 }));
  return w;
}

describe("hub /metrics", () => {
  it("counts a known workload", async () => {
    const { hub, url } = await setup();
    const w = worker(url, "cpu-1");
    await w.start();

    const ok = await Promise.all(Array.from({ length: 3 }, (_, i) => hub.submit({ type: "double", params: { n: i } })));
    const bad = await Promise.all(Array.from({ length: 2 }, () => hub.submit({ type: "refuse" })));
    await hub.submit({ type: "nobody_runs_this" });
    await waitUntil(async () => (await hub.stats()).queued >= 1);
    for (const h of ok) expect((await h.result()).status).toBe("success");
    for (const h of bad) expect((await h.result()).status).toBe("failure");

    // Refusals the hub sees (a wrong token, a message without a signature) and one it never sees (too large).
    const wrongToken = await fetch(`${url}/_worker/workers/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json", [Header.WORKER_TOKEN]: "not-the-token" },
      body: JSON.stringify({ worker_id: "gpu-1", supported_skills: [] }),
    });
    expect([401, 403]).toContain(wrongToken.status);
    const unsigned = await fetch(`${url}/_worker/workers/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json", [Header.WORKER_TOKEN]: SECRETS["gpu-1"]! },
      body: JSON.stringify({ worker_id: "gpu-1", supported_skills: [], timestamp: Math.floor(Date.now() / 1000) }),
    });
    expect(unsigned.status).toBe(403);
    const huge = await fetch(`${url}/_worker/tasks/result`, {
      method: "POST",
      headers: { "Content-Type": "application/json", [Header.WORKER_TOKEN]: SECRETS["cpu-1"]! },
      body: JSON.stringify({ pad: "x".repeat(2 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
    await waitUntil(async () => (await hub.stats()).waitingPolls > 0);

    const { status, type, samples, text } = await scrape(url);
    expect(status).toBe(200);
    expect(type).toContain("text/plain");
    expect(value(samples, "rxon_hub_tasks_submitted_total", { skill: "double" })).toBe(3);
    expect(value(samples, "rxon_hub_tasks_submitted_total", { skill: "refuse" })).toBe(2);
    expect(value(samples, "rxon_hub_tasks_submitted_total", { skill: "nobody_runs_this" })).toBe(1);
    expect(value(samples, "rxon_hub_tasks_finished_total", { skill: "double", status: "success" })).toBe(3);
    expect(value(samples, "rxon_hub_tasks_finished_total", { skill: "refuse", status: "failure" })).toBe(2);
    expect(sum(samples, "rxon_hub_tasks_finished_total")).toBe(5);
    expect(value(samples, "rxon_hub_queue_depth", { skill: "nobody_runs_this" })).toBe(1);
    expect(value(samples, "rxon_hub_tasks_running")).toBe(0);
    expect(sum(samples, "rxon_hub_workers")).toBe(1);
    expect(value(samples, "rxon_hub_held_polls")).toBeGreaterThanOrEqual(1);
    expect(value(samples, "rxon_hub_dispatch_latency_seconds_count")).toBe(5);
    expect(value(samples, "rxon_hub_dispatch_latency_seconds_bucket", { le: "+Inf" })).toBe(5);
    expect(value(samples, "rxon_hub_task_duration_seconds_count", { skill: "double" })).toBe(3);
    expect(value(samples, "rxon_hub_task_duration_seconds_count", { skill: "refuse" })).toBe(2);
    expect(value(samples, "rxon_hub_requests_total", { route: "result", code: "200" })).toBe(5);
    expect(value(samples, "rxon_hub_requests_total", { route: "register", code: "200" })).toBe(1);
    expect(value(samples, "rxon_hub_requests_total", { route: "register", code: "403" })).toBeGreaterThanOrEqual(1);
    expect(value(samples, "rxon_hub_requests_total", { route: "result", code: "413" })).toBe(1);
    expect(value(samples, "rxon_hub_refused_total", { reason: "auth" })).toBe(1);
    expect(value(samples, "rxon_hub_refused_total", { reason: "signature" })).toBe(1);
    expect(value(samples, "rxon_hub_refused_total", { reason: "limits" })).toBe(1);
    expect(value(samples, "rxon_hub_refused_total", { reason: "replay" })).toBe(0);
    // Route labels come from a fixed set: no path, no worker id.
    for (const s of samples.filter((s) => s.name === "rxon_hub_requests_total")) {
      expect(s.labels.route).toMatch(/^[a-z_]+$/);
      expect(s.labels.route).not.toContain("cpu");
    }
    expect(text).not.toContain(SECRETS["cpu-1"]);
  });

  it("counts the polls of a worker by route, whatever its id", async () => {
    const { url } = await setup();
    const w = worker(url, "cpu-2");
    await w.start();
    await waitUntil(async () => sum((await scrape(url)).samples, "rxon_hub_requests_total", { route: "heartbeat" }) >= 1, { timeoutMs: 5_000 });
    const { samples } = await scrape(url);
    expect(sum(samples, "rxon_hub_requests_total", { route: "metrics" })).toBeGreaterThanOrEqual(1);
    expect(samples.some((s) => s.name === "rxon_hub_requests_total" && s.labels.route === "other")).toBe(false);
  });

  it("serves /metrics on a port of its own when told, and not on the hub's", async () => {
    const { hub, url, metrics } = await setup({ serveMetrics: false });
    const side = await serveMetrics({ port: 0, registry: metrics });
    cleanup.push(() => side.close());
    await hub.submit({ type: "double", params: { n: 1 } });
    await waitUntil(async () => (await hub.stats()).queued === 1);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    const { status, samples } = await scrape(side.url);
    expect(status).toBe(200);
    expect(value(samples, "rxon_hub_tasks_submitted_total", { skill: "double" })).toBe(1);
    // The 404 above was still counted on the hub's server.
    expect(value(samples, "rxon_hub_requests_total", { route: "metrics", code: "404" })).toBe(1);
    expect((await fetch(`${side.url}/other`)).status).toBe(404);
    expect((await fetch(`${side.url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("counts 429 answers (a full queue) as limits refusals, once", async () => {
    const hub = new Hub({ clientTokens: ["ct"], queueLimits: { total: 1 } });
    cleanup.push(() => hub.close());
    const metrics = attachHubMetrics(hub);
    const { url } = await hub.listen({ port: 0, metrics });
    const submit = (): Promise<Response> =>
      fetch(`${url}/_client/tasks`, { method: "POST", headers: { "Content-Type": "application/json", "X-Client-Token": "ct" }, body: JSON.stringify({ type: "nobody" }) });
    expect((await submit()).status).toBe(202);
    const full = await submit();
    await full.arrayBuffer();
    expect(full.status).toBe(429);
    await waitUntil(async () => value(parseExposition(await metrics.metrics()), "rxon_hub_requests_total", { route: "client_tasks", code: "429" }) === 1);
    const samples = parseExposition(await metrics.metrics());
    expect(value(samples, "rxon_hub_refused_total", { reason: "limits" })).toBe(1);
    expect(value(samples, "rxon_hub_requests_total", { route: "client_tasks", code: "202" })).toBe(1);
  });

  it("counts the connections its server closed before serving them: at the cap, idle strangers and those that gave way", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS } });
    const metrics = attachHubMetrics(hub);
    const server = await serve(hub.handler, { port: 0, metrics }, silentLogger, [], { limits: { maxConnectionsPerAddress: 2, strangerIdleTimeoutMs: 300 } });
    const sockets: Watched[] = [];
    cleanup.push(async () => (destroyAll(sockets), await server.close(), await hub.close()));
    const closed = async (): Promise<Record<string, number | undefined>> => {
      const samples = parseExposition(await metrics.metrics());
      return Object.fromEntries(["cap", "idle_stranger", "evicted"].map((reason) => [reason, value(samples, "rxon_hub_connections_closed_total", { reason })]));
    };
    expect(await closed()).toEqual({ cap: 0, idle_stranger: 0, evicted: 0 });
    // Three silent connections from one address at a cap of two: the third takes the first's place,
    // then the other two wait for a request past the deadline.
    for (let i = 0; i < 3; i++) {
      const w = open(server.port, "127.0.0.1");
      sockets.push(w);
      await settled([w]);
    }
    await until(() => sockets.every((w) => w.closed), 5000);
    expect(await closed()).toEqual({ cap: 0, idle_stranger: 2, evicted: 1 });
    // Two held polls of a worker fill the address: a newcomer has no stranger to take the place of.
    const poll = "GET /_worker/workers/gpu-1/tasks/next HTTP/1.1\r\nHost: x\r\nX-Worker-ID: gpu-1\r\nX-Worker-Token: s-gpu-1\r\n\r\n";
    const held = [open(server.port, "127.0.0.1", poll), open(server.port, "127.0.0.1", poll)];
    sockets.push(...held);
    await settled(held);
    await until(async () => hub.stats().then((st) => st.waitingPolls === 2));
    const refused = open(server.port, "127.0.0.1");
    sockets.push(refused);
    expect(await refused.closedWithin(2000)).toBe(true);
    expect(await closed()).toEqual({ cap: 1, idle_stranger: 2, evicted: 1 });
  });

  it("keeps the skill label bounded whatever clients submit, and adds up what it counts as other", async () => {
    const hub = new Hub();
    cleanup.push(() => hub.close());
    const metrics = attachHubMetrics(hub, { maxSkills: 3 });
    for (let i = 0; i < 10; i++) await hub.submit({ type: `t${i}` });
    // Submission events follow the queueing, a moment after submit() returned.
    await waitUntil(async () => sum(parseExposition(await metrics.metrics()), "rxon_hub_tasks_submitted_total") === 10);
    const samples = parseExposition(await metrics.metrics());
    const skills = samples.filter((s) => s.name === "rxon_hub_tasks_submitted_total").map((s) => s.labels.skill);
    expect(skills.sort()).toEqual(["other", "t0", "t1", "t2"]);
    expect(value(samples, "rxon_hub_tasks_submitted_total", { skill: "other" })).toBe(7);
    // The queue depths of the skills counted as other add up: 3 skills of their own, 7 under `other`.
    expect(value(samples, "rxon_hub_queue_depth", { skill: "other" })).toBe(7);
    expect(sum(samples, "rxon_hub_queue_depth")).toBe(10);
  });

  it("counts refused client tokens as auth refusals", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS }, clientTokens: ["client-token-good-1"] });
    const metrics = attachHubMetrics(hub);
    const server = await hub.listen({ port: 0, metrics });
    cleanup.push(() => hub.close());
    for (const token of ["wrong-token-1", "wrong-token-2"]) {
      const res = await fetch(`${server.url}/_client/tasks`, { method: "POST", headers: { "X-Client-Token": token, "Content-Type": "application/json" }, body: "{}" });
      expect(res.status).toBe(403);
    }
    const samples = parseExposition(await metrics.metrics());
    expect(value(samples, "rxon_hub_refused_total", { reason: "auth" })).toBe(2);
  });

  it("counts running tasks submitted over the client API (from the store, as every hub on it sees them)", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS }, heartbeatIntervalMs: 500, clientTokens: ["client-token-run-1"] });
    const metrics = attachHubMetrics(hub);
    const server = await hub.listen({ port: 0, metrics });
    cleanup.push(() => hub.close());
    let started = 0;
    const w = new Worker({ url: server.url, workerId: "cpu-1", token: SECRETS["cpu-1"]!, secret: SECRETS["cpu-1"]!, skills: [hangSkill(() => started++)] as never, heartbeatIntervalMs: 500, concurrency: 2 });
    cleanup.push(() => w.stop({ graceMs: 100 }));
    await w.start();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/_client/tasks`, { method: "POST", headers: { "X-Client-Token": "client-token-run-1", "Content-Type": "application/json" }, body: JSON.stringify({ type: "hang", params: {} }) });
      expect(res.status).toBe(202);
    }
    await waitUntil(() => started === 2);
    expect(value(parseExposition(await metrics.metrics()), "rxon_hub_tasks_running")).toBe(2);
    expect((await hub.stats()).running).toBe(2);
  });
});
