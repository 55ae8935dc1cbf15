/**
 * Prometheus metrics of a hub, built on its public surface only: the events it emits and
 * `hub.stats()` / the store for gauges, read at scrape time. Nothing here runs on the dispatch
 * path besides a few map updates per event, and nothing is collected between scrapes.
 *
 * prom-client is used (rather than the OpenTelemetry metrics SDK with its Prometheus exporter)
 * because it is one small package with no SDK to configure, renders the text format operators
 * scrape, and lets a process put rxon's metrics into the registry it already has.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { refusalCategory, type RefusalCategory } from "../metrics/labels.js";
import { metricsHandler, type MetricsSource } from "../metrics/serve.js";
import { RecentMap } from "../recent.js";
import type { HubEvents, HubStats, TaskOutcome } from "./types.js";

/** What {@link attachHubMetrics} needs of a hub (a `Hub` has it all; the store members are optional). */
export interface MetricsHub {
  on<K extends keyof HubEvents>(event: K, listener: (...args: HubEvents[K]) => void): unknown;
  off?<K extends keyof HubEvents>(event: K, listener: (...args: HubEvents[K]) => void): unknown;
  stats(): Promise<HubStats>;
  readonly store: {
    getJob?(jobId: string): unknown;
    /** Queued tasks per skill, when the store can tell (preferred over the hub's own count). */
    queueDepths?(): Record<string, number> | Promise<Record<string, number>>;
    /** Workers in id order, at most `limit` after `cursor` (a worker id). */
    listWorkers?(limit?: number, cursor?: string): readonly { id: string; status: string }[] | Promise<readonly { id: string; status: string }[]>;
  };
}

/** Options of {@link attachHubMetrics}. */
export interface HubMetricsOptions {
  /** Registry to add the metrics to (e.g. one with your own metrics). Default: a new one. */
  registry?: Registry;
  /** Buckets of `rxon_hub_dispatch_latency_seconds`. */
  dispatchBuckets?: readonly number[];
  /** Buckets of `rxon_hub_task_duration_seconds`. */
  durationBuckets?: readonly number[];
  /** Distinct `skill` label values kept; further skills are counted as `other`. Default 256. */
  maxSkills?: number;
  /** Clock in epoch ms. Default Date.now. */
  now?: () => number;
}

/** Connections a server closed before serving them, as running totals. */
export interface ClosedConnections {
  /** Refused at accept: their address was at its cap, with no idle stranger to give way. */
  cap: number;
  /** Closed after waiting `strangerIdleTimeoutMs` for a request without ever authenticating. */
  idle_stranger: number;
  /** Closed to make room for a newcomer from their address at its cap (idle, never authenticated). */
  evicted: number;
}

/** The metrics of one hub. Pass it to `hub.listen({ metrics })` to serve `/metrics` and count requests. */
export interface HubMetrics extends MetricsSource {
  /** The registry holding them. */
  readonly registry: Registry;
  /** A request handler answering the exposition (mount it anywhere). */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Counts one HTTP request of the hub's server (`route` from `routeLabel`). */
  countRequest(route: string, code: number | string): void;
  /** Counts one refusal; `reason` is mapped onto signature, replay, auth, limits or other. */
  countRefusal(reason: string): void;
  /**
   * True once a server counts its 413 and 429 answers as `limits` refusals (`hub.listen({ metrics })`
   * does): the hub's own limit refusals, answered 429 by that server, are then not counted twice.
   */
  countingHttpLimits: boolean;
  /**
   * Reports, at each scrape, the connections a server closed before serving them: `read()`
   * answers running totals (`hub.listen({ metrics })` passes its server's connection guards).
   */
  countConnections(read: () => ClosedConnections): void;
  /** Stops listening to the hub's events (the registry keeps the metrics). */
  detach(): void;
}

/**
 * A label whose values arrive from outside (task types, statuses, reasons): the first `max`
 * distinct values of at most 128 characters are kept, every other one is `other`, so no client or
 * worker can grow the number of series without bound.
 */
function boundedLabel(max: number): (value: unknown) => string {
  const seen = new Set<string>();
  return (value) => {
    if (typeof value !== "string" || value === "") return "unknown";
    if (seen.has(value)) return value;
    if (seen.size >= max || value.length > 128) return "other";
    seen.add(value);
    return value;
  };
}

/** Label values of codes: the status number, or `aborted` when the client left before an answer. */
function codeLabel(code: number | string): string {
  if (typeof code === "number") return Number.isInteger(code) && code >= 100 && code <= 599 ? String(code) : "other";
  return code === "aborted" ? code : "other";
}

