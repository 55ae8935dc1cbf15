import { UnavailableError } from "../../src/errors.js";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HandlerAction, ListenerContext } from "../../src/listener/index.js";
import { RxonListener } from "../../src/listener/index.js";
import { call, event, heartbeat, registration, start, taskResult, type Started } from "./helpers.js";

interface Seen {
  action: HandlerAction;
  payload: unknown;
  context: ListenerContext;
}

describe("listener routes", () => {
  let s: Started;
  const seen: Seen[] = [];
  let answer: (action: HandlerAction) => unknown = () => undefined;

  beforeAll(async () => {
    s = await start({
      handler: async (action, payload, context) => {
        seen.push({ action, payload, context });
        return answer(action);
      },
    });
  });
  afterAll(() => s.stop());

  const last = (): Seen => seen[seen.length - 1]!;
  const headers = { "X-Worker-Token": "tok", "X-Worker-ID": "worker-1", "X-RXON-Version": "1.0b14" };

  it("register: decoded payload with defaults, raw body as received, default answer", async () => {
    answer = () => undefined;
    const r = await call(s.base, "POST", "/_worker/workers/register", { worker_id: "worker-1" }, headers);
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"status":"registered"}');
    expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(r.headers["x-rxon-version"]).toBe("1.0b15");
    const { action, payload, context } = last();
    expect(action).toBe("register");
    expect(payload).toEqual({ worker_id: "worker-1", worker_type: "generic" });
    expect(context.rawBody).toEqual({ worker_id: "worker-1" });
    expect(context).toMatchObject({ token: "tok", workerIdHint: "worker-1", protocolVersion: "1.0b14", certIdentity: null, transport: "http" });
    expect(context.rawRequest.url).toBe("/_worker/workers/register");
    expect(context.signal.aborted).toBe(false);
  });

  it("register: handler value serialized canonically", async () => {
    answer = () => ({ version: "1.0b14", status: "registered", extra: null, big: 2n ** 60n });
    const r = await call(s.base, "POST", "/_worker/workers/register", registration, headers);
    expect(r.text).toBe('{"big":1152921504606846976,"status":"registered","version":"1.0b14"}');
  });

  it("result and event: defaults", async () => {
    answer = () => null;
    const r1 = await call(s.base, "POST", "/_worker/tasks/result", taskResult, headers);
    expect([r1.status, r1.text]).toEqual([200, '{"status":"ok"}']);
    expect(last().action).toBe("result");
    const r2 = await call(s.base, "POST", "/_worker/events", event, headers);
    expect([r2.status, r2.text]).toEqual([200, '{"status":"event_accepted"}']);
    expect(last()).toMatchObject({ action: "event", payload: { event_id: "e-1" } });
  });

  it("result: handler answer passed through", async () => {
    answer = () => ({ status: "ignored", reason: "stale_task", message: "m" });
    const r = await call(s.base, "POST", "/_worker/tasks/result", taskResult, headers);
    expect(r.text).toBe('{"message":"m","reason":"stale_task","status":"ignored"}');
  });

  it("poll: worker id from the path, query parsed, task or 204", async () => {
    answer = () => ({ task_id: "t1", job_id: "j1", type: "echo", params: { x: 1 } });
    const r = await call(s.base, "GET", "/_worker/workers/w%2D7/tasks/next?timeout=30.0&available_skills=a,%20b,,&hot_skills=", undefined, headers);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ task_id: "t1" });
    const { action, payload, context } = last();
    expect(action).toBe("poll");
    expect(payload).toBe("w-7");
    expect(context.workerIdHint).toBe("w-7");
    expect(context.pollTimeout).toBe(30);
    expect(context.availableSkills).toEqual(["a", "b"]);
    expect(context.hotSkills).toEqual([]);
    expect(context.rawBody).toBeNull();

    for (const nothing of [null, undefined, {}, [], ""]) {
      answer = () => nothing;
      const empty = await call(s.base, "GET", "/_worker/workers/w1/tasks/next?timeout=abc", undefined, headers);
      expect(empty.status).toBe(204);
      expect(empty.text).toBe("");
      expect(empty.headers["x-rxon-version"]).toBe("1.0b15");
    }
    expect(last().context.pollTimeout).toBe(0);
    expect(last().context.availableSkills).toBeUndefined();
  });

  it("HEAD on the poll route never runs the poll", async () => {
    const before = seen.length;
    const r = await call(s.base, "HEAD", "/_worker/workers/w1/tasks/next?timeout=1", undefined, headers);
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe("GET");
    expect(r.headers["x-rxon-version"]).toBe("1.0b15");
    expect(seen.length).toBe(before);
  });

  it("heartbeat: with body (decoded) and without body (null); handler value as is, nothing answered {\"status\":\"ok\"}", async () => {
    answer = () => ({ status: "ok", cancel_task_ids: ["t9"] });
    const r1 = await call(s.base, "PATCH", "/_worker/workers/worker-1", heartbeat, headers);
    expect(r1.text).toBe('{"cancel_task_ids":["t9"],"status":"ok"}');
    expect(last()).toMatchObject({ action: "heartbeat", payload: heartbeat });
    answer = () => null;
    const r2 = await call(s.base, "PATCH", "/_worker/workers/worker-9", undefined, { ...headers });
    // Nothing from the handler: the answer on which no SDK re-registers.
    expect([r2.status, r2.text]).toEqual([200, '{"status":"ok"}']);
    expect(last().payload).toBeNull();
    expect(last().context.workerIdHint).toBe("worker-9");
  });

  it("PATCH on the register path is a heartbeat of worker 'register' (router semantics)", async () => {
    answer = () => ({ status: "ttl_refreshed" });
    const r = await call(s.base, "PATCH", "/_worker/workers/register", undefined, headers);
    expect(r.status).toBe(200);
    expect(last()).toMatchObject({ action: "heartbeat", payload: null });
    expect(last().context.workerIdHint).toBe("register");
  });

  it("sts_token ignores the body; sts_refresh needs one", async () => {
    answer = (a) => ({ access_token: a, expires_in: 3600, worker_id: "worker-1" });
    const r1 = await call(s.base, "POST", "/_worker/auth/token", undefined, headers);
    expect(r1.json).toEqual({ access_token: "sts_token", expires_in: 3600, worker_id: "worker-1" });
    expect(last().payload).toBeNull();
    const r2 = await call(s.base, "POST", "/_worker/auth/token/refresh", { refresh_token: "r" }, headers);
    expect(r2.json).toMatchObject({ access_token: "sts_refresh" });
    expect(last().payload).toEqual({ refresh_token: "r" });
    const r3 = await call(s.base, "POST", "/_worker/auth/token/refresh", undefined, headers);
    expect(r3.status).toBe(400);
  });

  it("unknown paths 404, trailing slashes are unknown, wrong methods 405; all carry the version", async () => {
    for (const path of ["/nope", "/_worker/workers/register/", "/_worker/tasks/result/", "/_worker/workers//tasks/next"]) {
      const r = await call(s.base, "POST", path, undefined);
      expect(r.status, path).toBe(404);
      expect(r.text).toBe("404: Not Found");
      expect(r.headers["x-rxon-version"]).toBe("1.0b15");
    }
    const cases: [string, string, string][] = [
      ["GET", "/_worker/workers/register", "POST, PATCH"],
      ["DELETE", "/_worker/tasks/result", "POST"],
      ["GET", "/_worker/events", "POST"],
      ["PUT", "/_worker/workers/w1", "PATCH"],
      ["POST", "/_worker/workers/w1/tasks/next", "GET"],
    ];
    for (const [method, path, allow] of cases) {
      const r = await call(s.base, method, path, undefined);
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.text).toBe("405: Method Not Allowed");
      expect(r.headers.allow).toBe(allow);
      expect(r.headers["x-rxon-version"]).toBe("1.0b15");
    }
    const ws = await call(s.base, "GET", "/_worker/ws/w1");
    expect(ws.status).toBe(426);
  });
});

