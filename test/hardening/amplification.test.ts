/**
 * Issue 12 item 2: a refusal is never much larger than its request. Validation problems are
 * capped, error bodies are cut to the request's size, and with the pre-body hook a stranger is
 * refused from its headers alone.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Hub, HubAuth, MemoryStore } from "../../src/hub/index.js";
import { serve, type HubServer } from "../../src/hub/server.js";
import { errorText, MIN_ERROR_BYTES } from "../../src/listener/index.js";
import { silentLogger } from "../../src/logger.js";
import { decode, MAX_REPORTED_ISSUES } from "../../src/wire/codec.js";
import { ValidationError } from "../../src/errors.js";
import { call } from "../listener/helpers.js";
import { open } from "./sockets.js";

/** About 600 KB of registration in which every skill is wrong several times over. */
function hostileRegistration(): string {
  const skills = Array.from({ length: 6000 }, (_, i) => ({ name: 7, version: [i], x: "y".repeat(40), extra: { ["k".repeat(20)]: null } }));
  return JSON.stringify({ worker_id: "w-1", worker_type: 3, supported_skills: skills, resources: "none" });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function hubServer(withPreAuth: boolean): Promise<HubServer> {
  const hub = new Hub({ auth: { tokens: { "w-1": "secret-1" } } });
  const auth = new HubAuth({ tokens: { "w-1": "secret-1" } }, new MemoryStore(), Date.now);
  const server = await serve(hub.handler, { port: 0 }, silentLogger, undefined, withPreAuth ? { authenticate: (action, ctx) => auth.preAuthenticate(action, ctx) } : {});
  cleanups.push(async () => {
    await server.close();
    await hub.close();
  });
  return server;
}

describe("error amplification", () => {
  it("caps the problems a decode reports and the length of each", () => {
    const value = JSON.parse(hostileRegistration()) as Record<string, unknown>;
    value["p".repeat(5000)] = 1;
    let error: ValidationError | undefined;
    try {
      decode("WorkerRegistration", value, { strict: true });
    } catch (e) {
      error = e as ValidationError;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.errors.length).toBeLessThanOrEqual(MAX_REPORTED_ISSUES);
    for (const issue of error!.errors) expect(issue.path.length + issue.message.length).toBeLessThan(420);
    expect(error!.message.length).toBeLessThan(2000);
  });

  it("fits any error body into its budget", () => {
    const body = { error: "x".repeat(10_000), code: "INVALID_INPUT_ERROR", errors: Array.from({ length: 20 }, (_, i) => ({ path: `/a/${i}`, message: "m".repeat(200) })) };
    for (const budget of [MIN_ERROR_BYTES, 3000, 100_000]) {
      const text = errorText(body, budget);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(budget);
      expect(JSON.parse(text)).toMatchObject({ code: "INVALID_INPUT_ERROR" });
    }
  });

  it("answers a 600 KB unauthenticated registration full of errors with a small body", async () => {
    const server = await hubServer(false);
    const body = hostileRegistration();
    expect(body.length).toBeGreaterThan(550_000);
    const answers = await Promise.all(Array.from({ length: 4 }, () => call(server.url, "POST", "/_worker/workers/register", body, { "x-worker-id": "w-1" })));
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      // Was 18.8 MB. Now a handful of problems, a few kilobytes at most.
      expect(answer.text.length).toBeLessThan(8 * 1024);
      expect((answer.json as { errors: unknown[] }).errors.length).toBeLessThanOrEqual(MAX_REPORTED_ISSUES);
    }
  });

  it("with the hub's pre-body check, refuses a stranger from its headers before the body is sent", async () => {
    const server = await hubServer(true);
    const head = "POST /_worker/workers/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Worker-ID: w-1\r\nContent-Length: 600000\r\n\r\n";
    const stranger = open(server.port, "127.0.0.1", head);
    // No byte of the body is ever sent: the answer can only come from the headers.
    expect(await stranger.closedWithin(10_000)).toBe(true);
    const response = stranger.received();
    expect(response).toMatch(/^HTTP\/1\.1 403/);
    expect(response.length).toBeLessThan(1024);
    // A wrong token and a token of another worker are refused the same way; the right one is let in.
    const wrong = await call(server.url, "POST", "/_worker/workers/register", hostileRegistration(), { "x-worker-id": "w-1", "x-worker-token": "nope" });
    expect(wrong.status).toBe(403);
    const own = await call(server.url, "POST", "/_worker/workers/register", hostileRegistration(), { "x-worker-id": "w-1", "x-worker-token": "secret-1" });
    expect(own.status).toBe(400);
    expect(own.text.length).toBeLessThan(8 * 1024);
  });
});
