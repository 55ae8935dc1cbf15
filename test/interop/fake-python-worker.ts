/**
 * An imitation of the Python worker SDK's behaviour (avtomatika-worker 1.0b17), as observed:
 *
 * - it re-registers only when a heartbeat FAILS with an error whose text contains "not found" or
 *   "unauthorized"; on `{"status":"ok","require_full_sync":true}` it only sends its skill list in
 *   the next heartbeat;
 * - heartbeats every `heartbeatMs` (15 s in the SDK); polls again `pollRetryMs` (0.5 s) after a poll
 *   error, without backoff;
 * - a debounced heartbeat (cooldown `cooldownMs`, 2 s in the SDK) when it picks up a task and when
 *   one ends;
 * - messages signed with HMAC-SHA256 of its token; `X-RXON-Version: 1.0b14`.
 *
 * Small and deterministic on purpose; every loop stops with `stop()`.
 */
import { request } from "undici";
import { canonicalize } from "../../src/wire/canonical.js";
import { signMessage } from "../../src/security/index.js";

/** Options of {@link FakePythonWorker}. */
export interface FakePythonWorkerOptions {
  url: string;
  workerId: string;
  token: string;
  skills: { name: string; version: string }[];
  /** Runs a task; returns its result data. */
  run?: (task: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>;
  heartbeatMs?: number;
  pollRetryMs?: number;
  cooldownMs?: number;
  pollTimeoutSeconds?: number;
}

/** A worker that behaves like the Python SDK. */
export class FakePythonWorker {
  readonly registrations: number[] = [];
  readonly heartbeatAnswers: { status: number; body: unknown }[] = [];
  readonly results: unknown[] = [];
  readonly running = new Set<string>();
  #stopped = false;
  #syncSkills = false;
  #lastHeartbeat = 0;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #loops: Promise<void>[] = [];
  readonly #o: Required<FakePythonWorkerOptions>;

  constructor(options: FakePythonWorkerOptions) {
    this.#o = { heartbeatMs: 15_000, pollRetryMs: 500, cooldownMs: 2000, pollTimeoutSeconds: 1, run: () => ({}), ...options };
  }

  #headers(): Record<string, string> {
    return { "X-Worker-Token": this.#o.token, "X-Worker-ID": this.#o.workerId, "X-RXON-Version": "1.0b14", "Content-Type": "application/json" };
  }

  async #send(method: "GET" | "POST" | "PATCH", path: string, body?: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    const text = body === undefined ? undefined : canonicalize(signMessage(body, { secret: this.#o.token, signerId: this.#o.workerId }));
    const res = await request(this.#o.url + path, { method, headers: this.#headers(), ...(text !== undefined ? { body: text } : {}), headersTimeout: 10_000, bodyTimeout: 10_000 });
    const out = await res.body.text();
    let parsed: unknown = null;
    try {
      parsed = out === "" ? null : JSON.parse(out);
    } catch {
      parsed = out;
    }
    return { status: res.statusCode, body: parsed };
  }

  async #register(): Promise<void> {
    const answer = await this.#send("POST", "/_worker/workers/register", { worker_id: this.#o.workerId, worker_type: "generic", supported_skills: this.#o.skills });
    if (answer.status === 200) this.registrations.push(Date.now());
  }

  /** Registers and starts the heartbeat and poll loops. */
  async start(): Promise<void> {
    await this.#register();
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#o.heartbeatMs);
    this.#loops.push(this.#pollLoop());
  }

  async #heartbeat(): Promise<void> {
    if (this.#stopped) return;
    this.#lastHeartbeat = Date.now();
    const body: Record<string, unknown> = { worker_id: this.#o.workerId, status: this.running.size > 0 ? "busy" : "idle", current_tasks: [...this.running] };
    if (this.#syncSkills) body.supported_skills = this.#o.skills;
    let answer: { status: number; body: unknown };
    try {
      answer = await this.#send("PATCH", `/_worker/workers/${this.#o.workerId}`, body);
    } catch {
      return; // a network error: try again next time
    }
    this.heartbeatAnswers.push(answer);
    if (answer.status >= 400) {
      const text = JSON.stringify(answer.body).toLowerCase();
      // The SDK's only path back to a registration.
      if (text.includes("not found") || text.includes("unauthorized")) await this.#register();
      return;
    }
    const b = answer.body as { require_full_sync?: boolean } | null;
    this.#syncSkills = b?.require_full_sync === true;
  }

  /** The SDK's debounced heartbeat on task pickup and end. */
  #nudge(): void {
    if (this.#debounce !== undefined) return;
    const wait = Math.max(0, this.#lastHeartbeat + this.#o.cooldownMs - Date.now());
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#heartbeat();
    }, wait);
  }

  async #pollLoop(): Promise<void> {
    while (!this.#stopped) {
      let answer: { status: number; body: unknown };
      try {
        answer = await this.#send("GET", `/_worker/workers/${this.#o.workerId}/tasks/next?timeout=${this.#o.pollTimeoutSeconds}`);
      } catch {
        await sleep(this.#o.pollRetryMs);
        continue;
      }
      if (answer.status >= 400) {
        await sleep(this.#o.pollRetryMs);
        continue;
      }
      if (answer.status !== 200 || answer.body === null) continue;
      const task = answer.body as Record<string, unknown>;
      this.running.add(task.task_id as string);
      this.#nudge();
      const data = await this.#o.run(task);
      const res = await this.#send("POST", "/_worker/tasks/result", { job_id: task.job_id, task_id: task.task_id, worker_id: this.#o.workerId, status: "success", data });
      this.results.push(res.body);
      this.running.delete(task.task_id as string);
      this.#nudge();
    }
  }

  /** Stops every loop and timer. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    await Promise.allSettled(this.#loops);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
