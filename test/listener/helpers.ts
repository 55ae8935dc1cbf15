/** Shared test plumbing: a listener on a real server at 127.0.0.1:0 and a small HTTP client. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { RxonListener } from "../../src/listener/index.js";
import type { RxonListenerOptions } from "../../src/listener/index.js";

export interface Started {
  listener: RxonListener;
  server: Server;
  base: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts a bare node:http server with the listener attached. */
export async function start(options: RxonListenerOptions = {}, server: Server = createServer()): Promise<Started> {
  const listener = new RxonListener(options);
  listener.attach(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    listener,
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      await listener.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const agent = new Agent({ keepAliveTimeout: 1000, connections: 16 });

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One request; the body is sent as given (string) or as JSON text (object) with application/json. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const h: Record<string, string> = { ...headers };
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["content-type"] = "application/json";
  }
  const res = await request(base + path, { method: method as "GET", headers: h, body: payload, dispatcher: agent, headersTimeout: 15_000, bodyTimeout: 15_000 });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** Waits until `check` is true (polling), failing after `ms`. */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const registration = {
  worker_id: "worker-1",
  worker_type: "cpu",
  supported_skills: [{ name: "echo", type: "echo", version: "1.0.0" }],
};
export const taskResult = { job_id: "job-1", task_id: "task-1", worker_id: "worker-1", status: "success", data: { ok: true } };
export const heartbeat = { worker_id: "worker-1", status: "idle", timestamp: 1700000000 };
export const event = {
  event_id: "e-1",
  worker_id: "worker-1",
  origin_worker_id: "worker-1",
  event_type: "progress",
  payload: { progress: 0.5, message: "half" },
};
