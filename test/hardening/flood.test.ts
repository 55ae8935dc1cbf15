/**
 * Issue 12 item 3: a worker flooding signed messages only limits itself. The replay memory gives
 * each sender its own budget, and the listener's per-worker rate limit answers 429 + Retry-After.
 */
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { MessageVerifier, ReplayGuard, signMessage, type SignerKey } from "../../src/security/index.js";
import { call, start, type Started } from "../listener/helpers.js";

const SECRETS: Record<string, string> = { flooder: "secret-flooder", quiet: "secret-quiet" };
const keys = (id: string): SignerKey | null => (SECRETS[id] !== undefined ? { alg: "hmac-sha256", secret: SECRETS[id] } : null);
let n = 0;
const event = (workerId: string) =>
  signMessage(
    { event_id: `e-${++n}`, worker_id: workerId, origin_worker_id: workerId, event_type: "progress", payload: { progress: 0.1 } },
    { secret: SECRETS[workerId]!, signerId: workerId },
  );

const started: Started[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
});

describe("replay memory per sender", () => {
  it("a sender that used up its budget is refused; another sender is still accepted", () => {
    const guard = new ReplayGuard({ maxEntries: 150, maxEntriesPerSender: 100 });
    const ts = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 100; i++) expect(guard.record(`m-${i}`, ts, undefined, "flooder")).toBe("accepted");
    expect(guard.record("m-100", ts, undefined, "flooder")).toBe("sender_full");
    expect(guard.sizeOf("flooder")).toBe(100);
    for (let i = 0; i < 50; i++) expect(guard.record(`q-${i}`, ts, undefined, "quiet")).toBe("accepted");
    // The global cap still holds in the end.
    expect(guard.record("q-50", ts, undefined, "quiet")).toBe("full");
  });

  it("forgets a sender's messages with their bucket, freeing its budget", () => {
    let now = 1_700_000_000_000;
    const guard = new ReplayGuard({ windowMs: 8000, maxEntriesPerSender: 10, clock: () => now });
    for (let i = 0; i < 10; i++) guard.record(`m-${i}`, now / 1000, now, "flooder");
    expect(guard.record("m-x", now / 1000, now, "flooder")).toBe("sender_full");
    now += 20_000;
    expect(guard.record("m-y", now / 1000, now, "flooder")).toBe("accepted");
    expect(guard.sizeOf("flooder")).toBe(1);
  });

  it("the verifier answers 429 (replay_sender_capacity) to the flooder only", async () => {
    const verifier = new MessageVerifier({ keys, replay: new ReplayGuard({ maxEntries: 1000, maxEntriesPerSender: 20 }) });
    for (let i = 0; i < 20; i++) await verifier.verify(event("flooder"), { workerId: "flooder", kind: "event" });
    await expect(verifier.verify(event("flooder"), { workerId: "flooder", kind: "event" })).rejects.toMatchObject({ status: 429, details: { reason: "replay_sender_capacity" } });
    await expect(verifier.verify(event("quiet"), { workerId: "quiet", kind: "event" })).resolves.toBeUndefined();
  });
});

describe("per-worker rate limit of the listener", () => {
  it("answers a flooding worker 429 with Retry-After while another worker keeps being accepted", async () => {
    const accepted: string[] = [];
    const s = await start({
      handler: (action, _payload, context) => {
        if (action === "event") accepted.push(context.verifiedWorkerId ?? "?");
      },
      verify: { keys },
      rateLimit: { ratePerSecond: 1, burst: 10 },
    });
    started.push(s);
    const statuses: number[] = [];
    let retryAfter: unknown;
    for (let i = 0; i < 30; i++) {
      const answer = await call(s.base, "POST", "/_worker/events", event("flooder"), { "x-worker-id": "flooder" });
      statuses.push(answer.status);
      if (answer.status === 429) retryAfter = answer.headers["retry-after"];
    }
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThanOrEqual(15);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) {
      const quiet = await call(s.base, "POST", "/_worker/events", event("quiet"), { "x-worker-id": "quiet" });
      expect(quiet.status).toBe(200);
    }
    expect(accepted.filter((id) => id === "quiet")).toHaveLength(5);
  });

  it("drops a WebSocket flood unread past the worker's budget; other workers' events still arrive", async () => {
    const seen: Record<string, number> = {};
    const s = await start({
      handler: async (action, payload, context) => {
        if (action === "event") seen[context.workerIdHint ?? "?"] = (seen[context.workerIdHint ?? "?"] ?? 0) + 1;
        if (action === "websocket") await (payload as { closed: Promise<void> }).closed;
      },
      rateLimit: { ratePerSecond: 1, burst: 20 },
    });
    started.push(s);
    const connect = (id: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${s.base.replace("http", "ws")}/_worker/ws/${id}`);
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      });
    const flooder = await connect("flooder");
    const quiet = await connect("quiet");
    for (let i = 0; i < 500; i++) flooder.send(JSON.stringify({ event_id: `f-${i}`, worker_id: "flooder", origin_worker_id: "flooder", event_type: "progress", payload: {} }));
    for (let i = 0; i < 5; i++) quiet.send(JSON.stringify({ event_id: `q-${i}`, worker_id: "quiet", origin_worker_id: "quiet", event_type: "progress", payload: {} }));
    // The pong comes once the server has read every frame sent before the ping.
    const pong = new Promise<void>((resolve) => flooder.once("pong", () => resolve()));
    flooder.ping();
    await pong;
    const deadline = Date.now() + 10_000;
    while ((seen.quiet ?? 0) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Let the frames already queued for the handler (at most 32) reach it.
    for (let last = -1; last !== (seen.flooder ?? 0) && Date.now() < deadline; ) {
      last = seen.flooder ?? 0;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.quiet).toBe(5);
    expect(seen.flooder ?? 0).toBeLessThanOrEqual(25);
    flooder.close();
    quiet.close();
  });
});
