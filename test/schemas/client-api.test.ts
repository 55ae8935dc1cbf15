/**
 * The client API's schemas describe what the hub does: its answers over HTTP validate against
 * ClientTaskAccepted, ClientTaskView and ErrorResponse, and request bodies the schema accepts or
 * refuses are accepted or refused by the hub's own request check.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";
import { Worker } from "../../src/worker/index.js";
import { Hub, type HubServer } from "../../src/hub/index.js";
import { submitOptionsOf } from "../../src/hub/client-request.js";
import { check, type ModelName } from "../../src/wire/codec.js";
import type { JsonValue } from "../../src/wire/json.js";

const TOKEN = "client-token";
let hub: Hub;
let server: HubServer;
let worker: Worker;

beforeAll(async () => {
  hub = new Hub({ auth: { tokens: { w1: "w1-secret" } }, clientTokens: [TOKEN], heartbeatIntervalMs: 500 });
  server = await hub.listen({ port: 0 });
  worker = new Worker({
    url: server.url,
    workerId: "w1",
    token: "w1-secret",
    secret: "w1-secret",
    heartbeatIntervalMs: 500,
    skills: [defineSkill({ name: "echo", version: "1.0.0", input: Type.Object({ a: Type.Number() }), output: Type.Object({ a: Type.Number() }), handler: (p) => ({ a: p.a }) })],
  });
  await worker.start();
});
afterAll(async () => {
  await worker?.stop({ graceMs: 500 });
  await server.close();
  await hub.close();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { "X-Client-Token": TOKEN, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, json: await res.json() };
}

function valid(model: ModelName, value: unknown): void {
  expect(check(model, value, { strict: true }), `${model}: ${JSON.stringify(value)}`).toEqual([]);
}

describe("hub client API answers match the schemas", () => {
  it("submit, wait for the outcome, cancel, and the errors", async () => {
    const submitted = await call("POST", "/_client/tasks", { type: "echo", params: { a: 1 }, timeoutMs: 20_000 });
    expect(submitted.status).toBe(202);
    valid("ClientTaskAccepted", submitted.json);
    const { job_id } = submitted.json as { job_id: string };

    const done = await call("GET", `/_client/tasks/${job_id}?wait=15`);
    expect(done.status).toBe(200);
    valid("ClientTaskView", done.json);
    expect((done.json as { outcome?: { status: string } }).outcome?.status).toBe("success");

    const queued = await call("POST", "/_client/tasks", { type: "nobody-runs-this" });
    valid("ClientTaskView", (await call("GET", `/_client/tasks/${(queued.json as { job_id: string }).job_id}`)).json);
    const cancelled = await call("DELETE", `/_client/tasks/${(queued.json as { job_id: string }).job_id}`);
    expect(cancelled.status).toBe(202);
    valid("ClientTaskAccepted", cancelled.json);

    const missing = await call("GET", "/_client/tasks/no-such-job");
    expect(missing.status).toBe(404);
    valid("ErrorResponse", missing.json);
    const invalid = await call("POST", "/_client/tasks", { type: "bad type", maxRetries: -1 });
    expect(invalid.status).toBe(400);
    valid("ErrorResponse", invalid.json);
    expect((invalid.json as { errors: unknown[] }).errors.length).toBe(2);
  }, 60_000);
});

describe("ClientTaskRequest agrees with the hub's request check", () => {
  const bodies: [string, unknown][] = [
    ["minimal", { type: "echo" }],
    ["full", { type: "echo", params: { a: 1 }, requirements: { resources: { devices: [{ type: "gpu" }] }, skillVersion: "1.0", skillType: "t", artifacts: ["m", { name: "n", version: "2" }], software: { torch: "2.4" }, extra: { x: 1 } }, priority: -5, timeoutMs: 1000, maxRetries: 3, metadata: { t: "a" } }],
    ["deadline as epoch ms", { type: "echo", deadline: 1767225600000 }],
    ["deadline as a date-time", { type: "echo", deadline: "2026-01-01T00:00:00Z" }],
    ["no type", { params: {} }],
    ["type with a line feed", { type: "echo\n" }],
    ["type with a dot", { type: "image.resize" }],
    ["unknown member", { type: "echo", colour: "red" }],
    ["unknown requirement", { type: "echo", requirements: { gpu: true } }],
    ["fractional priority", { type: "echo", priority: 1.5 }],
    ["priority too large", { type: "echo", priority: 2_000_000 }],
    ["zero timeout", { type: "echo", timeoutMs: 0 }],
    ["deadline and timeout", { type: "echo", deadline: 1767225600000, timeoutMs: 10 }],
    ["too many retries", { type: "echo", maxRetries: 101 }],
    ["params not an object", { type: "echo", params: [1] }],
    ["empty artifact name", { type: "echo", requirements: { artifacts: [""] } }],
    ["empty software version", { type: "echo", requirements: { software: { torch: "" } } }],
    ["device without a type", { type: "echo", requirements: { resources: { devices: [{ model: "x" }] } } }],
  ];
  for (const [name, body] of bodies) {
    it(name, () => {
      const bySchema = check("ClientTaskRequest", body).length === 0;
      let byHub = true;
      try {
        submitOptionsOf(body as JsonValue);
      } catch {
        byHub = false;
      }
      expect({ bySchema, byHub }).toEqual({ bySchema: byHub, byHub });
    });
  }
});
