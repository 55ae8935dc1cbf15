/**
 * Prometheus metrics of a worker runtime, from its public surface only (events and `stats`):
 * tasks by outcome, execution time, busy slots, registrations and reconnects, errors by place.
 * Serve them with `serveMetrics({ port, registry: metrics })` (`rxon worker --metrics-port`), or
 * put them into the registry your process already exposes.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
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
  /** Buckets of `rxon_worker_task_duration_seconds`. */
  durationBuckets?: readonly number[];
  /** Label every series with `worker_id`. Default false (a scrape target is one worker already). */
  workerIdLabel?: boolean;
  /** Distinct `skill` label values kept; more are counted as `other`. Default 256. */
  maxSkills?: number;
}

/** The metrics of one worker. */
export interface WorkerMetrics extends MetricsSource {
  readonly registry: Registry;
  /** Stops listening to the worker's events. */
  detach(): void;
}

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600];
const STATES: readonly WorkerState[] = ["new", "starting", "running", "draining", "stopping", "stopped"];

/**
 * Adds the worker's metrics to a registry:
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `rxon_worker_tasks_total` | counter | `skill`, `status` (`success`, `failure`, `cancelled`...) |
 * | `rxon_worker_results_total` | counter | `outcome` (`delivered`, `ignored`, `lost`) |
 * | `rxon_worker_task_duration_seconds` | histogram | `skill` (handler time, as in the result's costs) |
 * | `rxon_worker_slots_busy` | gauge | |
 * | `rxon_worker_slots` | gauge | (when `concurrency` is given) |
 * | `rxon_worker_registrations_total` | counter | |
 * | `rxon_worker_reconnects_total` | counter | (re-registrations: the orchestrator lost the worker, e.g. restarted) |
 * | `rxon_worker_errors_total` | counter | `where` (`poll`, `result`, `commands`, `heartbeat`...) |
 * | `rxon_worker_state` | gauge | `state` (1 for the current one) |
 */
export function attachWorkerMetrics(worker: MetricsWorker, options: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = options.registry ?? new Registry();
  if (options.workerIdLabel === true) registry.setDefaultLabels({ worker_id: worker.workerId });
  const registers = [registry];
  const maxSkills = options.maxSkills ?? 256;
  const skills = new Set<string>();
  const skillLabel = (type: unknown): string => {
    const name = typeof type === "string" ? type : "unknown";
    if (skills.has(name)) return name;
    if (skills.size >= maxSkills || name.length > 128) return "other";
    skills.add(name);
    return name;
  };

  const tasks = new Counter({ name: "rxon_worker_tasks_total", help: "Tasks run, by skill and result status.", labelNames: ["skill", "status"] as const, registers });
  const results = new Counter({
    name: "rxon_worker_results_total",
    help: "Results by delivery outcome (delivered, ignored by the orchestrator, lost).",
    labelNames: ["outcome"] as const,
    registers,
  });
  const duration = new Histogram({ name: "rxon_worker_task_duration_seconds", help: "Time from pick-up to result, by skill.", labelNames: ["skill"] as const, buckets: [...(options.durationBuckets ?? DURATION_BUCKETS)], registers });
  const registrations = new Counter({ name: "rxon_worker_registrations_total", help: "Successful registrations (the first and every re-registration).", registers });
  const reconnects = new Counter({ name: "rxon_worker_reconnects_total", help: "Re-registrations after the orchestrator lost the worker (restart, expiry).", registers });
  const errors = new Counter({ name: "rxon_worker_errors_total", help: "Failures the worker survived, by where they happened.", labelNames: ["where"] as const, registers });
  for (const outcome of ["delivered", "ignored", "lost"]) results.inc({ outcome }, 0);
  registrations.inc(0);
  reconnects.inc(0);

  // Ignored and lost are counted by the runtime itself; the difference since the last scrape is added.
  let seen = { ignored: 0, lost: 0 };
  const syncResults = (): void => {
    const { ignored, lost } = worker.stats;
    if (ignored > seen.ignored) results.inc({ outcome: "ignored" }, ignored - seen.ignored);
    if (lost > seen.lost) results.inc({ outcome: "lost" }, lost - seen.lost);
    seen = { ignored, lost };
  };
  new Gauge({
    name: "rxon_worker_slots_busy",
    help: "Tasks being run now.",
    registers,
    collect() {
      syncResults();
      this.set(worker.stats.inFlight);
    },
  });
  if (options.concurrency !== undefined) {
    const slots = new Gauge({ name: "rxon_worker_slots", help: "Tasks the worker runs at once (its concurrency).", registers });
    slots.set(options.concurrency);
  }
  new Gauge({
    name: "rxon_worker_state",
    help: "Lifecycle state of the worker (1 for the current one).",
    labelNames: ["state"] as const,
    registers,
    collect() {
      for (const s of STATES) this.set({ state: s }, worker.state === s ? 1 : 0);
    },
  });

  const unsubscribe = [
    worker.on("task:done", ({ task, result, delivered }) => {
      const skill = skillLabel(task.type);
      tasks.inc({ skill, status: typeof result.status === "string" && result.status.length <= 64 ? result.status : "other" });
      const seconds = result.costs?.execution_time_seconds;
      if (typeof seconds === "number" && Number.isFinite(seconds)) duration.observe({ skill }, seconds);
      if (delivered) results.inc({ outcome: "delivered" });
      else syncResults();
    }),
    worker.on("registered", ({ count }) => {
      registrations.inc();
      if (count > 1) reconnects.inc();
    }),
    worker.on("error", ({ where }) => {
      errors.inc({ where: where.length <= 32 ? where : "other" });
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
    },
  };
}
