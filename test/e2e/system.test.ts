/**
 * The whole system in real processes: a hub child process, three `rxon worker` processes and a
 * Python-shaped worker speaking raw HTTP from this process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { canonicalize, signMessage } from "../../src/security/index.js";
import { start, stop, type Proc } from "./procs.js";

const TOKENS: Record<string, string> = { "w-gpu": "tok-gpu-0123", "w-cpu1": "tok-cpu1-4567", "w-cpu2": "tok-cpu2-89ab", "py-1": "tok-py-cdef" };
const RES: Record<string, unknown> = {
  "w-gpu": { devices: [{ type: "gpu", id: "gpu0", properties: { vram_gb: 16 } }], properties: { cpu_cores: 8, pool: "gpu" } },
  "w-cpu1": { properties: { cpu_cores: 4, pool: "cpu" } },
  "w-cpu2": { properties: { cpu_cores: 4, pool: "cpu" } },
};
const GPU = { resources: { devices: [{ type: "gpu" }] } };
const CPU = { resources: { properties: { pool: "cpu" } } };

let hub: Proc;
let url: string;
const workers = new Map<string, Proc>();
let refCount = 0;

function worker(id: string): Proc {
  return start(
    ["src/cli/main.ts", "worker", "--url", url, "--id", id, "--skills", "test/e2e/skills.ts", "--resources", JSON.stringify(RES[id]), "--heartbeat-interval", "300", "--concurrency", "2", "--grace", "10000", "--log-level", "warn"],
    { RXON_TOKEN: TOKENS[id]! },
  );
}

function submit(task: Record<string, unknown>): string {
  const ref = `r${++refCount}`;
  hub.send({ op: "submit", ref, task });
  return ref;
}

async function outcome(ref: string, ms = 40_000): Promise<Record<string, unknown>> {
  const ev = await hub.waitFor((e) => e.ev === "outcome" && e.ref === ref, ms);
  return ev.outcome as Record<string, unknown>;
}

async function jobOf(ref: string): Promise<string> {
  return (await hub.waitFor((e) => e.ev === "submitted" && e.ref === ref)).jobId as string;
}

async function startedOn(jobId: string): Promise<{ id: string; event: Record<string, unknown> }> {
  const found = await Promise.race(
    [...workers].map(async ([id, p]) => ({ id, event: await p.waitFor((e) => e.ev === "started" && e.job === jobId, 15_000) })),
  );
  return found;
}

/** Raw HTTP as the Python worker SDK does it: three headers, canonical signed bodies. */
async function py(method: "GET" | "POST" | "PATCH", path: string, body?: Record<string, unknown>, opts: { sign?: string; raw?: string } = {}) {
  const text = opts.raw ?? (body === undefined ? undefined : canonicalize(signMessage(body, { secret: opts.sign ?? TOKENS["py-1"]!, signerId: "py-1" })));
  const res = await request(url + path, {
    method,
    headers: {
      "X-Worker-Token": TOKENS["py-1"]!,
      "X-Worker-ID": "py-1",
      "X-RXON-Version": "1.0b14",
      ...(text !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    ...(text !== undefined ? { body: text } : {}),
  });
  const out = await res.body.text();
  return { status: res.statusCode, body: out === "" ? null : (JSON.parse(out) as Record<string, unknown>), text };
}

beforeAll(async () => {
  hub = start(["test/e2e/hub-process.ts"], { RXON_TOKENS: JSON.stringify(TOKENS) });
  url = (await hub.waitFor((e) => e.ev === "listening")).url as string;
  for (const id of ["w-gpu", "w-cpu1", "w-cpu2"]) workers.set(id, worker(id));
  for (const id of workers.keys()) await hub.waitFor((e) => e.ev === "registered" && e.workerId === id, 20_000);
}, 40_000);

afterAll(async () => {
  await Promise.all([...workers.values()].map((w) => stop(w)));
  await stop(hub);
});

describe("hub and workers in separate processes", { timeout: 60_000 }, () => {
  it("runs GPU tasks only on the GPU worker and CPU tasks only on CPU workers", async () => {
    const gpu = Array.from({ length: 4 }, () => submit({ type: "work", params: { ms: 20 }, requirements: GPU }));
    const cpu = Array.from({ length: 6 }, () => submit({ type: "work", params: { ms: 20 }, requirements: CPU }));
    for (const ref of gpu) expect(await outcome(ref)).toMatchObject({ status: "success", workerId: "w-gpu" });
    for (const ref of cpu) {
      const o = await outcome(ref);
      expect(o.status).toBe("success");
      expect(["w-cpu1", "w-cpu2"]).toContain(o.workerId);
    }
  });

  it("delivers a cancel to the running handler's AbortSignal within a second", async () => {
    const ref = submit({ type: "work", params: { ms: 30_000 }, requirements: CPU });
    const jobId = await jobOf(ref);
    const { id } = await startedOn(jobId);
    hub.send({ op: "cancel", ref });
    const sent = await hub.waitFor((e) => e.ev === "cancel_sent" && e.ref === ref);
    const aborted = await workers.get(id)!.waitFor((e) => e.ev === "aborted" && e.job === jobId, 5000);
    expect((aborted.at as number) - (sent.at as number)).toBeLessThan(1000);
    expect(await outcome(ref)).toMatchObject({ status: "cancelled", workerId: id });
  });

  it("re-runs the task of a killed worker elsewhere and delivers its result once", async () => {
    const ref = submit({ type: "work", params: { ms: 1500, tag: "kill" }, requirements: CPU });
    const jobId = await jobOf(ref);
    const { id } = await startedOn(jobId);
    const victim = workers.get(id)!;
    victim.child.kill("SIGKILL");
    await victim.exited;
    workers.delete(id);
    const o = await outcome(ref);
    const survivor = id === "w-cpu1" ? "w-cpu2" : "w-cpu1";
    expect(o).toMatchObject({ status: "success", workerId: survivor, attempts: 2 });
    await hub.waitFor((e) => e.ev === "expired" && e.workerId === id);
    expect(hub.events.filter((e) => e.ev === "outcome" && e.ref === ref)).toHaveLength(1);
  });

  it("refuses and logs a wrongly signed message and a replayed event; answers a repeated registration as the first", async () => {
    const bad = await py("POST", "/_worker/workers/register", { worker_id: "py-1", supported_skills: [] }, { sign: "not-my-secret" });
    expect(bad.status).toBe(403);
    await hub.waitFor((e) => e.ev === "refused" && e.workerId === "py-1" && e.reason === "bad_signature");
    const good = await py("POST", "/_worker/workers/register", { worker_id: "py-1", supported_skills: [{ name: "py_echo", version: "1.0.0" }] });
    expect(good.status).toBe(200);
    const again = await py("POST", "/_worker/workers/register", undefined, { raw: good.text! });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "registered" });
    const event = await py("POST", "/_worker/events", { event_id: "ev-1", worker_id: "py-1", origin_worker_id: "py-1", event_type: "progress", payload: { progress: 0.5 } });
    expect(event.status).toBe(200);
    const replay = await py("POST", "/_worker/events", undefined, { raw: event.text! });
    expect(replay.status).toBe(403);
    await hub.waitFor((e) => e.ev === "refused" && e.workerId === "py-1" && e.reason === "replay");
    expect(hub.stderr.some((l) => l.includes("refused register"))).toBe(true);
  });

  it("serves a Python-shaped worker: register, heartbeat, poll, result accepted", async () => {
    const reg = await py("POST", "/_worker/workers/register", {
      worker_id: "py-1",
      worker_type: "generic",
      supported_skills: [{ name: "py_echo", type: "py_echo", version: "1.0.0", input_schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } }],
      resources: { properties: { cpu_cores: 4, ram_gb: 0 } },
      capabilities: { hostname: "py-host", ip_address: "0.0.0.0", extra: { websockets: false } },
    });
    expect(reg.status).toBe(200);
    expect(reg.body).toMatchObject({ status: "registered" });
    const hb = await py("PATCH", "/_worker/workers/py-1", { worker_id: "py-1", status: "idle", current_tasks: [], usage: { cpu_load_percent: 1.5, ram_used_gb: 0.5 } });
    expect(hb.body).toEqual({ status: "ok" });
    const ref = submit({ type: "py_echo", params: { text: "hello" } });
    const task = await py("GET", "/_worker/workers/py-1/tasks/next?timeout=30.0");
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({ type: "py_echo", params: { text: "hello" } });
    const res = await py("POST", "/_worker/tasks/result", {
      job_id: task.body!.job_id,
      task_id: task.body!.task_id,
      worker_id: "py-1",
      origin_worker_id: "py-1",
      status: "success",
      data: { text: "hello" },
      costs: { execution_time_seconds: 0.0123 },
    });
    expect(res.body).toEqual({ status: "accepted", transition: "success_transition" });
    expect(await outcome(ref)).toMatchObject({ status: "success", workerId: "py-1", data: { text: "hello" } });
  });

  it("finishes in-flight work when a worker drains on SIGTERM", async () => {
    const [id, proc] = [...workers].find(([w]) => w !== "w-gpu")!;
    const ref = submit({ type: "work", params: { ms: 800, tag: "drain" }, requirements: CPU });
    const jobId = await jobOf(ref);
    await proc.waitFor((e) => e.ev === "started" && e.job === jobId);
    proc.child.kill("SIGTERM");
    expect(await outcome(ref)).toMatchObject({ status: "success", workerId: id });
    expect(await proc.exited).toBe(0);
    expect(proc.lines.some((l) => l.includes("stopped"))).toBe(true);
    workers.delete(id);
  });
});
