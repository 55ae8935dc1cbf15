/**
 * The dashboard's HTTP API on a real server (127.0.0.1:0): off unless enabled, admin tokens,
 * stream tickets, refusals, actions, and answers that stay paginated and small with 10 000
 * workers and 100 000 queued tasks.
 */
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { Hub, profileOf } from "../../src/hub/index.js";
import { Dashboard, type DashboardOptions } from "../../src/hub/dashboard/index.js";
import { serve, type HubServer } from "../../src/hub/server.js";
import type { WorkerRecord } from "../../src/hub/store.js";
import { silentLogger } from "../../src/logger.js";
import { register, skill, until } from "../hub/helpers.js";

const ADMIN = "admin-token-0123456789abcdef";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(options: Partial<DashboardOptions> = {}, hub = new Hub({ heartbeatIntervalMs: 60_000 })): Promise<{ hub: Hub; dashboard: Dashboard; server: HubServer }> {
  const dashboard = Dashboard.forHub(hub, { adminTokens: [ADMIN], ...options });
  const server = await serve(hub.handler, { port: 0 }, silentLogger, [hub.clientApi, dashboard]);
  cleanup.push(() => hub.close(), () => server.close(), () => dashboard.close());
  return { hub, dashboard, server };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown> & { items?: unknown[] };
}

