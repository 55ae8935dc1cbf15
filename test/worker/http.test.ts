/**
 * The worker against a real orchestrator endpoint: RxonListener on node:http at 127.0.0.1:0 with
 * HMAC verification and replay protection, the HTTP transport, and the WebSocket command channel.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Type from "typebox";
import { afterEach, describe, expect, it } from "vitest";
import type { Heartbeat, TaskPayload, TaskResult, WorkerEventPayload, WorkerRegistration } from "../../generated/types.js";
import { defineSkill } from "../../src/contracts/index.js";
import { RxonListener, type CommandChannel } from "../../src/listener/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { Worker } from "../../src/worker/index.js";
import { add, aborted } from "./helpers.js";

const SECRET = "worker-secret-0123456789";

/** A minimal orchestrator: a task queue, held polls, and a record of what arrived. */
class MiniHub {
  readonly registrations: WorkerRegistration[] = [];
  readonly heartbeats: Heartbeat[] = [];
  readonly results: TaskResult[] = [];
  readonly events: WorkerEventPayload[] = [];
  readonly channels: CommandChannel[] = [];
  private readonly queue: TaskPayload[] = [];
  private readonly waiting = new Set<() => void>();
  readonly listener: RxonListener;
  server!: Server;
  url = "";

  constructor() {
    this.listener = new RxonListener({
      verify: { keys: () => ({ alg: "hmac-sha256", secret: SECRET }) },
      handler: async (action, payload, ctx) => {
        switch (action) {
          case "register":
            this.registrations.push(payload);
            return { status: "registered", version: "1.0b14" };
          case "heartbeat":
            if (payload) this.heartbeats.push(payload);
            return { status: "ok" };
          case "result":
            this.results.push(payload);
            return { status: "accepted", transition: "success_transition" };
          case "event":
            this.events.push(payload);
            return { status: "event_accepted" };
          case "poll":
            return this.next(ctx.signal);
          case "websocket_auth":
            return true;
          case "websocket":
            this.channels.push(payload);
            await payload.closed;
            return;
          default:
            throw new Error(`unexpected ${action}`);
        }
      },
    });
  }

  async start(): Promise<void> {
    this.server = this.listener.attach(createServer());
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  push(task: TaskPayload): void {
    this.queue.push(task);
    for (const wake of this.waiting) wake();
  }

  /** Holds a poll up to 1 s for a task. */
  private async next(signal: AbortSignal): Promise<TaskPayload | null> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, 1_000);
        signal.addEventListener("abort", done, { once: true });
        this.waiting.add(done);
      });
    }
    return this.queue.shift() ?? null;
  }

  async stop(): Promise<void> {
    await this.listener.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const waitAbort = defineSkill({
  name: "wait_abort",
  version: "1",
  input: Type.Object({}),
  output: Type.Object({}),
  handler: async (_p, ctx) => {
    ctx.progress(0.5, "waiting");
    await aborted(ctx.signal);
    throw ctx.signal.reason;
  },
});

async function setupHttp(): Promise<{ hub: MiniHub; worker: Worker }> {
  const hub = new MiniHub();
  await hub.start();
  cleanups.push(() => hub.stop());
  const worker = new Worker({
    url: hub.url,
    workerId: "http-worker",
    token: SECRET,
    secret: SECRET,
    skills: [add, waitAbort],
    heartbeatIntervalMs: 200,
    pollTimeoutSeconds: 1,
  });
  cleanups.push(() => worker.stop({ graceMs: 0 }));
  await worker.start();
  return { hub, worker };
}

describe("worker over HTTP and WebSocket", () => {
  it("registers, heartbeats, runs a task and delivers a signed result the listener verifies", async () => {
    const { hub, worker } = await setupHttp();
    expect(hub.registrations[0]!.worker_id).toBe("http-worker");
    expect(hub.registrations[0]!.security?.signer_id).toBe("http-worker");
    hub.push({ job_id: "j1", task_id: "t1", type: "add", params: { a: 20, b: 22 } });
    await waitUntil(() => hub.results.length === 1, { timeoutMs: 10_000 });
    expect(hub.results[0]).toMatchObject({ task_id: "t1", status: "success", data: { sum: 42 }, worker_id: "http-worker" });
    await waitUntil(() => hub.heartbeats.length >= 2, { timeoutMs: 10_000 });
    expect(hub.heartbeats[0]!.supported_skills?.map((s) => s.name)).toEqual(["add", "wait_abort"]);
    await worker.stop();
    expect(hub.heartbeats.at(-1)!.status).toBe("offline");
  });

  it("a cancel command over the WebSocket reaches the running handler; progress arrives as an event", async () => {
    const { hub, worker } = await setupHttp();
    await waitUntil(() => hub.channels.some((c) => c.isOpen), { timeoutMs: 10_000 });
    hub.push({ job_id: "j2", task_id: "t2", type: "wait_abort", params: {} });
    await waitUntil(() => worker.stats.inFlight === 1 && hub.events.length >= 1, { timeoutMs: 10_000 });
    expect(hub.events[0]).toMatchObject({ event_type: "progress", payload: { progress: 0.5, message: "waiting" }, target_job_id: "j2" });
    await hub.channels.find((c) => c.isOpen)!.send({ command: "cancel_task", task_id: "t2", job_id: "j2" });
    await waitUntil(() => hub.results.length === 1, { timeoutMs: 10_000 });
    expect(hub.results[0]).toMatchObject({ task_id: "t2", status: "cancelled" });
  });
});
