import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthError, NetworkError, ProtocolError, RateLimitError, ValidationError } from "../../src/errors.js";
import { createTransport, type HttpTransport } from "../../src/transport/index.js";
import type { TransportOptions } from "../../src/transport/options.js";
import { memoryLogger, task } from "./helpers.js";
import { TestServer } from "./server.js";

let server: TestServer;
const open: HttpTransport[] = [];

function transport(options: TransportOptions = {}, token = "secret-token"): HttpTransport {
  const t = createTransport(server.url, "w1", token, { requestTimeoutMs: 10_000, ...options }) as HttpTransport;
  open.push(t);
  return t;
}

beforeEach(async () => {
  server = await new TestServer().start();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await server.stop();
});

describe("requests", () => {
  it("sends the three common headers and a canonical JSON body", async () => {
    const t = transport({ protocolVersion: "1.0b14" });
    const answer = await t.register({ worker_id: "w1", supported_skills: [{ name: "echo" }] });
    expect(answer).toEqual({ status: "registered", version: "1.0b14" });
    const [req] = server.routeRequests("register");
    expect(req!.headers["x-worker-token"]).toBe("secret-token");
    expect(req!.headers["x-worker-id"]).toBe("w1");
    expect(req!.headers["x-rxon-version"]).toBe("1.0b14");
    expect(req!.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(req!.body) as Record<string, unknown>;
    // Python senders include the defaults; the transport stamps an integer timestamp.
    expect(body.worker_type).toBe("generic");
    expect(Number.isInteger(body.timestamp)).toBe(true);
    expect(Object.keys(body)).toEqual([...Object.keys(body)].sort());
  });

  it("refuses an invalid message before sending it", async () => {
    const t = transport();
    await expect(t.register({ worker_type: "x" } as never)).rejects.toBeInstanceOf(ValidationError);
    expect(server.requests).toHaveLength(0);
  });

  it("polls with the reference query and returns null on 204", async () => {
    const t = transport();
    expect(await t.pollTask({ timeoutSeconds: 1, availableSkills: ["a", "b"], hotSkills: [] })).toBeNull();
    const [req] = server.routeRequests("poll");
    expect(req!.url).toBe("/_worker/workers/w1/tasks/next?timeout=1.0&available_skills=a,b&hot_skills=");
    expect(req!.headers["content-type"]).toBeUndefined();
  });

  it("returns a decoded task with defaults, and keeps extra keys of newer orchestrators", async () => {
    const t = transport();
    server.pushTask(task("1", { timestamp: 1713456700.123456, skill_version: "1.0.0" }));
    const got = await t.pollTask({ timeoutSeconds: 1 });
    expect(got).toMatchObject({ job_id: "job-1", task_id: "task-1", type: "echo", priority: 0, skill_version: "1.0.0" });
  });

  it("turns a malformed task into a ProtocolError", async () => {
    const t = transport();
    server.pushTask({ job_id: "j", type: "echo" });
    const error = await t.pollTask({ timeoutSeconds: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).details.errors).toEqual([{ path: "/task_id", message: "is required" }]);
  });

  it("sends an empty PATCH for a TTL refresh and returns heartbeat directives", async () => {
    const t = transport();
    expect(await t.sendHeartbeat(null)).toEqual({ status: "ttl_refreshed" });
    server.next("heartbeat", { status: 200, body: { status: "ok", require_full_sync: true, cancel_task_ids: ["t-9"] } });
    expect(await t.sendHeartbeat({ worker_id: "w1", status: "idle" })).toEqual({ status: "ok", require_full_sync: true, cancel_task_ids: ["t-9"] });
    const [empty, full] = server.routeRequests("heartbeat");
    expect(empty!.body).toBe("");
    expect(empty!.url).toBe("/_worker/workers/w1");
    expect(JSON.parse(full!.body)).toMatchObject({ worker_id: "w1", status: "idle" });
  });

  it("answers null for a JSON null heartbeat answer (unknown worker)", async () => {
    const t = transport();
    server.next("heartbeat", { status: 200, body: "null", headers: { "content-type": "application/json" } });
    expect(await t.sendHeartbeat(null)).toBeNull();
  });

  it("logs a protocol version mismatch once", async () => {
    await server.stop();
    server = await new TestServer({ version: "9.9" }).start();
    const logger = memoryLogger();
    const t = transport({ logger });
    await t.sendHeartbeat(null);
    await t.sendHeartbeat(null);
    expect(logger.entries.filter((e) => e.message.includes("version mismatch"))).toHaveLength(1);
  });

  it.each(["1.0b13", "1.0b14", "1.0b15"])("does not call %s a mismatch (versions 1.0b13 to 1.0b15 are spoken)", async (version) => {
    await server.stop();
    server = await new TestServer({ version }).start();
    const logger = memoryLogger();
    const t = transport({ logger });
    await t.sendHeartbeat(null);
    expect(logger.entries.filter((e) => e.message.includes("version mismatch"))).toHaveLength(0);
  });
});

describe("response statuses", () => {
  it("401: refreshes the token once, retries, and keeps the new token", async () => {
    await server.stop();
    server = await new TestServer({ tokens: new Set() }).start();
    const t = transport({}, "expired");
    expect(await t.sendHeartbeat(null)).toEqual({ status: "ttl_refreshed" });
    const routes = server.requests.map((r) => r.route);
    expect(routes).toEqual(["heartbeat", "sts_token", "heartbeat"]);
    expect(server.requests[2]!.headers["x-worker-token"]).toBe("access-1");
    expect(t.token).toBe("access-1");
    // The next refresh uses the refresh token.
    expect(await t.refreshToken()).toMatchObject({ access_token: "access-2" });
    expect(JSON.parse(server.routeRequests("sts_refresh")[0]!.body)).toEqual({ refresh_token: "refresh-1" });
  });

  it("401 twice: AuthError with status 401 after one refresh", async () => {
    const t = transport();
    server.next("heartbeat", { status: 401, body: { error: "no" } }).next("heartbeat", { status: 401, body: { error: "no" } });
    const error = await t.sendHeartbeat(null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ status: 401, message: "Unauthorized (401) from /_worker/workers/w1" });
    expect(server.requests.map((r) => r.route)).toEqual(["heartbeat", "sts_token", "heartbeat"]);
  });

  it("401 with a failing refresh: AuthError without a retry", async () => {
    const t = transport();
    server.next("heartbeat", { status: 401 }).next("sts_token", { status: 403, body: { error: "bad" } });
    await expect(t.sendHeartbeat(null)).rejects.toMatchObject({ status: 401 });
    expect(server.requests.map((r) => r.route)).toEqual(["heartbeat", "sts_token"]);
  });

  it("403: AuthError, no refresh", async () => {
    const t = transport();
    server.next("register", { status: 403, body: { error: "Unauthorized: Invalid token", code: "SECURITY_ERROR" } });
    const error = await t.register({ worker_id: "w1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ status: 403, code: "SECURITY_ERROR", message: "HTTP 403: Unauthorized: Invalid token" });
    expect(server.requests.map((r) => r.route)).toEqual(["register"]);
  });

  it("429 with Retry-After in seconds", async () => {
    const t = transport();
    server.next("poll", { status: 429, headers: { "retry-after": "7" }, body: { error: "slow down", code: "LIMIT_EXCEEDED_ERROR" } });
    const error = await t.pollTask({ timeoutSeconds: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 7000, message: "slow down", code: "LIMIT_EXCEEDED_ERROR" });
  });

  it("429 with Retry-After as an HTTP-date", async () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    const t = transport({ clock: () => now });
    // The server's clock agrees with the transport's (its Date header), so the date is 12 s ahead.
    server.next("poll", { status: 429, headers: { "retry-after": "Thu, 01 Jan 2026 00:00:12 GMT", date: "Thu, 01 Jan 2026 00:00:00 GMT" } });
    await expect(t.pollTask({ timeoutSeconds: 1 })).rejects.toMatchObject({ retryAfterMs: 12_000, message: "Rate limit exceeded" });
  });

  it("429 without Retry-After (as the Python orchestrator sends it): the default delay", async () => {
    const t = transport({ rateLimitDefaultMs: 30_000 });
    server.next("poll", { status: 429, body: { error: '{"error": "Too Many Requests"}' } });
    const error = (await t.pollTask({ timeoutSeconds: 1 }).catch((e: unknown) => e)) as RateLimitError;
    expect(error.retryAfterMs).toBe(30_000);
    expect(error.details.retryAfterSource).toBe("default");
    expect(error.message).toBe('{"error": "Too Many Requests"}');
  });

  it("429 with a text body", async () => {
    const t = transport();
    server.next("heartbeat", { status: 429, body: "busy", headers: { "content-type": "text/plain", "retry-after": "0" } });
    await expect(t.sendHeartbeat(null)).rejects.toMatchObject({ message: "Rate limit exceeded (429): busy", retryAfterMs: 0, code: "LIMIT_EXCEEDED_ERROR" });
  });

  it("500: ProtocolError with the status, retryable", async () => {
    const t = transport();
    server.next("heartbeat", { status: 500, body: { error: "boom" } });
    const error = await t.sendHeartbeat(null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).not.toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 500, message: "HTTP 500: boom", retryable: true });
  });

  it("404 text: ProtocolError, not retryable", async () => {
    const t = transport();
    server.next("register", { status: 404, body: "404: Not Found", headers: { "content-type": "text/plain" } });
    await expect(t.register({ worker_id: "w1" })).rejects.toMatchObject({ status: 404, message: "HTTP 404: 404: Not Found", retryable: false });
  });

  it("malformed JSON in a 200: ProtocolError", async () => {
    const t = transport();
    server.next("poll", { status: 200, body: '{"job_id": "j",', headers: { "content-type": "application/json" } });
    const error = await t.pollTask({ timeoutSeconds: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/not a valid JSON/);
  });

  it("a 200 with another content type: ProtocolError", async () => {
    const t = transport();
    server.next("poll", { status: 200, body: "<html></html>", headers: { "content-type": "text/html" } });
    await expect(t.pollTask({ timeoutSeconds: 1 })).rejects.toThrow(/Response is not a valid JSON: content type "text\/html"/);
  });

  it("a response larger than the limit: ProtocolError", async () => {
    const t = transport({ maxResponseBytes: 1000 });
    server.pushTask(task("big", { params: { blob: "x".repeat(5000) } }));
    await expect(t.pollTask({ timeoutSeconds: 1 })).rejects.toMatchObject({ details: { reason: "size" } });
  });
});

