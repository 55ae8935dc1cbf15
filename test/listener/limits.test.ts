import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, event, start, type Started } from "./helpers.js";

/** A raw HTTP/1.1 client: sends `head`, then lets `feed` write; collects the answer until the socket closes. */
function rawExchange(
  port: number,
  head: string,
  feed: (socket: Socket, stopped: () => boolean) => Promise<void> | void = () => {},
  maxMs = 15_000,
): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let response = "";
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, closed });
    };
    const timer = setTimeout(() => finish(false), maxMs);
    socket.on("data", (d) => (response += d.toString("latin1")));
    socket.on("close", () => finish(true));
    socket.on("error", () => {});
    socket.on("connect", () => {
      socket.write(head);
      void feed(socket, () => done || socket.destroyed);
    });
  });
}

/** Writes `total` bytes of `chunk` as fast as the peer takes them; returns how many were written. */
async function stream(socket: Socket, stopped: () => boolean, total: number, chunk: Buffer, chunked: boolean, count: { written: number }): Promise<void> {
  let written = 0;
  const header = chunked ? Buffer.from(chunk.length.toString(16) + "\r\n") : undefined;
  while (written < total && !stopped()) {
    const ok = chunked ? socket.write(Buffer.concat([header!, chunk, Buffer.from("\r\n")])) : socket.write(chunk);
    written += chunk.length;
    count.written = written;
    if (!ok) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 250);
        socket.once("drain", () => (clearTimeout(t), r()));
        socket.once("close", () => (clearTimeout(t), r()));
      });
    }
  }
}

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const HUNDRED_MB = 100 * 1024 * 1024;

