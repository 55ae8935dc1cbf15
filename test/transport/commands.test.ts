import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WorkerCommand } from "../../generated/types.js";
import { waitUntil } from "../../src/testing/index.js";
import { createTransport, type HttpTransport } from "../../src/transport/index.js";
import type { TransportOptions } from "../../src/transport/options.js";
import { memoryLogger } from "./helpers.js";
import { TestServer } from "./server.js";

let server: TestServer;
const open: HttpTransport[] = [];

function transport(options: TransportOptions = {}, token = "tok", url = server.url.replace(/^http/, "ws")): HttpTransport {
  const t = createTransport(url, "w1", token, { wsBackoffInitialMs: 50, wsBackoffMaxMs: 200, ...options }) as HttpTransport;
  open.push(t);
  return t;
}

/** Collects commands from the transport's stream until aborted. */
function collect(t: HttpTransport, signal?: AbortSignal): { got: WorkerCommand[]; done: Promise<void> } {
  const got: WorkerCommand[] = [];
  const done = (async () => {
    for await (const c of t.commands(signal ? { signal } : {})) got.push(c);
  })();
  return { got, done };
}

beforeEach(async () => {
  server = await new TestServer().start();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await server.stop();
});

describe("command channel", () => {
  it("opens the WebSocket with the three headers and yields decoded commands", async () => {
    const t = transport({ protocolVersion: "1.0b13" });
    const { got } = collect(t);
    await waitUntil(() => server.wsClients.size === 1);
    expect(server.wsHandshakes[0]).toMatchObject({ "x-worker-token": "tok", "x-worker-id": "w1", "x-rxon-version": "1.0b13" });
    // The Python server's encoder writes spaces after separators; any JSON is fine.
    server.pushCommand('{"command": "cancel_task", "task_id": "task-9", "job_id": "job-9"}');
    await waitUntil(() => got.length === 1);
    expect(got[0]).toEqual({ command: "cancel_task", task_id: "task-9", job_id: "job-9" });
  });

  it("skips malformed frames and keeps the stream going", async () => {
    const logger = memoryLogger();
    const t = transport({ logger });
    const { got } = collect(t);
    await waitUntil(() => server.wsClients.size === 1);
    server.pushCommand("not json");
    server.pushCommand({ task_id: "no command" });
    server.pushCommand({ command: 42 });
    for (const ws of server.wsClients) ws.send(Buffer.from([1, 2, 3]), { binary: true });
    server.pushCommand({ command: "cancel_task", task_id: "t-1" });
    await waitUntil(() => got.length === 1);
    expect(got).toEqual([{ command: "cancel_task", task_id: "t-1" }]);
    expect(logger.entries.filter((e) => e.message === "Malformed command frame skipped")).toHaveLength(3);
    expect(t.commandChannelOpen).toBe(true);
  });

  it("resumes after the server is stopped and restarted", async () => {
    const t = transport();
    const { got } = collect(t);
    await waitUntil(() => server.wsClients.size === 1);
    server.pushCommand({ command: "cancel_task", task_id: "before" });
    await waitUntil(() => got.length === 1);
    await server.stop();
    await new Promise((r) => setTimeout(r, 300));
    await server.start();
    await waitUntil(() => server.wsClients.size === 1, { timeoutMs: 10_000 });
    server.pushCommand({ command: "cancel_task", task_id: "after" });
    await waitUntil(() => got.length === 2);
    expect(got.map((c) => c.task_id)).toEqual(["before", "after"]);
  });

  it("retries refused handshakes and refreshes the token after a 401", async () => {
    await server.stop();
    server = await new TestServer({ tokens: new Set() }).start();
    server.next("ws", { status: 403 });
    const t = transport({}, "expired");
    collect(t);
    await waitUntil(() => server.wsClients.size === 1, { timeoutMs: 10_000 });
    expect(server.routeRequests("sts_token")).toHaveLength(1);
    expect(server.wsHandshakes[0]!["x-worker-token"]).toBe("access-1");
  });

  it("waits at least Retry-After after a rate-limited handshake", async () => {
    const logger = memoryLogger();
    server.next("ws", { status: 429, headers: { "retry-after": "1" } });
    const t = transport({ logger });
    collect(t);
    await waitUntil(() => server.wsClients.size === 1, { timeoutMs: 10_000 });
    const reconnect = logger.entries.find((e) => e.message.startsWith("Command channel disconnected"));
    expect((reconnect!.fields as { delay_ms: number }).delay_ms).toBeGreaterThanOrEqual(1_000);
  });

  it("ends the stream promptly when aborted or when the transport closes", async () => {
    const t = transport();
    const controller = new AbortController();
    const a = collect(t, controller.signal);
    const b = collect(t);
    await waitUntil(() => server.wsClients.size === 1);
    server.pushCommand({ command: "x" });
    await waitUntil(() => a.got.length === 1 && b.got.length === 1);
    controller.abort();
    await a.done;
    expect(t.commandChannelOpen).toBe(true);
    await t.close();
    await b.done;
    await waitUntil(() => server.wsClients.size === 0);
  });

  it("stops reconnecting when nobody listens any more", async () => {
    const t = transport();
    const controller = new AbortController();
    const a = collect(t, controller.signal);
    await waitUntil(() => server.wsClients.size === 1);
    controller.abort();
    await a.done;
    await waitUntil(() => server.wsClients.size === 0);
    const before = server.wsHandshakes.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(server.wsHandshakes.length).toBe(before);
  });
});

describe("emitEvent", () => {
  const event = { event_id: "e-1", worker_id: "w1", origin_worker_id: "w1", event_type: "progress", payload: { progress: 0.5 } };

  it("goes over HTTP without an open socket", async () => {
    const t = transport();
    expect(await t.emitEvent(event)).toBe(true);
    expect(JSON.parse(server.routeRequests("event")[0]!.body)).toMatchObject({ event_id: "e-1", priority: 0 });
  });

  it("goes over the open socket as a JSON text frame", async () => {
    const t = transport();
    collect(t);
    await waitUntil(() => t.commandChannelOpen);
    expect(await t.emitEvent(event)).toBe(true);
    await waitUntil(() => server.wsFrames.length === 1);
    expect(JSON.parse(server.wsFrames[0]!)).toMatchObject({ event_id: "e-1", event_type: "progress" });
    expect(server.routeRequests("event")).toHaveLength(0);
  });

  it("returns false when the orchestrator refuses the event or cannot be reached", async () => {
    const t = transport();
    server.next("event", { status: 200, body: { status: "error", code: "CONTRACT_VIOLATION_ERROR", message: "bad" } });
    expect(await t.emitEvent(event)).toBe(false);
    server.next("event", { status: 500 });
    expect(await t.emitEvent(event)).toBe(false);
    await server.stop();
    expect(await t.emitEvent(event)).toBe(false);
  });
});
