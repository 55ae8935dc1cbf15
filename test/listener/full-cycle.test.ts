/**
 * Our transport and this listener together over mTLS: register → poll → result → heartbeat →
 * event → command → refresh, with the verification layer on and the certificate identity in the
 * context.
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenResponse, WorkerCommand } from "../../generated/types.js";
import { AuthError } from "../../src/errors.js";
import type { CommandChannel, ListenerContext, RxonHandler } from "../../src/listener/index.js";
import { RxonListener } from "../../src/listener/index.js";
import { createTransport } from "../../src/transport/index.js";
import type { WorkerTransport } from "../../src/transport/types.js";
import { makeCerts, type Certs } from "./certs.js";
import { until } from "./helpers.js";

const WORKER = "worker-tls-1";
const SECRET = "long-term-secret-of-worker-tls-1";

describe("transport ↔ listener over mTLS", () => {
  let certs: Certs;
  let server: Server;
  let listener: RxonListener;
  let transport: WorkerTransport;
  const seen: { action: string; payload: unknown; context: ListenerContext }[] = [];
  let channel: CommandChannel | undefined;
  let tokenCalls = 0;

  beforeAll(async () => {
    certs = makeCerts(WORKER);
    const handler: RxonHandler = async (action, payload, context) => {
      seen.push({ action, payload, context });
      // Authentication (7.1) by certificate: the CN is the worker.
      if (context.certIdentity?.commonName !== WORKER) throw new AuthError("Unauthorized: Client certificate required.");
      switch (action) {
        case "register":
          return { status: "registered", version: "1.0b14" };
        case "poll":
          return seen.filter((s) => s.action === "poll").length === 1 ? { task_id: "t-1", job_id: "j-1", type: "echo", params: { text: "hi" } } : null;
        case "result":
          return { status: "accepted", transition: "success_transition" };
        case "heartbeat":
          return { status: "ok", cancel_task_ids: ["t-0"] };
        case "event":
          return undefined;
        case "websocket":
          channel = payload;
          await payload.closed;
          return;
        case "sts_token":
        case "sts_refresh": {
          tokenCalls++;
          const response: TokenResponse = { access_token: `access-${tokenCalls}`, refresh_token: `refresh-${tokenCalls}`, expires_in: 3600, worker_id: WORKER };
          return response;
        }
        default:
          return undefined;
      }
    };
    listener = new RxonListener({ handler, verify: { keys: (id) => (id === WORKER ? { alg: "hmac-sha256", secret: SECRET } : null) } });
    server = listener.attach(
      createServer({ key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true }),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    transport = createTransport(`https://127.0.0.1:${port}`, WORKER, SECRET, {
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
      secret: SECRET,
      wsBackoffInitialMs: 100,
    });
    await transport.connect();
  });

  afterAll(async () => {
    await transport?.close();
    await listener?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  const last = (action: string) => seen.filter((s) => s.action === action).at(-1)!;

  it("runs the whole cycle", async () => {
    const registered = await transport.register({ worker_id: WORKER, supported_skills: [{ name: "echo", type: "echo", version: "1.0.0" }] });
    expect(registered).toMatchObject({ status: "registered" });
    const reg = last("register").context;
    expect(reg.certIdentity).toEqual({ commonName: WORKER, uris: [`spiffe://rxon.test/worker/${WORKER}`] });
    expect(reg.verifiedWorkerId).toBe(WORKER);
    expect(reg.token).toBe(SECRET);

    const task = await transport.pollTask({ timeoutSeconds: 5, availableSkills: ["echo"] });
    expect(task).toMatchObject({ task_id: "t-1", params: { text: "hi" } });
    expect(last("poll").context).toMatchObject({ workerIdHint: WORKER, pollTimeout: 5, availableSkills: ["echo"] });

    const delivery = await transport.sendResult({ job_id: "j-1", task_id: "t-1", worker_id: WORKER, status: "success", data: { text: "hi" } });
    expect(delivery.delivered).toBe(true);
    expect(last("result").context.verifiedWorkerId).toBe(WORKER);

    const beat = await transport.sendHeartbeat({ worker_id: WORKER, status: "idle" });
    expect(beat).toMatchObject({ status: "ok", cancel_task_ids: ["t-0"] });
    expect(last("heartbeat").context.verifiedWorkerId).toBe(WORKER);

    const sent = await transport.emitEvent({ event_id: "e-1", worker_id: WORKER, origin_worker_id: WORKER, event_type: "progress", payload: { progress: 0.5 } });
    expect(sent).toBe(true);
    await until(() => seen.some((s) => s.action === "event" && (s.payload as { event_id: string }).event_id === "e-1"));
    expect(last("event").context.verifiedWorkerId).toBe(WORKER);

    const commands: WorkerCommand[] = [];
    const controller = new AbortController();
    const reading = (async () => {
      try {
        for await (const command of transport.commands({ signal: controller.signal })) {
          commands.push(command);
          if (commands.length === 1) break;
        }
      } catch {
        /* aborted */
      }
    })();
    await until(() => channel !== undefined, 15_000);
    expect(last("websocket_auth").context.certIdentity?.commonName).toBe(WORKER);
    await channel!.send({ command: "cancel_task", task_id: "t-1", job_id: "j-1" });
    await until(() => commands.length === 1, 15_000);
    expect(commands[0]).toMatchObject({ command: "cancel_task", task_id: "t-1" });
    controller.abort();
    await reading;

    const first = await transport.refreshToken();
    expect(first).toMatchObject({ access_token: "access-1" });
    const second = await transport.refreshToken();
    expect(second).toMatchObject({ access_token: "access-2" });
    expect(seen.filter((s) => s.action === "sts_token" || s.action === "sts_refresh").map((s) => s.action)).toEqual(["sts_token", "sts_refresh"]);
    expect(last("sts_refresh").payload).toMatchObject({ refresh_token: "refresh-1" });
    // After STS the token header carries the access token; signatures still use the long-term secret.
    // (A different heartbeat: an identical one within the same second is refused as a replay.)
    await transport.sendHeartbeat({ worker_id: WORKER, status: "busy" });
    expect(last("heartbeat").context).toMatchObject({ token: "access-2", verifiedWorkerId: WORKER });
  });
});
