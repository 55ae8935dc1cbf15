/**
 * The hub's live dashboard under `/_dashboard`: a static single-page app and a small JSON API
 * over a {@link DashboardSource}, plus a Server-Sent Events stream of summaries. Off unless admin
 * tokens are configured (its paths are then unknown, 404). Every API answer is aggregated and
 * paginated here, so pages stay small with tens of thousands of workers or queued tasks.
 *
 * | route | answer |
 * |---|---|
 * | `GET /_dashboard/` and `/_dashboard/assets/*` | the app (public: it holds no data) |
 * | `GET /_dashboard/api/summary` | counters, depths, last minute's throughput |
 * | `GET /_dashboard/api/workers?offset&limit&q&status&skill` | a page of the fleet |
 * | `GET /_dashboard/api/workers/{id}` | one worker |
 * | `GET /_dashboard/api/queues` | depths, history, oldest waiting, blocked tasks and why |
 * | `GET /_dashboard/api/tasks?offset&limit&q&state&skill&worker` | a page of tasks |
 * | `GET /_dashboard/api/tasks/{job_id}` | one task and its timeline |
 * | `GET /_dashboard/api/throughput?seconds` | ends per second by outcome, p50/p99 latency |
 * | `POST /_dashboard/api/tasks/{job_id}/cancel` | cancels the task |
 * | `POST /_dashboard/api/workers/{id}/drain` | drains the worker (501 when the hub cannot) |
 * | `POST /_dashboard/api/ticket` | a single-use stream ticket, valid 30 s |
 * | `GET /_dashboard/api/stream?ticket=` | the live stream (`event: summary`) |
 *
 * API routes need `X-Client-Token` with an admin token (401 without, 403 wrong); the stream
 * needs a ticket obtained with it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode } from "../../../generated/constants.js";
import { isValidIdentifier } from "../../contracts/identifiers.js";
import { AuthError, RxonError } from "../../errors.js";
import { abandonBody, hasBody } from "../../listener/body.js";
import { errorAnswer, sendError, sendJson } from "../../listener/respond.js";
import { pathOf } from "../../listener/routes.js";
import { silentLogger, type Logger } from "../../logger.js";
import type { DashboardOptions } from "./options.js";
import { DashboardAccess } from "./access.js";
import { asset } from "./assets.js";
import { intParam, textParam } from "./bounded.js";
import { fleetPage, rowOf } from "./fleet.js";
import { QueueAnalyzer } from "./queues.js";
import { DepthSeries } from "./series.js";
import { hubDashboardSource, type DashboardHub, type DashboardSource } from "./source.js";
import { LiveStreams } from "./stream.js";
import { searchTasks, taskDetail } from "./tasks.js";
import { TaskTracker } from "./tracker.js";

/** Path prefix of the dashboard. */
export const DASHBOARD_PREFIX = "/_dashboard";

export type { DashboardOptions } from "./options.js";

/** Longest request target accepted (filters are short; this only bounds work). */
const MAX_URL = 2048;
const API = `${DASHBOARD_PREFIX}/api/`;
const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
});

function fail(status: number, message: string, code: string = ErrorCode.INVALID_INPUT_ERROR): RxonError {
  return new RxonError(message, { status, code });
}

/** The dashboard of one hub. Mount it with {@link Dashboard.handle} in the hub's HTTP server. */
export class Dashboard {
  readonly #source: DashboardSource;
  readonly #access: DashboardAccess;
  readonly #tracker: TaskTracker;
  readonly #depthSeries = new DepthSeries(120, 20);
  readonly #queues: QueueAnalyzer;
  readonly #streams: LiveStreams;
  readonly #logger: Logger;
  readonly #now: () => number;
  #sampler: NodeJS.Timeout | undefined;
  #closed = false;
  /** The last depth sample failed: further failures are not logged again until one succeeds. */
  #sampleFailing = false;

  /** A dashboard over a {@link Hub} (its events, stats, store; drain when the hub has it). */
  static forHub(hub: DashboardHub, options: DashboardOptions): Dashboard {
    return new Dashboard(hubDashboardSource(hub), options);
  }