const DISPATCH_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600];

interface OpenJob {
  skill: string;
  state: "queued" | "running";
  /** When it last entered the queue (submit or requeue). */
  queuedAt: number;
  dispatchedAt?: number;
}

/** Open jobs followed at once, at most; past it the oldest are forgotten (their end is still counted, by store lookup). */
const MAX_OPEN = 200_000;
/** Workers read per store call for `rxon_hub_workers`, and most pages read per scrape. */
const WORKER_PAGE = 1_000;
const MAX_WORKER_PAGES = 100;
/** Gauges read the hub once per scrape: reads within this window share one answer. */
const SCRAPE_SHARE_MS = 250;

/**
 * Adds the hub's metrics to a registry and keeps them current from the hub's events:
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `rxon_hub_tasks_submitted_total` | counter | `skill` |
 * | `rxon_hub_tasks_finished_total` | counter | `skill`, `status` |
 * | `rxon_hub_tasks_requeued_total` | counter | `skill`, `reason` |
 * | `rxon_hub_results_ignored_total` | counter | `reason` |
 * | `rxon_hub_queue_depth` | gauge | `skill` |
 * | `rxon_hub_tasks_running` | gauge | |
 * | `rxon_hub_workers` | gauge | `status` |
 * | `rxon_hub_held_polls` | gauge | |
 * | `rxon_hub_dispatch_latency_seconds` | histogram | (submit or requeue to dispatch) |
 * | `rxon_hub_task_duration_seconds` | histogram | `skill` (dispatch to outcome) |
 * | `rxon_hub_requests_total` | counter | `route`, `code` |
 * | `rxon_hub_refused_total` | counter | `reason` (signature, replay, auth, limits, other) |
 * | `rxon_hub_connections_closed_total` | counter | `reason` (cap, idle_stranger, evicted) |
 */
