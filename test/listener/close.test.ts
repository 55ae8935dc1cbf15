import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { ListenerContext } from "../../src/listener/index.js";
import { call, event, start, until } from "./helpers.js";

describe("close()", () => {
  it("answers held polls 204, closes WebSockets with 1001, resolves when idle, then refuses", async () => {
    const contexts: ListenerContext[] = [];
    const lateTasks: string[] = [];
    const warnings: unknown[] = [];
    const s = await start({
      logger: { debug: () => {}, info: () => {}, warn: (f) => void warnings.push(f), error: () => {} },
      limits: { closeGraceMs: 300 },
      handler: (action, payload, context) => {
        if (action === "poll") {
          contexts.push(context);
          // Worker "stubborn" ignores the signal: its late task must not be delivered after the 204.
          if (payload === "stubborn") {
            return new Promise((resolve) => setTimeout(() => (lateTasks.push("t-late"), resolve({ task_id: "t-late", job_id: "j", type: "x" })), 1000));
          }
          return new Promise((resolve) => context.signal.addEventListener("abort", () => resolve(null)));
        }
        if (action === "websocket") return new Promise(() => {});
        return undefined;
      },
    });
    const polls = [
      ...Array.from({ length: 5 }, (_, i) => call(s.base, "GET", `/_worker/workers/w${i}/tasks/next?timeout=30`)),
      call(s.base, "GET", "/_worker/workers/stubborn/tasks/next?timeout=30"),
    ];
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/_worker/ws/w1`);
    const wsClosed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    await new Promise((r) => ws.once("open", r));
    await until(() => contexts.length === 6);
    expect(s.listener.activeCount).toBe(7);

    await s.listener.close();
    const answers = await Promise.all(polls);
    for (const a of answers) {
      expect(a.status).toBe(204);
      expect(a.headers["x-rxon-version"]).toBe("1.0b15");
    }
    expect(contexts.every((c) => c.signal.aborted)).toBe(true);
    expect(await wsClosed).toBe(1001);
    expect(s.listener.activeCount).toBe(0);

    const after = await call(s.base, "POST", "/_worker/events", event);
    expect(after.status).toBe(503);
    expect(after.json).toEqual({ error: "Service is shutting down", code: "TRANSIENT_ERROR" });
    await until(() => lateTasks.length === 1);
    await until(() => warnings.length === 1);
    s.server.closeAllConnections();
    await new Promise<void>((r) => s.server.close(() => r()));
  });

  it("a handler that first looks at its signal after the client left finds it aborted, with the reason", async () => {
    let context: ListenerContext | undefined;
    let left!: () => void;
    const gone = new Promise<void>((r) => (left = r));
    const s = await start({
      handler: async (_action, _p, ctx) => {
        context = ctx;
        await gone;
        return null;
      },
    });
    try {
      const pending = call(s.base, "GET", "/_worker/workers/w1/tasks/next", undefined, {}).catch(() => "aborted");
      await until(() => context !== undefined);
      s.server.closeAllConnections();
      await pending;
      // The request is over for the listener once its close was handled (abort included).
      await until(() => s.listener.activeCount === 0);
      // Nothing read the signal while the request was served: it is made now, already aborted.
      expect(context!.signal.aborted).toBe(true);
      expect(String((context!.signal.reason as Error).message)).toContain("closed the connection");
      left();
    } finally {
      await s.stop();
    }
  });

  it("a poll whose client leaves gets its signal aborted", async () => {
    let context: ListenerContext | undefined;
    const s = await start({
      handler: (action, _p, ctx) => {
        context = ctx;
        return new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve(null)));
      },
    });
    try {
      const pending = call(s.base, "GET", "/_worker/workers/w1/tasks/next", undefined, {}).catch(() => "aborted");
      await until(() => context !== undefined);
      s.server.closeAllConnections();
      await pending;
      await until(() => context!.signal.aborted);
    } finally {
      await s.stop();
    }
  });
});
