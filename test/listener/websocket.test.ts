import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { AuthError, RateLimitError } from "../../src/errors.js";
import type { CommandChannel, ListenerContext, RxonHandler } from "../../src/listener/index.js";
import { event, start, until, type Started } from "./helpers.js";

const HEADERS = { "X-Worker-Token": "tok", "X-Worker-ID": "w1", "X-RXON-Version": "1.0b14" };

/** Opens a client; resolves with the socket once open, or with the refusal's status and body. */
function open(s: Started, path = "/_worker/ws/w1"): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, { headers: HEADERS, perMessageDeflate: false });
    ws.once("open", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.once("error", (e) => reject(e));
  });
}

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

describe("WebSocket command channel", () => {
  let s: Started | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  it("an AuthError refuses with 403 before any upgrade", async () => {
    const actions: string[] = [];
    s = await start({
      handler: (action, _payload, _context) => {
        actions.push(action);
        if (action === "websocket_auth") throw new AuthError("Unauthorized: Invalid individual worker token");
      },
    });
    const r = await open(s);
    expect(r.status).toBe(403);
    expect(r.body).toBe("Unauthorized: Invalid individual worker token");
    expect(actions).toEqual(["websocket_auth"]);
  });

  it("false from websocket_auth → 403; 401 kept; rate limit → 429; other errors → 500 generic", async () => {
    let outcome: () => unknown = () => false;
    s = await start({ handler: (action, _payload, _context) => (action === "websocket_auth" ? outcome() : undefined) });
    expect((await open(s)).status).toBe(403);
    outcome = () => {
      throw new AuthError("expired", { status: 401 });
    };
    expect((await open(s)).status).toBe(401);
    outcome = () => {
      throw new RateLimitError("slow", 5000);
    };
    expect((await open(s)).status).toBe(429);
    outcome = () => {
      throw new Error("db password leaked");
    };
    const r = await open(s);
    expect([r.status, r.body]).toEqual([500, "Internal server error"]);
  });

  it("unknown upgrade paths are not upgraded (404 on a bare server)", async () => {
    s = await start({ handler: () => undefined });
    expect((await open(s, "/_worker/ws/")).status).toBe(404);
    expect((await open(s, "/elsewhere")).status).toBe(404);
  });

  it("before a handler is set: 503, no upgrade", async () => {
    s = await start();
    expect((await open(s)).status).toBe(503);
  });

  it("accepts, carries commands out and events in, and stays open while the handler runs", async () => {
    const events: { payload: unknown; context: ListenerContext }[] = [];
    let channel: CommandChannel | undefined;
    let authContext: ListenerContext | undefined;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const handler: RxonHandler = async (action, payload, context) => {
      if (action === "websocket_auth") authContext = context;
      if (action === "websocket") {
        channel = payload;
        await held;
      }
      if (action === "event") events.push({ payload, context });
    };
    s = await start({ handler, limits: { maxBadFramesPerMinute: 3 } });
    const { ws } = await open(s, "/_worker/ws/w%2D9");
    expect(ws).toBeDefined();
    expect(authContext).toMatchObject({ token: "tok", workerIdHint: "w-9", protocolVersion: "1.0b14", rawBody: null, certIdentity: null });
    await until(() => channel !== undefined);
    expect(channel!.workerId).toBe("w-9");
    expect(channel!.isOpen).toBe(true);

    const received: unknown[] = [];
    ws!.on("message", (data, isBinary) => received.push([isBinary, JSON.parse(data.toString())]));
    await channel!.send({ command: "cancel_task", task_id: "t1", job_id: "j1" });
    await until(() => received.length === 1);
    expect(received[0]).toEqual([false, { command: "cancel_task", job_id: "j1", task_id: "t1" }]);

    // Python writes frames with spaces and in any key order.
    ws!.send('{"payload": {"progress": 0.5}, "event_type": "progress", "event_id": "e-9", "worker_id": "w-9", "origin_worker_id": "w-9"}');
    await until(() => events.length === 1);
    expect(events[0]!.payload).toMatchObject({ event_id: "e-9", payload: { progress: 0.5 } });
    expect(events[0]!.context.rawBody).toEqual({ payload: { progress: 0.5 }, event_type: "progress", event_id: "e-9", worker_id: "w-9", origin_worker_id: "w-9" });
    expect(events[0]!.context.workerIdHint).toBe("w-9");

    // Malformed frames are logged, never answered, and do not close the socket; binary frames are ignored.
    ws!.send("{not json");
    ws!.send(JSON.stringify({ event_id: 1 }));
    ws!.send(Buffer.from(JSON.stringify(event)), { binary: true });
    ws!.send(JSON.stringify({ ...event, event_id: "e-10" }));
    await until(() => events.length === 2);
    expect(ws!.readyState).toBe(WebSocket.OPEN);
    expect(received.length).toBe(1);

    // The handler returning leaves the channel open (a worker would otherwise reconnect in a
    // loop); the application closes it with channel.close().
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(ws!.readyState).toBe(WebSocket.OPEN);
    expect(channel!.isOpen).toBe(true);
    const closed = closeOf(ws!);
    channel!.close(1000);
    expect((await closed).code).toBe(1000);
    await channel!.closed;
    expect(channel!.isOpen).toBe(false);
    await expect(channel!.send({ command: "cancel_task" })).rejects.toThrow(/closed/);
  });

  it("abusive malformed frames close the socket with 1008", async () => {
    s = await start({ handler: (action, _payload, _context) => (action === "websocket" ? new Promise(() => {}) : undefined), limits: { maxBadFramesPerMinute: 3 } });
    const { ws } = await open(s);
    const closed = closeOf(ws!);
    for (let i = 0; i < 10; i++) ws!.send("garbage");
    expect((await closed).code).toBe(1008);
  });

  it("messages over the size limit close the socket with 1009", async () => {
    const events: unknown[] = [];
    s = await start({
      handler: (action, payload, _context) => {
        if (action === "event") events.push(payload);
        return action === "websocket" ? new Promise(() => {}) : undefined;
      },
      limits: { maxWsMessageBytes: 1024 },
    });
    const { ws } = await open(s);
    ws!.send(JSON.stringify({ ...event, payload: { pad: "x".repeat(500) } }));
    await until(() => events.length === 1);
    const closed = closeOf(ws!);
    ws!.send(JSON.stringify({ ...event, payload: { pad: "x".repeat(2000) } }));
    expect((await closed).code).toBe(1009);
    expect(events.length).toBe(1);
  });

  it("the client closing ends the channel and aborts the context signal", async () => {
    let context: ListenerContext | undefined;
    let channel: CommandChannel | undefined;
    s = await start({
      handler: async (action, payload, ctx) => {
        if (action === "websocket") {
          channel = payload;
          context = ctx;
          await payload.closed;
        }
      },
    });
    const { ws } = await open(s);
    await until(() => channel !== undefined);
    ws!.close(1000);
    await channel!.closed;
    await until(() => context!.signal.aborted);
    await until(() => s!.listener.activeCount === 0);
  });
});