describe("time and cancellation", () => {
  it("a slow answer within the timeout arrives", async () => {
    const t = transport();
    server.next("heartbeat", { status: 200, body: { status: "ok" }, delayMs: 300 });
    expect(await t.sendHeartbeat(null)).toEqual({ status: "ok" });
  });

  it("a slower answer than the client timeout is a NetworkError", async () => {
    const t = transport({ requestTimeoutMs: 200 });
    server.next("heartbeat", { status: 200, body: { status: "ok" }, delayMs: 5_000 });
    const error = await t.sendHeartbeat(null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(/^Network error during PATCH \/_worker\/workers\/w1: /);
  });

  it("the poll's client timeout covers the server hold (max(timeout, 30 s) + grace)", async () => {
    // The server holds 1.5 s although the client asked for 0 s: the poll must still get its answer.
    await server.stop();
    server = await new TestServer({ pollHoldMs: 1_500 }).start();
    const t = transport({ serverPollHoldSeconds: 1, pollGraceMs: 1_000 });
    expect(await t.pollTask({ timeoutSeconds: 0 })).toBeNull();
  });

  it("an AbortSignal cancels a held poll promptly", async () => {
    await server.stop();
    server = await new TestServer({ pollHoldMs: 15_000 }).start();
    const t = transport();
    const controller = new AbortController();
    const poll = t.pollTask({ timeoutSeconds: 30, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    controller.abort(new Error("stop polling"));
    await expect(poll).rejects.toThrow("stop polling");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("close() aborts pending calls and later calls fail clearly", async () => {
    await server.stop();
    server = await new TestServer({ pollHoldMs: 15_000 }).start();
    const t = transport();
    const poll = t.pollTask({ timeoutSeconds: 30 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await t.close();
    await t.close();
    expect(await poll).toMatchObject({ message: "Transport is closed" });
    await expect(t.sendHeartbeat(null)).rejects.toMatchObject({ message: "Transport is closed" });
  });

  it("supports await using", async () => {
    let seen: HttpTransport | undefined;
    {
      await using t = createTransport(server.url, "w1", "tok") as HttpTransport;
      seen = t;
      await t.sendHeartbeat(null);
    }
    expect(seen.isClosed).toBe(true);
  });

  it("a refused connection is a NetworkError", async () => {
    const t = transport();
    await server.stop();
    const error = await t.sendHeartbeat(null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).retryable).toBe(true);
  });
});
