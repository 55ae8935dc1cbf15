import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthError, NetworkError, ProtocolError, RateLimitError, RxonError, ValidationError } from "../../src/errors.js";
import { call, event, heartbeat, registration, start, taskResult, type Started } from "./helpers.js";

describe("error mapping", () => {
  let s: Started;
  let failure: unknown;
  const logged: unknown[] = [];

  beforeAll(async () => {
    const log = (fields: object | string): void => void logged.push(fields);
    s = await start({
      logger: { debug: () => {}, info: () => {}, warn: log, error: log },
      handler: () => {
        if (failure !== undefined) throw failure;
        return undefined;
      },
    });
  });
  afterAll(() => s.stop());

  async function answerTo(error: unknown, method = "POST", path = "/_worker/tasks/result", body: unknown = taskResult) {
    failure = error;
    try {
      return await call(s.base, method, path, body);
    } finally {
      failure = undefined;
    }
  }

  it("ValidationError → 400 with paths and code", async () => {
    const r = await answerTo(new ValidationError("bad thing", [{ path: "/data/x", message: "must be integer" }]));
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: "bad thing", code: "INVALID_INPUT_ERROR", errors: [{ path: "/data/x", message: "must be integer" }] });
    expect(r.headers["x-rxon-version"]).toBe("1.0b15");
  });

  it("AuthError → 403 by default, 401 when asked", async () => {
    const r1 = await answerTo(new AuthError("Unauthorized: No valid token found"));
    expect(r1.status).toBe(403);
    expect(r1.json).toEqual({ error: "Unauthorized: No valid token found", code: "SECURITY_ERROR" });
    const r2 = await answerTo(new AuthError("expired", { status: 401 }), "GET", "/_worker/workers/w1/tasks/next", undefined);
    expect(r2.status).toBe(401);
  });

  it("ProtocolError with a status → that status", async () => {
    const r1 = await answerTo(new ProtocolError("Worker not found", { status: 404, code: "PERMANENT_ERROR" }), "PATCH", "/_worker/workers/w1", heartbeat);
    expect([r1.status, r1.json]).toEqual([404, { error: "Worker not found", code: "PERMANENT_ERROR" }]);
    const r2 = await answerTo(new ProtocolError("conflict", { status: 409 }), "POST", "/_worker/workers/register", registration);
    expect(r2.status).toBe(409);
  });

  it("RateLimitError → 429 with Retry-After in whole seconds (at least 1)", async () => {
    const r1 = await answerTo(new RateLimitError("Too Many Requests", 2500), "POST", "/_worker/events", event);
    expect(r1.status).toBe(429);
    expect(r1.headers["retry-after"]).toBe("3");
    expect(r1.json).toEqual({ error: "Too Many Requests", code: "LIMIT_EXCEEDED_ERROR" });
    const r2 = await answerTo(new RateLimitError("slow down", 10));
    expect(r2.headers["retry-after"]).toBe("1");
    const r3 = await answerTo(new RateLimitError("custom", 1000, { details: { code: "X_LIMIT" } }));
    expect(r3.json).toEqual({ error: "custom", code: "X_LIMIT" });
  });

  it("anything else → 500 with a generic body; the text is logged, not sent", async () => {
    for (const error of [new Error("secret db password in 'k'"), new TypeError("x is undefined"), "a string", new RxonError("internal"), new NetworkError("db down")]) {
      logged.length = 0;
      const r = await answerTo(error);
      expect(r.status).toBe(500);
      expect(r.json).toEqual({ error: "Internal server error", code: "INTERNAL_ERROR" });
      expect(r.text).not.toContain("secret");
      expect(logged.length).toBe(1);
    }
  });

  it("an unserializable handler value → 500, generic", async () => {
    failure = undefined;
    const s2 = await start({ handler: () => ({ n: 2n ** 70n }) });
    try {
      const r = await call(s2.base, "POST", "/_worker/events", event);
      expect(r.status).toBe(500);
      expect(r.json).toEqual({ error: "Internal server error", code: "INTERNAL_ERROR" });
    } finally {
      await s2.stop();
    }
  });

  it("model validation failures → 400 with JSON pointers, handler not called", async () => {
    failure = new Error("must not be reached");
    try {
      const r = await call(s.base, "POST", "/_worker/tasks/result", { task_id: 5, data: [] });
      expect(r.status).toBe(400);
      const body = r.json as { code: string; errors: { path: string }[] };
      expect(body.code).toBe("INVALID_INPUT_ERROR");
      const paths = body.errors.map((e) => e.path);
      expect(paths).toContain("/job_id");
      expect(paths).toContain("/task_id");
      const e = await call(s.base, "POST", "/_worker/events", { ...event, payload: "x" });
      expect(e.status).toBe(400);
      expect((e.json as { errors: { path: string }[] }).errors.map((x) => x.path)).toContain("/payload");
      const arr = await call(s.base, "POST", "/_worker/workers/register", [1, 2]);
      expect(arr.status).toBe(400);
    } finally {
      failure = undefined;
    }
  });
});
