/**
 * An imitation of the Python orchestrator's *behaviour* towards workers, on real node:http on
 * 127.0.0.1, built from the facts the field tests established (each one toggled by an option):
 *
 * - rate limit: requests are counted per worker (all routes together) in a window, and every
 *   request, refused ones included, restarts the window's expiry; a refusal is 429 without
 *   Retry-After;
 * - dispatch: a job goes only to a worker whose last reported heartbeat status is `idle`, and is
 *   quarantined after `dispatchAttempts` attempts found none;
 * - after an in-memory restart ({@link FakePythonOrchestrator.forget}) a heartbeat from a worker it
 *   no longer knows is answered `{"status":"ok"}`;
 * - a result with status `cancelled` ends the job cancelled for good, whatever its error code; a
 *   `failure` with TRANSIENT_ERROR puts the job back in the queue;
 * - cancel works only through the heartbeat answer: each `current_tasks` entry is looked up as a
 *   job id, and the ones cancelled are listed in `cancel_task_ids`.
 *
 * It is not the Python code: no signature checks, no WebSocket (the Python one never sends a cancel
 * over it anyway), no persistence.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { signTask } from "../../src/security/task-signature.js";

/** Options; every behaviour can be turned off or tuned. */
export interface FakePythonOptions {
  /** Accepted `X-Worker-Token` values; others get 403 (as the Python orchestrator answers bad tokens). Default: any. */
  tokens?: readonly string[];
  /** Per-worker limiter: more than `limit` requests within `windowMs` of each other get 429. Default: off. */
  rateLimit?: { limit: number; windowMs: number };
  /** Dispatch only to workers whose last heartbeat said `idle`. Default true. */
  idleOnlyDispatch?: boolean;
  /** Attempts to find a worker before a job is quarantined. Default 3. */
  dispatchAttempts?: number;
  /** Pause between two dispatch attempts. Default 50 ms. */
  dispatchRetryDelayMs?: number;
  /** How long an empty poll is held. Default 200 ms. */
  pollHoldMs?: number;
  /**
   * Answer to a heartbeat from a worker it does not know: `ok` (the Python orchestrator after an
   * in-memory restart) or `not_found` (404 "Worker not found", as the rxon hub answers). Default `ok`.
   */
  forgottenHeartbeat?: "ok" | "not_found";
  /** Sign every dispatched task with this key (`sig`), as a newer orchestrator configured with one does. */
  signingKey?: string;
  /** The first this many polls get headers at once and then a body that trickles in, a byte per 200 ms. */
  trickledPolls?: number;
  /** Answer of `POST /skills/call`: HTTP status and JSON body. Default 200 `{status: "success", data: {called: skill_name}}`. */
  skillCall?: (body: Record<string, unknown>) => { status: number; body: Record<string, unknown> };
}

/** A job as the fake tracks it. */
export interface FakeJob {
  readonly id: string;
  readonly taskId: string;
  readonly type: string;
  readonly params: Record<string, unknown>;
  readonly extra: Record<string, unknown>;
  status: "waiting" | "queued" | "running" | "finished" | "failed" | "cancelled" | "quarantined";
  /** Set by {@link FakePythonOrchestrator.cancel}; reported to the worker through heartbeats. */
  cancelRequested: boolean;
  workerId?: string;
  attempts: number;
  results: Record<string, unknown>[];
}

interface KnownWorker {
  skills: Set<string>;
  status: string;
}

type Json = Record<string, unknown>;

/** The fake orchestrator. */
export class FakePythonOrchestrator {
  /** `http://127.0.0.1:<port>`, set by {@link start}. */
  url = "";
  /** Every registration body received. */
  readonly registrations: Json[] = [];
  /** Every heartbeat body received (with the worker id of the path). */
  readonly heartbeats: { workerId: string; body: Json }[] = [];
  /** Every result body received. */
  readonly results: Json[] = [];
  /** The query string of every result received (the Python orchestrator reads none of it). */
  readonly resultQueries: string[] = [];
  /** Polls received. */
  polls = 0;
  /** Every `/skills/call` request: its headers and body. */
  readonly skillCalls: { headers: IncomingMessage["headers"]; body: Json }[] = [];
  /** Polls answered with a trickling body so far. */
  trickled = 0;
  /** Requests refused with 429. */
  rateLimited = 0;
  /** Requests answered (any route), 429s included. */
  requests = 0;
  readonly jobs = new Map<string, FakeJob>();

