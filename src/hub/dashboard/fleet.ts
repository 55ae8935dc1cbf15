/**
 * The fleet page's data: one page of workers (filtered and sorted on the server) with their
 * skills, devices and last reported usage, and counts by status over the whole fleet.
 */
import type { WorkerRecord } from "../store.js";
import { bounded, clip } from "./bounded.js";
import type { TaskTracker } from "./tracker.js";

/** Filters and page of the fleet list. */
export interface FleetQuery {
  offset: number;
  limit: number;
  /** Substring of the worker id. */
  q?: string;
  /** Exact status. */
  status?: string;
  /** Workers offering this skill. */
  skill?: string;
}

/** Live usage of one device, from the last heartbeat. */
export interface DeviceUsageView {
  readonly unitId: string;
  readonly load: number | null;
  readonly metrics: unknown;
}

/** One worker as the fleet page shows it. */
export interface WorkerRow {
  readonly id: string;
  readonly status: string;
  readonly workerType: string;
  readonly skills: readonly { name: string; version: string }[];
  readonly devices: readonly { id?: string; type: string; model?: string; properties: unknown; usage?: DeviceUsageView }[];
  readonly properties: unknown;
  readonly usage: { cpu: number | null; ramGb: number | null; devices: readonly DeviceUsageView[] } | null;
  readonly lastSeenAt: number;
  readonly registeredAt: number;
  /** Tasks this hub dispatched to it that have not ended. */
  readonly running: number;
  readonly runningJobs: readonly string[];
}

/** A page of the fleet. */
export interface FleetPage {
  /** Workers matching the filters. */
  readonly total: number;
  /** Every registered worker. */
  readonly fleetSize: number;
  /** Workers per status, whole fleet. */
  readonly byStatus: Readonly<Record<string, number>>;
  readonly offset: number;
  readonly limit: number;
  readonly items: readonly WorkerRow[];
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Filters, sorts by id and slices the fleet; only the page's rows are built. */
export function fleetPage(workers: readonly WorkerRecord[], tracker: TaskTracker, query: FleetQuery): FleetPage {
  const byStatus: Record<string, number> = Object.create(null) as Record<string, number>;
  const matching: WorkerRecord[] = [];
  for (const w of workers) {
    const status = clip(String(w.status), 32);
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (query.status !== undefined && w.status !== query.status) continue;
    if (query.q !== undefined && !w.id.includes(query.q)) continue;
    if (query.skill !== undefined && !w.skills.some((s) => s?.name === query.skill)) continue;
    matching.push(w);
  }
  matching.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const items = matching.slice(query.offset, query.offset + query.limit).map((w) => rowOf(w, tracker));
  return { total: matching.length, fleetSize: workers.length, byStatus, offset: query.offset, limit: query.limit, items };
}

/** One worker's row: its registration and last usage, bounded. */
export function rowOf(w: WorkerRecord, tracker: TaskTracker): WorkerRow {
  const usage = (w.usage ?? null) as { cpu_load_percent?: unknown; ram_used_gb?: unknown; devices_usage?: unknown } | null;
  const deviceUsage: DeviceUsageView[] = [];
  if (usage !== null && typeof usage === "object" && Array.isArray(usage.devices_usage)) {
    for (const d of usage.devices_usage.slice(0, 32) as { unit_id?: unknown; load_percent?: unknown; metrics?: unknown }[]) {
      if (d === null || typeof d !== "object" || typeof d.unit_id !== "string") continue;
      deviceUsage.push({ unitId: clip(d.unit_id, 64), load: num(d.load_percent), metrics: bounded(d.metrics ?? {}, 1, 16, 64) });
    }
  }
  const devices = (w.resources?.devices ?? []).slice(0, 32).map((d) => {
    const u = d.id !== undefined ? deviceUsage.find((x) => x.unitId === d.id) : undefined;
    return {
      ...(typeof d.id === "string" ? { id: clip(d.id, 64) } : {}),
      type: clip(String(d.type), 32),
      ...(typeof d.model === "string" ? { model: clip(d.model, 64) } : {}),
      properties: bounded(d.properties ?? {}, 2, 16, 64),
      ...(u !== undefined ? { usage: u } : {}),
    };
  });
  const running = tracker.running.get(w.id);
  return {
    id: w.id,
    status: clip(String(w.status), 32),
    workerType: clip(String(w.workerType), 64),
    skills: w.skills.slice(0, 50).map((s) => ({ name: clip(String(s?.name), 64), version: clip(String(s?.version ?? ""), 32) })),
    devices,
    properties: bounded(w.resources?.properties ?? {}, 2, 16, 64),
    usage:
      usage === null || typeof usage !== "object"
        ? null
        : { cpu: num(usage.cpu_load_percent), ramGb: num(usage.ram_used_gb), devices: deviceUsage },
    lastSeenAt: w.lastSeenAt,
    registeredAt: w.registeredAt,
    running: running?.size ?? 0,
    runningJobs: running === undefined ? [] : [...running].slice(0, 5),
  };
}