  constructor(source: DashboardSource, options: DashboardOptions) {
    this.#source = source;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
    this.#access = new DashboardAccess({ adminTokens: options.adminTokens ?? [], now: this.#now });
    this.#tracker = new TaskTracker({ now: this.#now, ...(options.maxJobs !== undefined ? { maxJobs: options.maxJobs } : {}) });
    this.#queues = new QueueAnalyzer(source, this.#tracker, this.#depthSeries, {
      now: this.#now,
      ...(options.analysisReadBudget !== undefined ? { readBudget: options.analysisReadBudget } : {}),
    });
    this.#streams = new LiveStreams(() => this.summary(), {
      intervalMs: options.streamIntervalMs ?? 1000,
      maxClients: options.maxStreams ?? 100,
    });
    if (!this.enabled) return;
    this.#tracker.attach(source);
    this.#sampler = setInterval(() => void this.sampleDepths(), options.depthSampleMs ?? 5000);
    this.#sampler.unref();
    void this.sampleDepths();
  }

  /** True when admin tokens are configured. */
  get enabled(): boolean {
    return this.#access.enabled;
  }

  /** Open live streams. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Whether the request is under `/_dashboard`. */
  matches(req: IncomingMessage): boolean {
    const { path } = pathOf(req.url);
    return path === DASHBOARD_PREFIX || path.startsWith(DASHBOARD_PREFIX + "/");
  }

  /**
   * Answers a dashboard request (true), or returns false at once, touching nothing, for other
   * paths and for every path while the dashboard is off. Never rejects.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
    if (!this.enabled || !this.matches(req)) return false;
    return this.#serve(req, res).then(
      () => true,
      (error: unknown) => {
        const answer = errorAnswer(error);
        if (answer.internal) this.#logger.error({ err: error }, "hub dashboard: request failed");
        if (!res.headersSent && !res.destroyed) {
          for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
          res.setHeader("Cache-Control", "no-store");
          sendError(res, answer);
        }
        return true;
      },
    );
  }

  /** One queue-depth sample for the history chart (the timer calls it). */
  async sampleDepths(): Promise<void> {
    try {
      this.#depthSeries.add(this.#now(), await this.#queues.depths());
      if (this.#sampleFailing) this.#logger.info({}, "hub dashboard: depth samples taken again");
      this.#sampleFailing = false;
    } catch (err) {
      // Once per outage, not every few seconds for as long as the store is away.
      if (this.#sampleFailing) this.#logger.debug({ err }, "hub dashboard: depth sample failed");
      else this.#logger.warn({ err }, "hub dashboard: depth sample failed (not logged again until a sample succeeds)");
      this.#sampleFailing = true;
    }
  }

  /** The live summary: counters, depths, the last minute's throughput and change counters. */
  async summary(): Promise<Record<string, unknown>> {
    const [stats, depths] = await Promise.all([this.#source.stats(), this.#queues.depths()]);
    const minute = this.#tracker.throughput.view(this.#now(), 60, 60);
    const top = Object.entries(depths)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20);
    return {
      at: this.#now(),
      stats,
      depths: Object.fromEntries(top),
      lastMinute: { totals: minute.totals, p50: minute.p50, p99: minute.p99 },
      fleetVersion: this.#tracker.fleetVersion,
      taskVersion: this.#tracker.taskVersion,
      canDrain: this.#source.drainWorker !== undefined,
    };
  }

  /** Ends live streams and timers and stops following the hub. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#streams.close();
    if (this.#sampler !== undefined) clearInterval(this.#sampler);
    this.#sampler = undefined;
    this.#tracker.detach();
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if ((req.url ?? "").length > MAX_URL) throw fail(414, "Request target too long");
    const method = req.method ?? "GET";
    if (hasBody(req)) {
      // No dashboard route takes a body: refuse without reading it.
      abandonBody(req);
      res.setHeader("Connection", "close");
      throw fail(413, "The dashboard takes no request body");
    }
    const { path, query } = pathOf(req.url);
    const params = new URLSearchParams(query);
    if (!path.startsWith(API)) return this.#static(path, method, res);
    if (this.#closed) throw fail(503, "Dashboard closed", ErrorCode.TRANSIENT_ERROR);
    const route = path.slice(API.length);
    if (route === "stream") {
      if (method !== "GET") throw fail(405, "Method not allowed");
      if (!this.#access.redeem(params.get("ticket"))) {
        throw new AuthError("Missing, used or expired stream ticket", { details: { reason: "bad_ticket" } });
      }
      if (!this.#streams.hasRoom) throw fail(503, "Too many live streams", ErrorCode.TRANSIENT_ERROR);
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      this.#streams.open(res);
      return;
    }
    this.#access.check(req);
    const parts = route.split("/");
    const [head, id, action] = parts;
    if (parts.length > 3 || head === undefined) throw fail(404, "Not found");
    if (id !== undefined && !isValidIdentifier(id, 128)) throw fail(404, "Not found");
    const get = method === "GET" && action === undefined;
    const post = method === "POST";
    if (head === "ticket" && id === undefined && post) {
      const t = this.#access.issueTicket();
      return this.#json(res, 200, { ticket: t.ticket, expires_in_ms: t.expiresInMs });
    }
    if (head === "summary" && id === undefined && get) return this.#json(res, 200, await this.summary());
    if (head === "workers" && id === undefined && get) {
      const workers = await this.#source.listWorkers();
      return this.#json(
        res,
        200,
        fleetPage(workers, this.#tracker, {
          offset: intParam(params, "offset", 0, 0, 1_000_000),
          limit: intParam(params, "limit", 50, 1, 200),
          ...opt("q", textParam(params, "q")),
          ...opt("status", textParam(params, "status", 32)),
          ...opt("skill", textParam(params, "skill")),
        }),
      );
    }
    if (head === "workers" && id !== undefined && get) {
      const w = await this.#source.getWorker(id);
      if (w === undefined) throw fail(404, "Worker not found");
      return this.#json(res, 200, rowOf(w, this.#tracker));
    }
    if (head === "workers" && id !== undefined && action === "drain" && post) {
      const drain = this.#source.drainWorker;
      if (drain === undefined) throw fail(501, "This hub cannot drain workers");
      if ((await this.#source.getWorker(id)) === undefined) throw fail(404, "Worker not found");
      await drain(id);
      this.#logger.info({ worker_id: id }, "hub dashboard: worker drained");
      return this.#json(res, 202, { worker_id: id, status: "draining" });
    }
    if (head === "queues" && id === undefined && get) return this.#json(res, 200, await this.#queues.view());
    if (head === "tasks" && id === undefined && get) {
      return this.#json(
        res,
        200,
        searchTasks(this.#tracker, {
          offset: intParam(params, "offset", 0, 0, 1_000_000),
          limit: intParam(params, "limit", 50, 1, 200),
          ...opt("q", textParam(params, "q")),
          ...opt("state", textParam(params, "state", 32)),
          ...opt("skill", textParam(params, "skill")),
          ...opt("worker", textParam(params, "worker")),
        }),
      );
    }
    if (head === "tasks" && id !== undefined && get) {
      const detail = await taskDetail((j) => this.#source.getJob(j), this.#tracker, id);
      if (detail === null) throw fail(404, "Task not found");
      return this.#json(res, 200, detail);
    }
    if (head === "tasks" && id !== undefined && action === "cancel" && post) {
      const job = await this.#source.getJob(id);
      if (job === undefined) throw fail(404, "Task not found");
      this.#tracker.cancelRequested(id);
      await this.#source.cancel(id);
      const now = (await this.#source.getJob(id)) ?? job;
      this.#logger.info({ job_id: id }, "hub dashboard: task cancelled");
      return this.#json(res, 202, { job_id: id, status: now.state });
    }
    if (head === "throughput" && id === undefined && get) {
      const seconds = intParam(params, "seconds", 600, 10, 600);
      return this.#json(res, 200, this.#tracker.throughput.view(this.#now(), seconds, Math.max(1, Math.round(seconds / 60))));
    }
    if (["ticket", "summary", "workers", "queues", "tasks", "throughput"].includes(head)) throw fail(405, "Method not allowed");
    throw fail(404, "Not found");
  }

  #static(path: string, method: string, res: ServerResponse): void {
    if (method !== "GET" && method !== "HEAD") throw fail(405, "Method not allowed");
    if (path === DASHBOARD_PREFIX) {
      res.writeHead(302, { Location: `${DASHBOARD_PREFIX}/`, "Content-Length": 0 });
      res.end();
      return;
    }
    const name = path === `${DASHBOARD_PREFIX}/` ? "index.html" : path.startsWith(`${DASHBOARD_PREFIX}/assets/`) ? path.slice(`${DASHBOARD_PREFIX}/assets/`.length) : "";
    const file = asset(name);
    if (file === undefined) throw fail(404, "Not found");
    res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": file.type, "Content-Length": file.body.length, "Cache-Control": "no-cache" });
    res.end(method === "HEAD" ? undefined : file.body);
  }

  #json(res: ServerResponse, status: number, value: unknown): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    res.setHeader("Cache-Control", "no-store");
    sendJson(res, status, JSON.stringify(value));
  }
}

function opt<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