  private readonly options: FakePythonOptions & Required<Pick<FakePythonOptions, "idleOnlyDispatch" | "dispatchAttempts" | "dispatchRetryDelayMs" | "pollHoldMs" | "forgottenHeartbeat" | "trickledPolls">>;
  private readonly workers = new Map<string, KnownWorker>();
  private readonly queues = new Map<string, FakeJob[]>();
  private readonly pollWaiters = new Map<string, () => void>();
  private readonly limiter = new Map<string, { count: number; expiresAt: number }>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private server: Server | undefined;
  private port = 0;
  private counter = 0;

  constructor(options: FakePythonOptions = {}) {
    this.options = {
      ...options,
      idleOnlyDispatch: options.idleOnlyDispatch ?? true,
      dispatchAttempts: options.dispatchAttempts ?? 3,
      dispatchRetryDelayMs: options.dispatchRetryDelayMs ?? 50,
      pollHoldMs: options.pollHoldMs ?? 200,
      forgottenHeartbeat: options.forgottenHeartbeat ?? "ok",
      trickledPolls: options.trickledPolls ?? 0,
    };
  }

  /** Listens on 127.0.0.1 (a fresh port the first time, the same port after {@link outage}). */
  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 1_000;
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** A network outage: the port stops answering (connections refused) until {@link start} again. */
  async outage(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    for (const wake of this.pollWaiters.values()) wake();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** An in-memory restart: every worker is forgotten (jobs are kept, as a persistent queue would). */
  forget(): void {
    this.workers.clear();
    this.limiter.clear();
  }

  /** Stops for good. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.outage();
  }

  /** Submits a job for skill `type`; returns it. Dispatch starts at once. */
  submit(type: string, params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): FakeJob {
    const n = ++this.counter;
    const job: FakeJob = { id: `job-${n}`, taskId: `task-${n}`, type, params, extra, status: "waiting", cancelRequested: false, attempts: 0, results: [] };
    this.jobs.set(job.id, job);
    this.dispatch(job);
    return job;
  }

  /** Asks for a job to be cancelled; the worker hears of it in a heartbeat answer only. */
  cancel(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job !== undefined && (job.status === "queued" || job.status === "running")) job.cancelRequested = true;
  }