describe("limits", () => {
  let s: Started;
  let calls = 0;

  beforeAll(async () => {
    s = await start(
      {
        handler: () => {
          calls++;
          return undefined;
        },
        limits: { bodyTimeoutMs: 500, headersTimeoutMs: 500, requestTimeoutMs: 1000, refusedLingerMs: 200 },
      },
      createServer({ connectionsCheckingInterval: 100 }),
    );
  });
  afterAll(() => s.stop());

  for (const chunked of [false, true]) {
    it(`a 100 MB ${chunked ? "chunked" : "Content-Length"} upload is refused with 413 without being buffered`, async () => {
      const before = calls;
      const baseline = memory();
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, memory())), 5);
      const count = { written: 0 };
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const head =
        `POST /_worker/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : `Content-Length: ${HUNDRED_MB}\r\n\r\n`);
      const { response, closed } = await rawExchange(s.port, head, async (socket, stopped) => {
        await stream(socket, stopped, HUNDRED_MB, chunk, chunked, count);
      });
      clearInterval(sampler);
      expect(response.startsWith("HTTP/1.1 413")).toBe(true);
      expect(response).toContain('"code":"LIMIT_EXCEEDED_ERROR"');
      expect(response.toLowerCase()).toContain("x-rxon-version: 1.0b15");
      expect(closed).toBe(true);
      // The server stopped reading: the client could not push anywhere near 100 MB.
      expect(count.written).toBeGreaterThan(0);
      expect(count.written).toBeLessThan(HUNDRED_MB / 2);
      expect(peak - baseline).toBeLessThan(40 * 1024 * 1024);
      expect(calls).toBe(before);
    });
  }

  it("a configured body limit is exact", async () => {
    const small = await start({ handler: () => undefined, limits: { maxBodyBytes: 200 } });
    try {
      const body = JSON.stringify({ ...event, payload: { pad: "" } });
      const fits = JSON.stringify({ ...event, payload: { pad: "x".repeat(200 - body.length) } });
      expect(Buffer.byteLength(fits)).toBe(200);
      expect((await call(small.base, "POST", "/_worker/events", fits)).status).toBe(200);
      const over = await call(small.base, "POST", "/_worker/events", fits.replace('"pad":"', '"pad":"y'));
      expect(over.status).toBe(413);
      expect(over.json).toEqual({ error: "Maximum request body size 200 exceeded.", code: "LIMIT_EXCEEDED_ERROR" });
    } finally {
      await small.stop();
    }
  });

  it("10,000-deep JSON → 400 (depth), no stack overflow", async () => {
    const arrays = "[".repeat(10_000) + "]".repeat(10_000);
    const r1 = await call(s.base, "POST", "/_worker/events", arrays);
    expect(r1.status).toBe(400);
    const objects = '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000);
    const r2 = await call(s.base, "POST", "/_worker/events", objects);
    expect(r2.status).toBe(400);
    expect((r2.json as { code: string }).code).toBe("INVALID_INPUT_ERROR");
    const inside = JSON.stringify({ ...event, payload: JSON.parse('{"a":'.repeat(150) + "1" + "}".repeat(150)) });
    expect((await call(s.base, "POST", "/_worker/events", inside)).status).toBe(400);
  });

  it("invalid JSON → 400; empty required body → 400", async () => {
    for (const bad of ["{", "{'a':1}", "nul", '{"a":1}x', "\u00ff"]) {
      const r = await call(s.base, "POST", "/_worker/events", bad);
      expect(r.status, bad).toBe(400);
      expect((r.json as { code: string }).code).toBe("INVALID_INPUT_ERROR");
    }
    const empty = await call(s.base, "POST", "/_worker/events", "");
    expect(empty.status).toBe(400);
  });

  it("content types: JSON and +json accepted, others 415, missing only without a body", async () => {
    const body = JSON.stringify(event);
    expect((await call(s.base, "POST", "/_worker/events", body, { "content-type": "application/json; charset=utf-8" })).status).toBe(200);
    expect((await call(s.base, "POST", "/_worker/events", body, { "Content-Type": "application/vnd.rxon+json" })).status).toBe(200);
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const r = await call(s.base, "POST", "/_worker/events", body, { "content-type": type });
      expect(r.status, type).toBe(415);
    }
    const raw = await rawExchange(
      s.port,
      `POST /_worker/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(raw.response.startsWith("HTTP/1.1 415")).toBe(true);
    const noBody = await rawExchange(s.port, `PATCH /_worker/workers/w1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    expect(noBody.response.startsWith("HTTP/1.1 200")).toBe(true);
  });

  it("__proto__ keys are refused and pollute nothing", async () => {
    const r = await call(s.base, "POST", "/_worker/events", `{"__proto__":{"polluted":true},"event_id":"e"}`);
    expect(r.status).toBe(400);
    const nested = JSON.stringify({ ...event, payload: { constructor: { prototype: { polluted: true } } } });
    expect((await call(s.base, "POST", "/_worker/events", nested)).status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a slow body is cut off (408) after the body deadline", async () => {
    const before = calls;
    const { response, closed } = await rawExchange(
      s.port,
      "POST /_worker/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
      async (socket, stopped) => {
        while (!stopped()) {
          socket.write(" ");
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    );
    expect(response.startsWith("HTTP/1.1 408")).toBe(true);
    expect(closed).toBe(true);
    expect(calls).toBe(before);
  });

  it("slowloris headers are cut off by the server's headers timeout set by attach()", async () => {
    expect(s.server.headersTimeout).toBe(500);
    expect(s.server.requestTimeout).toBe(1000);
    let lines = 0;
    const { closed } = await rawExchange(s.port, "POST /_worker/events HTTP/1.1\r\nHost: x\r\n", async (socket, stopped) => {
      while (!stopped() && lines < 200) {
        socket.write(`X-Slow-${lines++}: 1\r\n`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    expect(closed).toBe(true);
    // Cut off long before the client ran out of header lines to trickle (200 × 100 ms).
    expect(lines).toBeLessThan(150);
  });

  it("attach() leaves timeouts the application chose", async () => {
    const server = createServer();
    server.headersTimeout = 12_345;
    server.requestTimeout = 54_321;
    const mine = await start({ handler: () => undefined }, server);
    try {
      expect([mine.server.headersTimeout, mine.server.requestTimeout]).toEqual([12_345, 54_321]);
    } finally {
      await mine.stop();
    }
  });
});
