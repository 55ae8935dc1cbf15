/** Drives a Hub through its handler the way a listener would: decoded payloads plus a context. */
import type { IncomingMessage } from "node:http";
import { decode, type ModelName } from "../../src/wire/codec.js";
import type { CommandChannel, ListenerContext } from "../../src/listener/types.js";
import type { WorkerCommand, SkillInfo } from "../../generated/types.js";
import { signMessage } from "../../src/security/index.js";
import type { Hub } from "../../src/hub/index.js";

export const SECRETS: Record<string, string> = { "gpu-1": "s-gpu-1", "gpu-2": "s-gpu-2", "cpu-1": "s-cpu-1", "cpu-2": "s-cpu-2" };

export interface CallOptions {
  token?: string | null;
  hint?: string | null;
  signal?: AbortSignal;
  pollTimeout?: number;
  sign?: boolean | string;
  raw?: Record<string, unknown>;
  /** Signing time in epoch ms (a later second makes a re-sent message distinct from a replay). */
  at?: number;
}

export function ctx(workerId: string | null, body: Record<string, unknown> | null, o: CallOptions = {}): ListenerContext {
  const c: ListenerContext = {
    token: o.token === undefined ? (workerId !== null ? (SECRETS[workerId] ?? null) : null) : o.token,
    workerIdHint: o.hint === undefined ? workerId : o.hint,
    protocolVersion: "1.0b14",
    certIdentity: null,
    transport: "http",
    rawRequest: {} as IncomingMessage,
    rawBody: body as ListenerContext["rawBody"],
    signal: o.signal ?? new AbortController().signal,
    ...(o.pollTimeout !== undefined ? { pollTimeout: o.pollTimeout } : {}),
  };
  return c;
}

/** Signs `body` as `workerId` would (HMAC with its secret) unless told not to. */
export function signed(workerId: string, body: Record<string, unknown>, o: CallOptions = {}): Record<string, unknown> {
  if (o.sign === false) return { ...body, timestamp: Math.floor(Date.now() / 1000) };
  const secret = typeof o.sign === "string" ? o.sign : (SECRETS[workerId] ?? "x");
  return signMessage(body, { secret, signerId: workerId, now: o.at ?? Date.now() }) as Record<string, unknown>;
}

export async function call(hub: Hub, action: string, model: ModelName | null, workerId: string, body: Record<string, unknown> | null, o: CallOptions = {}): Promise<unknown> {
  const raw = o.raw ?? (body === null ? null : signed(workerId, body, o));
  const payload = model === null || raw === null ? raw : decode(model, raw);
  const h = hub.handler as (a: string, p: unknown, c: ListenerContext) => Promise<unknown>;
  return h(action, action === "poll" ? workerId : payload, ctx(workerId, raw, o));
}

export function skill(name: string, extra: Partial<SkillInfo> = {}): SkillInfo {
  return { name, version: "1.0.0", ...extra };
}

export async function register(hub: Hub, workerId: string, reg: Record<string, unknown> = {}, o: CallOptions = {}): Promise<unknown> {
  return call(hub, "register", "WorkerRegistration", workerId, { worker_id: workerId, supported_skills: [skill("echo")], ...reg }, o);
}

export async function poll(hub: Hub, workerId: string, o: CallOptions = {}): Promise<Record<string, unknown> | null> {
  const h = hub.handler as (a: string, p: unknown, c: ListenerContext) => Promise<unknown>;
  return (await h("poll", workerId, ctx(workerId, null, { pollTimeout: 0.05, ...o }))) as Record<string, unknown> | null;
}

export async function result(hub: Hub, workerId: string, r: Record<string, unknown>, o: CallOptions = {}): Promise<Record<string, unknown>> {
  return (await call(hub, "result", "TaskResult", workerId, { worker_id: workerId, status: "success", ...r }, o)) as Record<string, unknown>;
}

export async function heartbeat(hub: Hub, workerId: string, hb: Record<string, unknown> | null, o: CallOptions = {}): Promise<Record<string, unknown> | null> {
  const body = hb === null ? null : { worker_id: workerId, status: "idle", ...hb };
  return (await call(hub, "heartbeat", "Heartbeat", workerId, body, o)) as Record<string, unknown> | null;
}

/** An in-memory command channel that records what the hub pushes. */
export function fakeChannel(workerId: string): CommandChannel & { sent: WorkerCommand[]; end(): void } {
  let end!: () => void;
  const closed = new Promise<void>((r) => (end = r));
  let open = true;
  const sent: WorkerCommand[] = [];
  return {
    workerId,
    sent,
    send: async (c: WorkerCommand) => {
      sent.push(c);
    },
    close: () => {
      open = false;
      end();
    },
    closed,
    get isOpen() {
      return open;
    },
    end: () => {
      open = false;
      end();
    },
  };
}

/** Polls `cond` until true or the deadline passes. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
