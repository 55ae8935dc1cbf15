/**
 * A Python-shaped worker: the exact request sequence of the Python worker SDK (paths, headers,
 * canonical bodies signed with HMAC as in ../shared/vectors), against a listener with the
 * verification layer on. The vector bodies are sent byte for byte; the verifier's clock is set to
 * their time instead of re-stamping them.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { AuthError } from "../../src/errors.js";
import { signHmac } from "../../src/security/index.js";
import type { CommandChannel, ListenerContext, RxonHandler } from "../../src/listener/index.js";
import { start, until, type Started } from "./helpers.js";

interface Vector {
  name: string;
  input_text: string;
  secret: string;
}
const vectors = (JSON.parse(readFileSync(new URL("./fixtures/python-worker-vectors.json", import.meta.url), "utf8")) as { cases: Vector[] }).cases;
const vector = (name: string): Vector => vectors.find((v) => v.name === name)!;

const WORKER = "worker-gpu-01";
const SECRET = "worker-token-5a9b0c";
// Every vector timestamp (1767224990 … 1767225100) lies within the ±60 s window of this instant
// (the registration exactly at its edge, which the orchestrator accepts).
const NOW_MS = 1_767_225_050_000;

/** Headers as aiohttp sends them for the worker SDK's transport. */
function pythonHeaders(workerId: string, token: string, body: boolean): Record<string, string> {
  const h: Record<string, string> = {
    Host: "127.0.0.1",
    "X-Worker-Token": token,
    "X-Worker-ID": workerId,
    "X-RXON-Version": "1.0b14",
    Accept: "*/*",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "Python/3.11 aiohttp/3.9.5",
  };
  if (body) h["Content-Type"] = "application/json";
  return h;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(port: number, method: string, path: string, body: string | undefined, workerId = WORKER, token = SECRET): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = pythonHeaders(workerId, token, body !== undefined);
    if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Python's json.dumps with default separators (", ", ": ") and ensure_ascii, as the SDK writes frames. */
function pythonDumps(value: unknown): string {
  if (Array.isArray(value)) return "[" + value.map(pythonDumps).join(", ") + "]";
  if (value !== null && typeof value === "object") {
    return "{" + Object.entries(value).map(([k, v]) => pythonDumps(k) + ": " + pythonDumps(v)).join(", ") + "}";
  }
  if (typeof value === "string") return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  return JSON.stringify(value);
}

describe("a Python-shaped worker against the verifying listener", () => {
  let s: Started;
  const calls: { action: string; payload: unknown; context: ListenerContext }[] = [];
  let channel: CommandChannel | undefined;
  let task: object | null = {
    task_id: "task-0001",
    job_id: "job-7f3a9c21",
    type: "image.resize",
    params: { width: 1024, height: 768 },
    priority: 0,
    deadline: 1767225300.25,
    timestamp: 1767225000.123456,
    skill_version: "2.1.0",
  };

  beforeAll(async () => {
    const handler: RxonHandler = async (action, payload, context) => {
      calls.push({ action, payload, context });
      // The orchestrator's authentication (7.1) stays the application's job.
      if (context.token !== SECRET) throw new AuthError("Unauthorized: Invalid individual worker token");
      switch (action) {
        case "register":
          return { status: "registered", version: "1.0b14" };
        case "heartbeat":
          return payload === null ? { status: "ttl_refreshed" } : { status: "ok" };
        case "poll": {
          const t = task;
          task = null;
          return t;
        }
        case "result":
          return { status: "accepted", transition: "success_transition" };
        case "sts_token":
          return { access_token: "a".repeat(43), refresh_token: "r".repeat(43), expires_in: 3600, worker_id: WORKER };
        case "sts_refresh":
          return { access_token: "b".repeat(43), refresh_token: "s".repeat(43), expires_in: 3600, worker_id: WORKER };
        case "websocket":
          channel = payload;
          await payload.closed;
          return;
        default:
          return undefined;
      }
    };
    s = await start({ handler, verify: { keys: (id) => (id.startsWith("worker-") ? { alg: "hmac-sha256", secret: SECRET } : null), clock: () => NOW_MS } });
  });
  afterAll(() => s.stop());

  const lastCall = () => calls[calls.length - 1]!;

  it("registers", async () => {
    const r = await send(s.port, "POST", "/_worker/workers/register", vector("worker_registration_full").input_text);
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(r.headers["x-rxon-version"]).toBe("1.0b15");
    expect(JSON.parse(r.text)).toEqual({ status: "registered", version: "1.0b14" });
    expect(lastCall().context.verifiedWorkerId).toBe(WORKER);
    expect(lastCall().context.rawBody).toEqual(JSON.parse(vector("worker_registration_full").input_text));
  });

  it("heartbeats with a body and without", async () => {
    const r = await send(s.port, "PATCH", `/_worker/workers/${WORKER}`, vector("heartbeat_with_device_usage").input_text);
    expect([r.status, r.text]).toEqual([200, '{"status":"ok"}']);
    expect(lastCall().context.verifiedWorkerId).toBe(WORKER);
    const ttl = await send(s.port, "PATCH", `/_worker/workers/${WORKER}`, undefined);
    expect([ttl.status, ttl.text]).toEqual([200, '{"status":"ttl_refreshed"}']);
    expect(lastCall().context.verifiedWorkerId).toBeUndefined();
  });

  it("polls a task, then 204", async () => {
    const path = `/_worker/workers/${WORKER}/tasks/next?timeout=30.0&available_skills=image.resize,image.caption&hot_skills=image.resize`;
    const r = await send(s.port, "GET", path, undefined);
    expect(r.status).toBe(200);
    expect(r.text).toBe(
      '{"deadline":1767225300.25,"job_id":"job-7f3a9c21","params":{"height":768,"width":1024},"priority":0,"skill_version":"2.1.0","task_id":"task-0001","timestamp":1767225000.123456,"type":"image.resize"}',
    );
    expect(lastCall().context).toMatchObject({ pollTimeout: 30, availableSkills: ["image.resize", "image.caption"], hotSkills: ["image.resize"] });
    const empty = await send(s.port, "GET", path, undefined);
    expect([empty.status, empty.text]).toEqual([204, ""]);
  });

  it("emits an event over HTTP (signer = sender) and sends its result", async () => {
    const original = vector("worker_event_progress_ignore_bubbling_chain").input_text;
    // As copied, the vector's signer is the origin worker, not the sender: refused as the orchestrator does (7.2 step 6).
    const refused = await send(s.port, "POST", "/_worker/events", original);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toEqual({ error: "Message signer ID 'worker-sub-03' does not match worker ID 'worker-gpu-01'", code: "SECURITY_ERROR" });
    // `security` is not signed: naming the sender as signer keeps the signature valid.
    const asSender = original.replace('"signer_id":"worker-sub-03"', `"signer_id":"${WORKER}"`);
    const ok = await send(s.port, "POST", "/_worker/events", asSender);
    expect([ok.status, ok.text]).toEqual([200, '{"status":"event_accepted"}']);

    const result = vector("task_result_success_realistic").input_text;
    const r = await send(s.port, "POST", "/_worker/tasks/result", result);
    expect([r.status, r.text]).toEqual([200, '{"status":"accepted","transition":"success_transition"}']);
    expect(lastCall().payload).toMatchObject({ task_id: "task-0001", status: "success" });
  });

  it("refuses replays, tampering, foreign signers and stale timestamps with the orchestrator's messages", async () => {
    const result = vector("task_result_success_realistic").input_text;
    const replay = await send(s.port, "POST", "/_worker/tasks/result", result);
    expect(replay.status).toBe(403);
    expect(JSON.parse(replay.text).error).toBe("Message already received (replay protection)");

    const tampered = result.replace('"ratio":0.175', '"ratio":0.9').replace('"task-0001"', '"task-0002"');
    const bad = await send(s.port, "POST", "/_worker/tasks/result", tampered);
    expect([bad.status, JSON.parse(bad.text).error]).toEqual([403, "Invalid cryptographic signature"]);

    const other = vector("task_result_failure_with_error").input_text;
    const mismatch = await send(s.port, "POST", "/_worker/tasks/result", other);
    expect([mismatch.status, JSON.parse(mismatch.text).error]).toEqual([403, "Immediate sender ID mismatch"]);
    const own = await send(s.port, "POST", "/_worker/tasks/result", other, "worker-cpu-07");
    expect([own.status, own.text]).toEqual([200, '{"status":"accepted","transition":"success_transition"}']);

    const stale = result.replace('"timestamp":1767225004', '"timestamp":1767220000');
    const expired = await send(s.port, "POST", "/_worker/tasks/result", stale);
    expect([expired.status, JSON.parse(expired.text).error]).toEqual([403, "Message timestamp expired (replay protection)"]);

    const unsigned = JSON.stringify({ job_id: "j", task_id: "t9", worker_id: WORKER, status: "success", timestamp: 1767225000 });
    const missing = await send(s.port, "POST", "/_worker/tasks/result", unsigned);
    expect([missing.status, JSON.parse(missing.text).error]).toEqual([403, "Missing required security context"]);
    const noTimestamp = await send(s.port, "PATCH", `/_worker/workers/${WORKER}`, JSON.stringify({ worker_id: WORKER, status: "idle" }));
    expect([noTimestamp.status, JSON.parse(noTimestamp.text).error]).toEqual([403, "Missing required timestamp for replay protection"]);
  });

  it("gets an STS token (no body, no Content-Type) and refreshes it", async () => {
    const r = await send(s.port, "POST", "/_worker/auth/token", undefined);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ expires_in: 3600, worker_id: WORKER });
    const refresh = await send(s.port, "POST", "/_worker/auth/token/refresh", JSON.stringify({ refresh_token: "r".repeat(43) }));
    expect(refresh.status).toBe(200);
    expect(lastCall().payload).toEqual({ refresh_token: "r".repeat(43) });
  });

  it("opens the command channel, receives a command and sends a signed event frame", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/_worker/ws/${WORKER}`, { headers: pythonHeaders(WORKER, SECRET, false) });
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    await until(() => channel !== undefined);
    const frames: unknown[] = [];
    ws.on("message", (d) => frames.push(JSON.parse(d.toString())));
    await channel!.send({ command: "cancel_task", task_id: "task-0001", job_id: "job-7f3a9c21" });
    await until(() => frames.length === 1);
    expect(frames[0]).toEqual({ command: "cancel_task", task_id: "task-0001", job_id: "job-7f3a9c21" });

    // The event already accepted over HTTP, written by Python's json.dumps: a replay, dropped.
    const replayed = JSON.parse(vector("worker_event_progress_ignore_bubbling_chain").input_text) as Record<string, unknown>;
    (replayed.security as { signer_id: string }).signer_id = WORKER;
    const before = calls.filter((c) => c.action === "event").length;
    ws.send(pythonDumps(replayed));
    // A new event signed as the SDK signs (HMAC over the canonical form without bubbling_chain), keys in another order.
    const fresh: Record<string, unknown> = { ...replayed, event_id: "evt-ws-1", timestamp: 1767225005, security: undefined };
    delete fresh.security;
    fresh.security = { signature: signHmac(fresh, SECRET, { ignoreFields: ["bubbling_chain"] }), signer_id: WORKER };
    ws.send(pythonDumps(Object.fromEntries(Object.entries(fresh).reverse())));
    await until(() => calls.filter((c) => c.action === "event").length > before);
    // Frames are handled in order, so the replay was refused before the fresh event arrived.
    const events = calls.filter((c) => c.action === "event");
    expect(events.length).toBe(before + 1);
    expect(events[events.length - 1]!.payload).toMatchObject({ event_id: "evt-ws-1" });
    expect(events[events.length - 1]!.context.verifiedWorkerId).toBe(WORKER);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close(1000);
    await channel!.closed;
  });
});