export function attachHubMetrics(hub: MetricsHub, options: HubMetricsOptions = {}): HubMetrics {
  const registry = options.registry ?? new Registry();
  const now = options.now ?? Date.now;
  const maxSkills = options.maxSkills ?? 256;
  const registers = [registry];
  const skillLabel = boundedLabel(maxSkills);
  // Statuses and requeue reasons come from workers (custom statuses, error codes): bounded as well.
  const statusLabel = boundedLabel(64);
  const reasonLabel = boundedLabel(64);
  // Worker statuses come from heartbeats.
  const workerStatusLabel = boundedLabel(32);

  /** Every worker's status, page by page (a shared store may hold many). */
  const listAllWorkers = async (): Promise<{ status: string }[] | undefined> => {
    const list = hub.store.listWorkers;
    if (list === undefined) return undefined;
    const all: { status: string }[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_WORKER_PAGES; page++) {
      const batch = await list.call(hub.store, WORKER_PAGE, cursor);
      all.push(...batch);
      // A store that does not page answers everything at once.
      if (batch.length < WORKER_PAGE || batch.length > WORKER_PAGE) break;
      cursor = batch[batch.length - 1]!.id;
    }
    return all;
  };

  const open = new RecentMap<string, OpenJob>(MAX_OPEN);
  let shared: { at: number; value: Promise<Scrape> } | undefined;
  interface Scrape {
    stats: HubStats | undefined;
    depths: Record<string, number> | undefined;
    workers: Record<string, number> | undefined;
  }
  const scrape = (): Promise<Scrape> => {
    const at = performance.now();
    if (shared !== undefined && at - shared.at < SCRAPE_SHARE_MS) return shared.value;
    const value = (async (): Promise<Scrape> => {
      const [stats, depths, list] = await Promise.all([
        hub.stats().catch(() => undefined),
        (async () => hub.store.queueDepths?.())().catch(() => undefined),
        listAllWorkers().catch(() => undefined),
      ]);
      let workers: Record<string, number> | undefined;
      if (list !== undefined) {
        workers = {};
        for (const w of list) {
          const s = workerStatusLabel(w.status);
          workers[s] = (workers[s] ?? 0) + 1;
        }
      }
      return { stats, depths, workers };
    })();
    shared = { at, value };
    return value;
  };

  const submitted = new Counter({ name: "rxon_hub_tasks_submitted_total", help: "Tasks submitted, by skill.", labelNames: ["skill"] as const, registers });
  const finished = new Counter({ name: "rxon_hub_tasks_finished_total", help: "Tasks that reached an outcome, by skill and status.", labelNames: ["skill", "status"] as const, registers });
  const requeued = new Counter({ name: "rxon_hub_tasks_requeued_total", help: "Tasks put back in the queue (retries, lost workers), by skill and reason.", labelNames: ["skill", "reason"] as const, registers });
  const ignored = new Counter({ name: "rxon_hub_results_ignored_total", help: "Results answered `ignored` (late, stale, duplicate...), by reason.", labelNames: ["reason"] as const, registers });
  const requests = new Counter({ name: "rxon_hub_requests_total", help: "HTTP requests answered by the hub's server, by route and status code.", labelNames: ["route", "code"] as const, registers });
  const refused = new Counter({ name: "rxon_hub_refused_total", help: "Messages refused, by reason (signature, replay, auth, limits, other).", labelNames: ["reason"] as const, registers });
  const dispatchLatency = new Histogram({ name: "rxon_hub_dispatch_latency_seconds", help: "Time from submit (or requeue) to dispatch.", buckets: [...(options.dispatchBuckets ?? DISPATCH_BUCKETS)], registers });
  const duration = new Histogram({ name: "rxon_hub_task_duration_seconds", help: "Time from dispatch to outcome of tasks that ran, by skill.", labelNames: ["skill"] as const, buckets: [...(options.durationBuckets ?? DURATION_BUCKETS)], registers });
  for (const c of ["signature", "replay", "auth", "limits", "other"] satisfies RefusalCategory[]) refused.inc({ reason: c }, 0);
  let readConnections: (() => ClosedConnections) | undefined;
  new Counter({
    name: "rxon_hub_connections_closed_total",
    help: "Connections closed before they were served, by reason (cap: refused at accept at the per-address cap; idle_stranger: no request in time before authenticating; evicted: gave way to a newcomer at the cap).",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      const totals = readConnections?.() ?? { cap: 0, idle_stranger: 0, evicted: 0 };
      this.reset();
      for (const reason of ["cap", "idle_stranger", "evicted"] as const) this.inc({ reason }, totals[reason]);
    },
  });

  new Gauge({
    name: "rxon_hub_queue_depth",
    help: "Tasks waiting for a worker, by skill.",
    labelNames: ["skill"] as const,
    registers,
    async collect() {
      const { depths } = await scrape();
      this.reset();
      if (depths !== undefined) {
        // Several skills may share one label (`other`): their depths add up.
        const bySkill = new Map<string, number>();
        for (const [skill, n] of Object.entries(depths)) {
          const label = skillLabel(skill);
          bySkill.set(label, (bySkill.get(label) ?? 0) + n);
        }
        for (const [skill, n] of bySkill) this.set({ skill }, n);
        return;
      }
      // The store cannot tell: count the queued jobs this hub has seen.
      const counts = new Map<string, number>();
      for (const j of open.values()) if (j.state === "queued") counts.set(j.skill, (counts.get(j.skill) ?? 0) + 1);
      for (const [skill, n] of counts) this.set({ skill }, n);
    },
  });
  new Gauge({
    name: "rxon_hub_tasks_running",
    help: "Tasks dispatched and not yet ended.",
    registers,
    async collect() {
      const { stats } = await scrape();
      if (stats !== undefined) this.set(stats.running);
    },
  });
  new Gauge({
    name: "rxon_hub_workers",
    help: "Registered workers, by last reported status.",
    labelNames: ["status"] as const,
    registers,
    async collect() {
      const { workers, stats } = await scrape();
      this.reset();
      if (workers !== undefined) for (const [status, n] of Object.entries(workers)) this.set({ status }, n);
      else if (stats !== undefined) this.set({ status: "any" }, stats.workers);
    },
  });
  new Gauge({
    name: "rxon_hub_held_polls",
    help: "Long polls held open, waiting for a task.",
    registers,
    async collect() {
      const { stats } = await scrape();
      if (stats !== undefined) this.set(stats.waitingPolls);
    },
  });

  const remember = (jobId: string, job: OpenJob): OpenJob => {
    open.set(jobId, job);
    return job;
  };
  const onSubmitted = (e: HubEvents["task:submitted"][0]): void => {
    const skill = skillLabel(e.type);
    submitted.inc({ skill });
    const known = open.get(e.jobId);
    // A held poll may have taken the task before its submission was announced.
    if (known !== undefined) known.skill = skill;
    else remember(e.jobId, { skill, state: "queued", queuedAt: now() });
  };
  const onDispatched = (e: HubEvents["task:dispatched"][0]): void => {
    const at = now();
    const j = open.get(e.jobId);
    if (j !== undefined) {
      dispatchLatency.observe(Math.max(0, at - j.queuedAt) / 1000);
      j.state = "running";
      j.dispatchedAt = at;
      return;
    }
    // Dispatched before its submission event (or submitted on another hub): the claim's record
    // has the times and the skill; an event without them reads the store.
    if (e.type !== undefined && e.submittedAt !== undefined) {
      remember(e.jobId, { skill: skillLabel(e.type), state: "running", queuedAt: at, dispatchedAt: at });
      dispatchLatency.observe(Math.max(0, (e.dispatchedAt ?? e.submittedAt) - e.submittedAt) / 1000);
      return;
    }
    const early = remember(e.jobId, { skill: "unknown", state: "running", queuedAt: at, dispatchedAt: at });
    void (async () => hub.store.getJob?.(e.jobId))()
      .then((job) => {
        const r = job as { type?: unknown; submittedAt?: unknown; dispatchedAt?: unknown } | undefined;
        if (typeof r?.type === "string" && early.skill === "unknown") early.skill = skillLabel(r.type);
        const from = typeof r?.submittedAt === "number" ? r.submittedAt : at;
        const to = typeof r?.dispatchedAt === "number" ? r.dispatchedAt : at;
        dispatchLatency.observe(Math.max(0, to - from) / 1000);
      })
      .catch(() => dispatchLatency.observe(0));
  };
  const onRequeued = (e: HubEvents["task:requeued"][0]): void => {
    const j = open.get(e.jobId);
    requeued.inc({ skill: j?.skill ?? "unknown", reason: reasonLabel(e.reason) });
    if (j === undefined) return;
    j.state = "queued";
    j.queuedAt = now();
    delete j.dispatchedAt;
  };
  const onCompleted = (o: TaskOutcome): void => {
    const j = open.get(o.jobId);
    open.delete(o.jobId);
    const status = statusLabel(o.status);
    if (j !== undefined) {
      finished.inc({ skill: j.skill, status });
      if (j.dispatchedAt !== undefined) duration.observe({ skill: j.skill }, Math.max(0, now() - j.dispatchedAt) / 1000);
      return;
    }
    // Submitted through another hub sharing the store, or forgotten: the store knows the skill.
    void (async () => hub.store.getJob?.(o.jobId))()
      .then((job) => (job as { type?: unknown } | undefined)?.type)
      .catch(() => undefined)
      .then((type) => finished.inc({ skill: typeof type === "string" ? skillLabel(type) : "unknown", status }));
  };
  const onIgnored = (e: HubEvents["result:ignored"][0]): void => {
    ignored.inc({ reason: reasonLabel(e.reason) });
  };
  const onRefused = (e: HubEvents["message:refused"][0]): void => {
    const reason = refusalCategory(e.reason);
    if (reason === "limits" && result.countingHttpLimits) return;
    refused.inc({ reason });
  };
  hub.on("task:submitted", onSubmitted);
  hub.on("task:dispatched", onDispatched);
  hub.on("task:requeued", onRequeued);
  hub.on("task:completed", onCompleted);
  hub.on("result:ignored", onIgnored);
  hub.on("message:refused", onRefused);

  const source: MetricsSource = { get contentType() { return registry.contentType; }, metrics: () => registry.metrics() };
  const result: HubMetrics = {
    registry,
    get contentType() {
      return registry.contentType;
    },
    metrics: () => registry.metrics(),
    handler: metricsHandler(source),
    countRequest: (route, code) => requests.inc({ route, code: codeLabel(code) }),
    countRefusal: (reason) => refused.inc({ reason: refusalCategory(reason) }),
    countingHttpLimits: false,
    countConnections: (read) => {
      readConnections = read;
    },
    detach: () => {
      hub.off?.("task:submitted", onSubmitted);
      hub.off?.("task:dispatched", onDispatched);
      hub.off?.("task:requeued", onRequeued);
      hub.off?.("task:completed", onCompleted);
      hub.off?.("result:ignored", onIgnored);
      hub.off?.("message:refused", onRefused);
      open.clear();
    },
  };
  return result;
}

/** A request handler serving the metrics of `metrics` (the same as `metrics.handler`). */
export function hubMetricsHandler(metrics: HubMetrics): (req: IncomingMessage, res: ServerResponse) => void {
  return metrics.handler;
}
