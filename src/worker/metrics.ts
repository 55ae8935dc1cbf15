/**
 * Prometheus metrics of a worker runtime, from its public surface only (events and `stats`):
 * tasks by outcome, execution time, busy slots, registrations and reconnects, errors by place.
 * Serve them with `serveMetrics({ port, registry: metrics })` (`rxon worker --metrics-port`), or
 * put them into the registry your process already exposes. Several workers share one registry
 * with `workerIdLabel: true`: every series then carries `worker_id`.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { ValidationError } from "../errors.js";
import type { MetricsSource } from "../metrics/serve.js";
import type { Unsubscribe } from "./emitter.js";
import type { WorkerEvents, WorkerState, WorkerStats } from "./types.js";

/** What {@link attachWorkerMetrics} needs of a worker (a `Worker` has it). */
export interface MetricsWorker {
  readonly workerId: string;
  readonly stats: WorkerStats;
  readonly state: WorkerState;
  on<K extends keyof WorkerEvents>(event: K, listener: (payload: WorkerEvents[K]) => void): Unsubscribe;
}

/** Options of {@link attachWorkerMetrics}. */
export interface WorkerMetricsOptions {
  /** Registry to add the metrics to. Default: a new one. */
  registry?: Registry;
  /** The worker's `concurrency`, exported as `rxon_worker_slots` (omitted when not given). */
  concurrency?: number;
  /** Buckets of `rxon_worker_task_duration_seconds` (the first worker of a registry sets them). */
  durationBuckets?: readonly number[];
  /**
   * Label every series with `worker_id`. Default false (a scrape target is one worker already);
   * needed to put several workers into one registry.
   */
  workerIdLabel?: boolean;
  /** Distinct `skill` label values kept per registry; more are counted as `other`. Default 256. */
  maxSkills?: number;
}

/** The metrics of one worker. */
export interface WorkerMetrics extends MetricsSource {
  readonly registry: Registry;
  /** Stops listening to the worker's events and drops it from the gauges. */
  detach(): void;
}

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600];
const STATES: readonly WorkerState[] = ["new", "starting", "running", "draining", "stopping", "stopped"];

/** One attached worker, as the registry's gauges see it. */
interface Member {
  readonly worker: MetricsWorker;
  readonly labels: Record<string, string>;
  readonly concurrency: number | undefined;
  /** Ignored and lost results already counted (the runtime keeps the totals). */
  seen: { ignored: number; lost: number };
}

/** The worker metrics of one registry, shared by the workers attached to it. */
interface Family {
  readonly withWorkerId: boolean;
  readonly members: Set<Member>;
  readonly skillLabel: (type: unknown) => string;
  readonly tasks: Counter<string>;
  readonly results: Counter<string>;
  readonly duration: Histogram<string>;
  readonly registrations: Counter<string>;
  readonly reconnects: Counter<string>;
  readonly errors: Counter<string>;
}

const families = new WeakMap<Registry, Family>();

/** Adds the difference of the runtime's ignored/lost totals since the last look. */
function syncResults(family: Family, m: Member): void {
  const { ignored, lost } = m.worker.stats;
  if (ignored > m.seen.ignored) family.results.inc({ ...m.labels, outcome: "ignored" }, ignored - m.seen.ignored);
  if (lost > m.seen.lost) family.results.inc({ ...m.labels, outcome: "lost" }, lost - m.seen.lost);
  m.seen = { ignored, lost };
}