async function get(url: string, path: string, o: { token?: string | null; method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const token = o.token === undefined ? ADMIN : o.token;
  const res = await request(url + path, {
    method: (o.method ?? "GET") as "GET",
    headers: { ...(token !== null ? { "X-Client-Token": token } : {}), ...o.headers },
    ...(o.body !== undefined ? { body: o.body } : {}),
  });
  const text = await res.body.text();
  let json = {} as Answer["json"];
  try {
    json = JSON.parse(text) as Answer["json"];
  } catch {
    // not JSON
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

describe("dashboard API", () => {
  it("is off unless admin tokens are configured: its paths are unknown (404)", async () => {
    const hub = new Hub();
    const off = Dashboard.forHub(hub, { adminTokens: [] });
    const server = await serve(hub.handler, { port: 0 }, silentLogger, [hub.clientApi, off]);
    cleanup.push(() => hub.close(), () => server.close(), () => off.close());
    expect(off.enabled).toBe(false);
    for (const path of ["/_dashboard", "/_dashboard/", "/_dashboard/assets/app.js", "/_dashboard/api/summary"]) {
      expect((await get(server.url, path)).status).toBe(404);
    }
  });

  it("serves the app to anyone but the data only with an admin token", async () => {
    const { server } = await setup();
    const page = await get(server.url, "/_dashboard/", { token: null });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(String(page.headers["content-security-policy"])).toContain("default-src 'none'");
    // Nothing is loaded from elsewhere: every script and stylesheet is relative to the page.
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect((await get(server.url, "/_dashboard", { token: null })).headers.location).toBe("/_dashboard/");
    expect((await get(server.url, "/_dashboard/assets/app.js", { token: null })).headers["content-type"]).toContain("javascript");
    expect((await get(server.url, "/_dashboard/assets/../source.ts", { token: null })).status).toBe(404);
    expect((await get(server.url, "/_dashboard/assets/nothing.js", { token: null })).status).toBe(404);

    const missing = await get(server.url, "/_dashboard/api/summary", { token: null });
    expect(missing.status).toBe(401);
    const wrong = await get(server.url, "/_dashboard/api/summary", { token: "admin-token-0123456789abcdeX" });
    expect(wrong.status).toBe(403);
    expect(wrong.text.length).toBeLessThan(200);
    expect(wrong.text).not.toContain(ADMIN);
    expect((await get(server.url, "/_dashboard/api/summary")).status).toBe(200);
  });

  it("opens the live stream only with a fresh single-use ticket", async () => {
    let now = Date.now();
    const { server } = await setup({ streamIntervalMs: 100, now: () => now });
    expect((await get(server.url, "/_dashboard/api/ticket", { method: "POST", token: null })).status).toBe(401);
    const { ticket } = (await get(server.url, "/_dashboard/api/ticket", { method: "POST" })).json as { ticket: string };
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const controller = new AbortController();
    const res = await request(`${server.url}/_dashboard/api/stream?ticket=${ticket}`, { signal: controller.signal });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/event-stream");
    let seen = "";
    for await (const chunk of res.body) {
      seen += String(chunk);
      if (seen.includes("event: summary\ndata: ")) break;
    }
    controller.abort();
    const frame = seen.slice(seen.indexOf("data: ") + 6, seen.indexOf("\n", seen.indexOf("data: ")));
    expect(JSON.parse(frame)).toMatchObject({ stats: { workers: 0 }, canDrain: true });

    // Used once: refused the second time; an expired one is refused too.
    expect((await get(server.url, `/_dashboard/api/stream?ticket=${ticket}`, { token: null })).status).toBe(403);
    const late = (await get(server.url, "/_dashboard/api/ticket", { method: "POST" })).json.ticket as string;
    now += 31_000;
    expect((await get(server.url, `/_dashboard/api/stream?ticket=${late}`, { token: null })).status).toBe(403);
    expect((await get(server.url, "/_dashboard/api/stream", { token: null })).status).toBe(403);
  });

  it("refuses bodies, long targets, unknown routes and wrong methods with small answers", async () => {
    const { server } = await setup();
    const body = await get(server.url, "/_dashboard/api/ticket", { method: "POST", body: "x".repeat(10_000), headers: { "Content-Type": "application/json" } });
    expect(body.status).toBe(413);
    expect((await get(server.url, `/_dashboard/api/tasks?q=${"a".repeat(3000)}`)).status).toBe(414);
    expect((await get(server.url, "/_dashboard/api/nothing")).status).toBe(404);
    expect((await get(server.url, "/_dashboard/api/tasks/bad%20id")).status).toBe(404);
    expect((await get(server.url, "/_dashboard/api/tasks/a/b/c")).status).toBe(404);
    expect((await get(server.url, "/_dashboard/api/summary", { method: "DELETE" })).status).toBe(405);
    expect((await get(server.url, "/_dashboard/api/tasks/job-x")).status).toBe(404);
    expect((await get(server.url, "/_dashboard/api/tasks/job-x/cancel", { method: "POST" })).status).toBe(404);
    for (const a of [body]) expect(a.text.length).toBeLessThan(200);
  });

  it("refuses a number parameter that is not a number with 400 naming it, and moves out-of-range ones to the nearer end", async () => {
    const { server } = await setup();
    for (const path of ["/_dashboard/api/throughput?seconds=abc", "/_dashboard/api/workers?limit=ten", "/_dashboard/api/tasks?offset=1e3", "/_dashboard/api/tasks?limit=0x10"]) {
      const a = await get(server.url, path);
      expect(a.status, path).toBe(400);
      expect(a.json.code).toBe("INVALID_INPUT_ERROR");
      expect(a.text.length).toBeLessThan(200);
    }
    expect((await get(server.url, "/_dashboard/api/throughput?seconds=abc")).json.error).toMatch(/seconds/);
    expect((await get(server.url, "/_dashboard/api/throughput?seconds=5")).json.seconds).toBe(10);
    expect((await get(server.url, "/_dashboard/api/throughput?seconds=9000")).json.seconds).toBe(600);
    expect((await get(server.url, "/_dashboard/api/throughput?seconds=30")).json.seconds).toBe(30);
    expect((await get(server.url, "/_dashboard/api/throughput?seconds=")).json.seconds).toBe(600);
    expect((await get(server.url, "/_dashboard/api/workers?limit=500")).json.limit).toBe(200);
  });

  it("cancels a queued task and drains a worker", async () => {
    const { hub, server } = await setup();
    await register(hub, "cpu-1", { supported_skills: [skill("echo")] });
    const t = await hub.submit({ type: "nobody-runs-this" });
    await until(async () => (await hub.store.queueLength()) === 1);
    const cancel = await get(server.url, `/_dashboard/api/tasks/${t.jobId}/cancel`, { method: "POST" });
    expect(cancel.status).toBe(202);
    expect((await t.result()).status).toBe("cancelled");
    const detail = await get(server.url, `/_dashboard/api/tasks/${t.jobId}`);
    expect((detail.json.timeline as { kind: string }[]).map((e) => e.kind)).toEqual(["submitted", "cancel_requested", "completed"]);
    // Without admin rights nothing happens.
    const u = await hub.submit({ type: "nobody-runs-this" });
    expect((await get(server.url, `/_dashboard/api/tasks/${u.jobId}/cancel`, { method: "POST", token: "wrong" })).status).toBe(403);
    expect((await hub.store.getJob(u.jobId))?.state).toBe("waiting_for_worker");

    expect((await get(server.url, "/_dashboard/api/summary")).json.canDrain).toBe(true);
    expect((await get(server.url, "/_dashboard/api/workers/cpu-1/drain", { method: "POST", token: null })).status).toBe(401);
    expect((await hub.store.getWorker("cpu-1"))?.drained).toBeUndefined();
    expect((await get(server.url, "/_dashboard/api/workers/cpu-1/drain", { method: "POST" })).status).toBe(202);
    expect((await get(server.url, "/_dashboard/api/workers/nobody/drain", { method: "POST" })).status).toBe(404);
    expect((await hub.store.getWorker("cpu-1"))?.drained).toBe(true);
  });

  it("stays paginated and small with 10 000 workers and 100 000 queued tasks", async () => {
    const { hub, server } = await setup({ analysisReadBudget: 200_000 });
    const now = Date.now();
    for (let i = 0; i < 10_000; i++) {
      const id = `w-${String(i).padStart(5, "0")}`;
      const record: WorkerRecord = {
        id,
        status: i % 10 === 0 ? "busy" : "idle",
        workerType: "generic",
        skills: [skill("echo"), skill(`s${i % 50}`)],
        resources: { devices: [{ type: "gpu", id: "gpu0", model: "A100", properties: { vram_gb: 80 } }] },
        usage: { cpu_load_percent: 10, devices_usage: [{ unit_id: "gpu0", load_percent: i % 100 }] },
        registeredAt: now,
        lastSeenAt: now,
        expiresAt: now + 3_600_000,
      };
      await hub.store.register({ ...record, profile: profileOf(record) }, []);
    }
    for (let i = 0; i < 100_000; i++) await hub.submit({ type: "unknown-skill", priority: i % 3 });
    await until(async () => (await hub.store.queueLength()) === 100_000, 60_000);

    const fleet = await get(server.url, "/_dashboard/api/workers?limit=100000&offset=9990");
    expect(fleet.status).toBe(200);
    expect(fleet.json).toMatchObject({ total: 10_000, fleetSize: 10_000, offset: 9990, limit: 200 });
    expect(fleet.json.items).toHaveLength(10);
    expect((fleet.json.byStatus as Record<string, number>).busy).toBe(1000);
    const first = await get(server.url, "/_dashboard/api/workers");
    expect(first.json.items).toHaveLength(50);
    expect(first.text.length).toBeLessThan(64 * 1024);
    const filtered = await get(server.url, "/_dashboard/api/workers?skill=s7&limit=5");
    expect(filtered.json).toMatchObject({ total: 200 });
    expect(filtered.json.items).toHaveLength(5);

    const queues = await get(server.url, "/_dashboard/api/queues");
    expect(queues.status).toBe(200);
    expect(queues.json.total).toBe(100_000);
    expect(queues.json.blocked).toMatchObject({ total: 100_000, pending: 0 });
    expect((queues.json.blocked as { groups: { reason: string; count: number }[] }).groups).toEqual([
      expect.objectContaining({ skill: "unknown-skill", reason: "missing_skill", count: 100_000 }),
    ]);
    expect(queues.text.length).toBeLessThan(64 * 1024);

    const tasks = await get(server.url, "/_dashboard/api/tasks?limit=20&state=waiting_for_worker");
    expect(tasks.json).toMatchObject({ total: 100_000, known: 100_000 });
    expect(tasks.json.items).toHaveLength(20);
    expect(tasks.text.length).toBeLessThan(16 * 1024);

    const summary = await get(server.url, "/_dashboard/api/summary");
    expect(summary.json.stats).toMatchObject({ workers: 10_000, queued: 100_000 });
    expect(summary.text.length).toBeLessThan(4 * 1024);
  }, 120_000);

  it("reads blocked tasks over several refreshes within its read budget", async () => {
    let now = Date.now();
    const { hub, server } = await setup({ analysisReadBudget: 100, now: () => now });
    for (let i = 0; i < 250; i++) await hub.submit({ type: "gpu-job", requirements: { skillVersion: "2.0.0" } });
    await until(async () => (await hub.store.queueLength()) === 250);
    await register(hub, "cpu-1", { supported_skills: [skill("gpu-job")] });
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      now += 1500;
      seen.push((await get(server.url, "/_dashboard/api/queues")).json.blocked);
    }
    expect(seen.map((b) => (b as { total: number; pending: number }).pending)).toEqual([150, 50, 0]);
    expect((seen[2] as { total: number }).total).toBe(250);
    expect((seen[2] as { groups: { reason: string }[] }).groups[0]!.reason).toBe("version");
  });
});
