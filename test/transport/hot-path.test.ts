import { getEventListeners } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, interceptors, type Dispatcher } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NetworkError, ProtocolError } from "../../src/errors.js";
import { createTransport, type HttpTransport } from "../../src/transport/index.js";
import { task } from "./helpers.js";
import { TestServer } from "./server.js";

// What the transport keeps from one request to the next: the emitter view of a caller's signal
// handed to undici (src/transport/abort.ts: one listener of ours on a signal reused call after
// call, none left on a signal used once) and the last poll query.

let server: TestServer;
const open: HttpTransport[] = [];

function transport(): HttpTransport {
  const t = createTransport(server.url, "w1", "secret-token", { requestTimeoutMs: 10_000 }) as HttpTransport;
  open.push(t);
  return t;
}

beforeEach(async () => {
  server = await new TestServer({ pollHoldMs: 15_000 }).start();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await server.stop();
});

describe("request abort sources", () => {
  it("a signal used once keeps no listener after its call", async () => {
    const t = transport();
    const controller = new AbortController();
    await t.sendHeartbeat(null, { signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("a signal reused call after call holds one listener, and aborting it still ends a held poll", async () => {
    const t = transport();
    const controller = new AbortController();
    for (let i = 0; i < 5; i++) await t.sendHeartbeat(null, { signal: controller.signal });
    server.pushTask(task("t1"));
    expect((await t.pollTask({ timeoutSeconds: 30, signal: controller.signal }))?.task_id).toBe("task-t1");
    expect(getEventListeners(controller.signal, "abort").length).toBeLessThanOrEqual(1);

    const poll = t.pollTask({ timeoutSeconds: 30, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error("stop polling"));
    await expect(poll).rejects.toThrow("stop polling");
    await expect(t.sendHeartbeat(null, { signal: controller.signal })).rejects.toThrow("stop polling");
  });

  it("close() ends held polls of a reused signal and of no signal at once", async () => {
    const t = transport();
    const controller = new AbortController();
    for (let i = 0; i < 3; i++) await t.sendHeartbeat(null, { signal: controller.signal });
    const withSignal = t.pollTask({ timeoutSeconds: 30, signal: controller.signal }).catch((e: unknown) => e);
    const without = t.pollTask({ timeoutSeconds: 30 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await t.close();
    expect(await withSignal).toMatchObject({ message: "Transport is closed" });
    expect(await without).toMatchObject({ message: "Transport is closed" });
    expect(controller.signal.aborted).toBe(false);
  });

  it("two calls in flight on one signal are both aborted", async () => {
    const t = transport();
    const controller = new AbortController();
    const polls = [0, 1].map(() => t.pollTask({ timeoutSeconds: 30, signal: controller.signal }).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error("both"));
    const errors = await Promise.all(polls);
    expect(errors.map((e) => (e as Error).message)).toEqual(["both", "both"]);
  });
});

describe("poll query", () => {
  it("follows the timeout and skill lists of each poll, also lists changed in place", async () => {
    await server.stop();
    server = await new TestServer({ pollHoldMs: 0 }).start();
    const t = transport();
    const skills = ["a"];
    await t.pollTask({ timeoutSeconds: 1, availableSkills: skills, hotSkills: skills });
    await t.pollTask({ timeoutSeconds: 1, availableSkills: skills, hotSkills: skills });
    skills.push("b");
    await t.pollTask({ timeoutSeconds: 1, availableSkills: skills, hotSkills: skills });
    await t.pollTask({ timeoutSeconds: 2.5, availableSkills: skills });
    await t.pollTask({ timeoutSeconds: 2.5, availableSkills: [] });
    expect(server.routeRequests("poll").map((r) => r.url.split("?")[1])).toEqual([
      "timeout=1.0&available_skills=a&hot_skills=a",
      "timeout=1.0&available_skills=a&hot_skills=a",
      "timeout=1.0&available_skills=a,b&hot_skills=a,b",
      "timeout=2.5&available_skills=a,b",
      "timeout=2.5&available_skills=",
    ]);
  });
});

describe("response bodies", () => {
  let raw: Server | undefined;
  afterEach(async () => {
    raw?.closeAllConnections();
    await new Promise((r) => raw?.close(r) ?? r(undefined));
    raw = undefined;
  });

  /** A bare server answering every request with `answer`. */
  async function rawServer(answer: (res: ServerResponse) => void): Promise<string> {
    raw = createServer((req, res) => {
      req.resume();
      req.on("end", () => answer(res));
    });
    await new Promise<void>((r) => raw!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  }

  function rawTransport(url: string, options: { bodyTimeoutMs?: number; maxResponseBytes?: number } = {}): HttpTransport {
    const t = createTransport(url, "w1", "tok", { requestTimeoutMs: 10_000, ...options }) as HttpTransport;
    open.push(t);
    return t;
  }

  it("a body with a declared length that trickles past the body timeout is a body_timeout NetworkError", async () => {
    const url = await rawServer((res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write("{");
      const timer = setInterval(() => res.write(" "), 50);
      res.on("close", () => clearInterval(timer));
    });
    const error = await rawTransport(url, { bodyTimeoutMs: 300 })
      .sendHeartbeat(null)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).details).toMatchObject({ reason: "body_timeout", timeoutMs: 300 });
  });

  it("each body gets its own deadline: a late one ends on time while others complete, and later ones still time out", async () => {
    let n = 0;
    const url = await rawServer((res) => {
      const i = n++;
      if (i === 1) {
        const text = JSON.stringify({ status: "ok" });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write("{");
      const timer = setInterval(() => res.write(" "), 50);
      res.on("close", () => clearInterval(timer));
    });
    const t = rawTransport(url, { bodyTimeoutMs: 400 });
    const late = t.sendHeartbeat(null).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    expect(await t.sendHeartbeat(null)).toMatchObject({ status: "ok" });
    expect(((await late) as NetworkError).details).toMatchObject({ reason: "body_timeout" });
    // After the watch went idle, a new late body is still cut off.
    const again = await t.sendHeartbeat(null).catch((e: unknown) => e);
    expect((again as NetworkError).details).toMatchObject({ reason: "body_timeout", timeoutMs: 400 });
  });

  it("a chunked body is read whole, and refused once it passes the size limit", async () => {
    let size = 10;
    const url = await rawServer((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"status":"ok",');
      res.write(`"pad":"${"x".repeat(size)}"`);
      res.end("}");
    });
    const t = rawTransport(url, { maxResponseBytes: 100 });
    expect(await t.sendHeartbeat(null)).toMatchObject({ status: "ok" });
    size = 500;
    const error = await t.sendHeartbeat(null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).details).toMatchObject({ reason: "size", maxBytes: 100 });
  });

  it("a body of declared length arrives whole, also when sent in pieces", async () => {
    const url = await rawServer((res) => {
      const text = JSON.stringify({ status: "ok", next_heartbeat_jitter_ms: 5 });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.write(text.slice(0, 7));
      setTimeout(() => res.end(text.slice(7)), 30);
    });
    expect(await rawTransport(url).sendHeartbeat(null)).toMatchObject({ status: "ok", next_heartbeat_jitter_ms: 5 });
  });
});

describe("a dispatcher of the caller's", () => {
  it("works composed with interceptors (a header-adding one and undici's retry)", async () => {
    const agent = new Agent();
    const addHeader: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
      dispatch({ ...opts, headers: { ...(opts.headers as Record<string, string>), "x-extra": "1" } }, handler);
    const dispatcher = agent.compose(addHeader, interceptors.retry({ maxRetries: 1 }));
    const t = createTransport(server.url, "w1", "secret-token", { requestTimeoutMs: 10_000, dispatcher }) as HttpTransport;
    open.push(t);
    try {
      server.pushTask(task("d1"));
      expect((await t.pollTask({ timeoutSeconds: 1 }))?.task_id).toBe("task-d1");
      expect(await t.sendHeartbeat(null)).toMatchObject({ status: "ttl_refreshed" });
      expect(server.routeRequests("poll")[0]!.headers["x-extra"]).toBe("1");
      // Aborting still works through the composed dispatcher.
      const controller = new AbortController();
      const poll = t.pollTask({ timeoutSeconds: 30, signal: controller.signal });
      await new Promise((r) => setTimeout(r, 100));
      controller.abort(new Error("composed abort"));
      await expect(poll).rejects.toThrow("composed abort");
    } finally {
      await t.close();
      await agent.close();
    }
  });
});