describe("listener without a handler", () => {
  it("answers 503 until setHandler, then serves", async () => {
    const s = await start();
    try {
      const r = await call(s.base, "POST", "/_worker/workers/register", registration);
      expect(r.status).toBe(503);
      expect(r.json).toEqual({ error: "Service is initializing", code: "TRANSIENT_ERROR" });
      expect(r.headers["x-rxon-version"]).toBe("1.0b15");
      const p = await call(s.base, "GET", "/_worker/workers/w1/tasks/next");
      expect(p.status).toBe(503);
      s.listener.setHandler(() => ({ status: "registered", version: "x" }));
      const ok = await call(s.base, "POST", "/_worker/workers/register", registration);
      expect(ok.status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it("uses the configured protocol version", async () => {
    const s = await start({ protocolVersion: "1.0b13", handler: () => undefined });
    try {
      const r = await call(s.base, "POST", "/_worker/events", event);
      expect(r.headers["x-rxon-version"]).toBe("1.0b13");
    } finally {
      await s.stop();
    }
  });
});

describe("mounting next to an application", () => {
  it("attach() keeps the application's routes", async () => {
    const app = (_req: IncomingMessage, res: ServerResponse): void => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("app");
    };
    const s = await start({ handler: () => undefined }, createServer(app));
    try {
      expect((await call(s.base, "GET", "/health")).text).toBe("app");
      expect((await call(s.base, "GET", "/_worker/nope")).text).toBe("app");
      expect((await call(s.base, "POST", "/_worker/events", event)).text).toBe('{"status":"event_accepted"}');
    } finally {
      await s.stop();
    }
  });

  it("handle() resolves false for foreign paths without touching the response (Express-style mount)", async () => {
    const listener = new RxonListener({ handler: () => ({ status: "ok" }) });
    const server = createServer((req, res) => {
      void listener.handle(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(418);
          res.end("next");
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const foreign = await call(base, "GET", "/other");
      expect([foreign.status, foreign.text, foreign.headers["x-rxon-version"]]).toEqual([418, "next", undefined]);
      const ours = await call(base, "PATCH", "/_worker/workers/w1", heartbeat);
      expect(ours.text).toBe('{"status":"ok"}');
    } finally {
      await listener.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("keep-alive", () => {
  it("an authenticated request's 503 keeps the connection; a stranger's answers and refused bodies close it", async () => {
    // Every request that reaches authentication is the worker w1's; a wrong method is answered before.
    const s = await start({
      authenticate: () => "w1",
      handler: () => {
        throw new UnavailableError("Busy");
      },
    });
    try {
      const r503 = await call(s.base, "GET", "/_worker/workers/w1/tasks/next");
      expect([r503.status, r503.headers.connection]).toEqual([503, "keep-alive"]);
      // Not authenticated: the client is told the connection closes (see the stranger deadline).
      const r405 = await call(s.base, "DELETE", "/_worker/events");
      expect([r405.status, r405.headers.connection]).toEqual([405, "close"]);
    } finally {
      await s.stop();
    }
    // Not served at all (no handler): a body that was not read closes the connection.
    const idle = await start();
    try {
      const withBody = await call(idle.base, "POST", "/_worker/events", { a: 1 });
      expect([withBody.status, withBody.headers.connection]).toEqual([503, "close"]);
    } finally {
      await idle.stop();
    }
  });
});