function createFamily(registry: Registry, withWorkerId: boolean, options: WorkerMetricsOptions): Family {
  const registers = [registry];
  const w = withWorkerId ? (["worker_id"] as const) : ([] as const);
  const maxSkills = options.maxSkills ?? 256;
  const skills = new Set<string>();
  const members = new Set<Member>();
  const family: Family = {
    withWorkerId,
    members,
    skillLabel: (type) => {
      const name = typeof type === "string" && type !== "" ? type : "unknown";
      if (skills.has(name)) return name;
      if (skills.size >= maxSkills || name.length > 128) return "other";
      skills.add(name);
      return name;
    },
    tasks: new Counter({ name: "rxon_worker_tasks_total", help: "Tasks run, by skill and result status.", labelNames: [...w, "skill", "status"], registers }),
    results: new Counter({ name: "rxon_worker_results_total", help: "Results by delivery outcome (delivered, ignored by the orchestrator, lost).", labelNames: [...w, "outcome"], registers }),
    duration: new Histogram({ name: "rxon_worker_task_duration_seconds", help: "Time from pick-up to result, by skill.", labelNames: [...w, "skill"], buckets: [...(options.durationBuckets ?? DURATION_BUCKETS)], registers }),
    registrations: new Counter({ name: "rxon_worker_registrations_total", help: "Successful registrations (the first and every re-registration).", labelNames: [...w], registers }),
    reconnects: new Counter({ name: "rxon_worker_reconnects_total", help: "Re-registrations after the orchestrator lost the worker (restart, expiry).", labelNames: [...w], registers }),
    errors: new Counter({ name: "rxon_worker_errors_total", help: "Failures the worker survived, by where they happened.", labelNames: [...w, "where"], registers }),
  };
  new Gauge({
    name: "rxon_worker_slots_busy",
    help: "Tasks being run now.",
    labelNames: [...w],
    registers,
    collect() {
      this.reset();
      for (const m of members) {
        syncResults(family, m);
        this.set(m.labels, m.worker.stats.inFlight);
      }
    },
  });
  new Gauge({
    name: "rxon_worker_abandoned_handlers",
    help: "Handlers still running after their task was aborted and ended (they ignore ctx.signal; their slots serve other tasks).",
    labelNames: [...w],
    registers,
    collect() {
      this.reset();
      for (const m of members) this.set(m.labels, m.worker.stats.abandoned);
    },
  });
  new Gauge({
    name: "rxon_worker_slots",
    help: "Tasks the worker runs at once (its concurrency).",
    labelNames: [...w],
    registers,
    collect() {
      this.reset();
      for (const m of members) if (m.concurrency !== undefined) this.set(m.labels, m.concurrency);
    },
  });
  new Gauge({
    name: "rxon_worker_state",
    help: "Lifecycle state of the worker (1 for the current one).",
    labelNames: [...w, "state"],
    registers,
    collect() {
      this.reset();
      for (const m of members) for (const s of STATES) this.set({ ...m.labels, state: s }, m.worker.state === s ? 1 : 0);
    },
  });
  return family;
}

/**
 * Adds a worker's metrics to a registry:
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `rxon_worker_tasks_total` | counter | `skill`, `status` (`success`, `failure`, `cancelled`...) |
 * | `rxon_worker_results_total` | counter | `outcome` (`delivered`, `ignored`, `lost`) |
 * | `rxon_worker_task_duration_seconds` | histogram | `skill` (handler time, as in the result's costs) |
 * | `rxon_worker_slots_busy` | gauge | |
 * | `rxon_worker_abandoned_handlers` | gauge | (handlers running on after their task was aborted) |
 * | `rxon_worker_slots` | gauge | (when `concurrency` is given) |
 * | `rxon_worker_registrations_total` | counter | |
 * | `rxon_worker_reconnects_total` | counter | (re-registrations: the orchestrator lost the worker, e.g. restarted) |
 * | `rxon_worker_errors_total` | counter | `where` (`poll`, `result`, `commands`, `heartbeat`...) |
 * | `rxon_worker_state` | gauge | `state` (1 for the current one) |
 *
 * Throws a ValidationError when the registry already holds workers' metrics labelled
 * differently, or another worker's without `worker_id` (their series would mix).
 */
export function attachWorkerMetrics(worker: MetricsWorker, options: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = options.registry ?? new Registry();
  const withWorkerId = options.workerIdLabel === true;
  let family = families.get(registry);
  if (family === undefined) {
    family = createFamily(registry, withWorkerId, options);
    families.set(registry, family);
  } else if (family.withWorkerId !== withWorkerId || (!withWorkerId && family.members.size > 0)) {
    throw new ValidationError("This registry already has worker metrics: put several workers in one registry with workerIdLabel: true on each", [
      { path: "/workerIdLabel", message: "must be true for every worker of a shared registry" },
    ]);
  }
  const f = family;
  const labels: Record<string, string> = withWorkerId ? { worker_id: worker.workerId } : {};
  const member: Member = { worker, labels, concurrency: options.concurrency, seen: { ignored: 0, lost: 0 } };
  f.members.add(member);
  for (const outcome of ["delivered", "ignored", "lost"]) f.results.inc({ ...labels, outcome }, 0);
  f.registrations.inc(labels, 0);
  f.reconnects.inc(labels, 0);

  const unsubscribe = [
    worker.on("task:done", ({ task, result, delivered }) => {
      const skill = f.skillLabel(task.type);
      const status = typeof result.status === "string" && result.status.length <= 64 ? result.status : "other";
      f.tasks.inc({ ...labels, skill, status });
      const seconds = result.costs?.execution_time_seconds;
      if (typeof seconds === "number" && Number.isFinite(seconds)) f.duration.observe({ ...labels, skill }, seconds);
      if (delivered) f.results.inc({ ...labels, outcome: "delivered" });
      else syncResults(f, member);
    }),
    worker.on("registered", ({ count }) => {
      f.registrations.inc(labels);
      if (count > 1) f.reconnects.inc(labels);
    }),
    worker.on("error", ({ where }) => {
      f.errors.inc({ ...labels, where: where.length <= 32 ? where : "other" });
    }),
  ];

  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    metrics: () => registry.metrics(),
    detach: () => {
      for (const u of unsubscribe) u();
      f.members.delete(member);
    },
  };
}