  /** Resolves once `predicate` holds (checked every 10 ms), or rejects after `timeoutMs`. */
  async waitFor(predicate: (fake: this) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) throw new Error(`fake orchestrator: condition not met within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The last status a worker reported, if it is known. */
  statusOf(workerId: string): string | undefined {
    return this.workers.get(workerId)?.status;
  }

  // --- dispatch ----------------------------------------------------------------------------------

  private dispatch(job: FakeJob): void {
    job.attempts++;
    const entry = [...this.workers.entries()].find(([, w]) => w.skills.has(job.type) && (!this.options.idleOnlyDispatch || w.status === "idle"));
    if (entry !== undefined) {
      const [workerId] = entry;
      job.status = "queued";
      job.workerId = workerId;
      const queue = this.queues.get(workerId) ?? [];
      queue.push(job);
      this.queues.set(workerId, queue);
      this.pollWaiters.get(workerId)?.();
      return;
    }
    if (job.attempts >= this.options.dispatchAttempts) {
      job.status = "quarantined";
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (job.status === "waiting") this.dispatch(job);
    }, this.options.dispatchRetryDelayMs);
    this.timers.add(timer);
  }

  // --- HTTP --------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    this.requests++;
    const workerId = String(req.headers["x-worker-id"] ?? "");
    if (this.options.tokens !== undefined && !this.options.tokens.includes(String(req.headers["x-worker-token"] ?? ""))) {
      return send(res, 403, { error: "Unauthorized: invalid worker token" });
    }
    if (this.limited(workerId)) {
      this.rateLimited++;
      return send(res, 429, { error: "Too Many Requests" });
    }
    const path = (req.url ?? "").split("?")[0] ?? "";
    let body: Json;
    try {
      body = text === "" ? {} : (JSON.parse(text) as Json);
    } catch {
      return send(res, 400, { error: "Invalid JSON" });
    }
    if (req.method === "POST" && path === "/skills/call") return this.skillCall(res, req.headers, body);
    if (req.method === "POST" && path === "/_worker/workers/register") return this.register(res, body);
    if (req.method === "POST" && path === "/_worker/tasks/result") {
      this.resultQueries.push((req.url ?? "").slice(path.length));
      return this.result(res, body);
    }
    if (req.method === "POST" && path === "/_worker/events") return send(res, 200, { status: "ok" });
    const heartbeat = /^\/_worker\/workers\/([^/]+)$/.exec(path);
    if (req.method === "PATCH" && heartbeat) return this.heartbeat(res, decodeURIComponent(heartbeat[1]!), body);
    const poll = /^\/_worker\/workers\/([^/]+)\/tasks\/next$/.exec(path);
    if (req.method === "GET" && poll) {
      this.polls++;
      return this.poll(res, decodeURIComponent(poll[1]!));
    }
    send(res, 404, { error: "Not found" });
  }

  /** The Python limiter: a counter per worker whose expiry every request pushes back. */
  private limited(workerId: string): boolean {
    const rule = this.options.rateLimit;
    if (rule === undefined) return false;
    const now = Date.now();
    const entry = this.limiter.get(workerId);
    const count = entry !== undefined && entry.expiresAt > now ? entry.count + 1 : 1;
    this.limiter.set(workerId, { count, expiresAt: now + rule.windowMs });
    return count > rule.limit;
  }

  private register(res: ServerResponse, body: Json): void {
    this.registrations.push(body);
    const skills = new Set<string>();
    for (const s of (body.supported_skills as { name?: unknown }[] | undefined) ?? []) if (typeof s?.name === "string") skills.add(s.name);
    // A fresh registration counts as idle until the first heartbeat says otherwise.
    this.workers.set(String(body.worker_id), { skills, status: "idle" });
    send(res, 200, { status: "registered" });
  }

  private heartbeat(res: ServerResponse, workerId: string, body: Json): void {
    this.heartbeats.push({ workerId, body });
    const known = this.workers.get(workerId);
    // After an in-memory restart: "ok" for a worker it has forgotten, nothing else.
    if (known === undefined) {
      return this.options.forgottenHeartbeat === "ok" ? send(res, 200, { status: "ok" }) : send(res, 404, { error: "Worker not found" });
    }
    if (typeof body.status === "string") known.status = body.status;
    const cancel: string[] = [];
    for (const entry of (body.current_tasks as unknown[] | undefined) ?? []) {
      // Looked up as a job id only: a task id never matches.
      const job = typeof entry === "string" ? this.jobs.get(entry) : undefined;
      if (job !== undefined && job.cancelRequested) cancel.push(entry as string);
    }
    send(res, 200, cancel.length > 0 ? { status: "ok", cancel_task_ids: cancel } : { status: "ok" });
  }

  private poll(res: ServerResponse, workerId: string): void {
    if (this.trickled < this.options.trickledPolls) {
      this.trickled++;
      return trickle(res);
    }
    const take = (): boolean => {
      const job = this.queues.get(workerId)?.shift();
      if (job === undefined) return false;
      job.status = "running";
      const task: Json = { job_id: job.id, task_id: job.taskId, type: job.type, params: job.params, ...job.extra };
      send(res, 200, this.options.signingKey === undefined ? task : signTask(task, this.options.signingKey));
      return true;
    };
    if (take()) return;
    const timer = setTimeout(() => finish(), this.options.pollHoldMs);
    const finish = (): void => {
      clearTimeout(timer);
      if (this.pollWaiters.get(workerId) === finish) this.pollWaiters.delete(workerId);
      if (res.writableEnded || res.destroyed) return;
      if (!take()) {
        res.writeHead(204);
        res.end();
      }
    };
    this.pollWaiters.set(workerId, finish);
    res.on("close", () => {
      clearTimeout(timer);
      if (this.pollWaiters.get(workerId) === finish) this.pollWaiters.delete(workerId);
    });
  }

  private skillCall(res: ServerResponse, headers: IncomingMessage["headers"], body: Json): void {
    this.skillCalls.push({ headers, body });
    const answer = this.options.skillCall?.(body) ?? { status: 200, body: { status: "success", data: { called: body.skill_name } } };
    send(res, answer.status, answer.body);
  }

  private result(res: ServerResponse, body: Json): void {
    this.results.push(body);
    const job = this.jobs.get(String(body.job_id));
    if (job === undefined) return send(res, 200, { status: "ignored", reason: "stale_task", message: "unknown job" });
    if (job.status === "cancelled" || job.status === "finished" || job.status === "failed") {
      return send(res, 200, { status: "ignored", reason: "stale_task", message: "job already ended" });
    }
    job.results.push(body);
    const error = body.error as { code?: unknown } | undefined;
    if (body.status === "cancelled") job.status = "cancelled";
    else if (body.status === "success") job.status = "finished";
    else if (error?.code === "TRANSIENT_ERROR") {
      job.status = "waiting";
      job.attempts = 0;
      delete job.workerId;
      this.dispatch(job);
    } else job.status = "failed";
    send(res, 200, { status: "ok" });
  }
}

/** Headers now, then a (never complete) body a byte per 200 ms until the client goes away. */
function trickle(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.write("{");
  const timer = setInterval(() => res.write(" "), 200);
  res.on("close", () => clearInterval(timer));
}

function send(res: ServerResponse, status: number, body: Json): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
