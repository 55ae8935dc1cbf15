/**
 * An incrementally maintained index of a worker fleet for repeated selection.
 *
 * Workers are bucketed by skill name, so a selection only visits workers that list the task's
 * skill. Within a bucket, each numeric dimension a requirement constrains (a resource property, a
 * device property per device type, a device count) gets a sorted array on first use; a selection
 * binary-searches every constrained dimension and scans only the workers of the most selective
 * one. Only those candidates are matched in full. Status changes (the frequent heartbeat update)
 * touch no sorted array; registrations invalidate the arrays of the buckets they touch, which are
 * rebuilt lazily by the next selection that needs them.
 */
import type { SkillInfo } from "../../generated/types.js";
import { ValidationError } from "../errors.js";
import { boundsAllow, requirementMinimums, workerBounds, type Bounds, type DimensionMinimum } from "./bounds.js";
import {
  hostSatisfies,
  normalizeArtifacts,
  normalizeResources,
  paramsSatisfy,
  skillSatisfies,
  type SelectOptions,
  type WorkerRecord,
  type WorkerRequirement,
} from "./requirement.js";

/** Options of {@link WorkerIndex.select} and `selectWorkers`. */
export interface SelectLimitOptions extends SelectOptions {
  /** Return at most this many workers (the earliest added that match). */
  limit?: number;
}

interface Entry {
  record: WorkerRecord;
  readonly seq: number;
  skills: Map<string, SkillInfo>;
  bounds: Bounds;
}

interface Dimension {
  version: number;
  /** Entries having this dimension, by bound descending. */
  entries: Entry[];
  bounds: Float64Array;
}

interface Bucket {
  members: Set<Entry>;
  /** Bumped on membership or resource changes; invalidates `list` and `dims`. */
  version: number;
  list: Entry[] | undefined;
  listVersion: number;
  dims: Map<string, Dimension>;
}

/** Below this bucket size a plain scan is as cheap as consulting sorted arrays. */
const SCAN_BELOW = 256;
/** Sorted dimensions cached per bucket before the cache is reset. */
const MAX_DIMENSIONS = 64;

function skillsByName(skills: readonly SkillInfo[] | undefined): Map<string, SkillInfo> {
  const map = new Map<string, SkillInfo>();
  if (Array.isArray(skills)) {
    for (const s of skills) {
      // The orchestrator looks a skill up by name and takes the first.
      if (s !== null && typeof s === "object" && typeof s.name === "string" && !map.has(s.name)) map.set(s.name, s);
    }
  }
  return map;
}

/**
 * A fleet of workers kept ready for selection. Records are held by reference: after changing a
 * record, pass it to {@link add} (or the change to {@link update}) again.
 */
export class WorkerIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly buckets = new Map<string, Bucket>();
  private seq = 0;

  /** @param defaults options applied to every selection unless overridden per call. */
  constructor(private readonly defaults: SelectOptions = {}) {}

  /** Number of workers held. */
  get size(): number {
    return this.entries.size;
  }

  /** The record held for `workerId`. */
  get(workerId: string): WorkerRecord | undefined {
    return this.entries.get(workerId)?.record;
  }

  /** Every record held, in the order they were first added. */
  *records(): IterableIterator<WorkerRecord> {
    for (const e of this.entries.values()) yield e.record;
  }

  /** Adds a worker, or replaces the record of a worker already held (keeping its place in order). */
  add(record: WorkerRecord): void {
    if (record === null || typeof record !== "object" || typeof record.worker_id !== "string") {
      throw new ValidationError("worker record needs a string worker_id", [{ path: "/worker_id", message: "must be a string" }]);
    }
    const old = this.entries.get(record.worker_id);
    if (old) this.unbucket(old);
    const entry: Entry = {
      record,
      seq: old ? old.seq : this.seq++,
      skills: skillsByName(record.supported_skills),
      bounds: workerBounds(record.resources),
    };
    this.entries.set(record.worker_id, entry);
    for (const name of entry.skills.keys()) {
      let b = this.buckets.get(name);
      if (!b) {
        b = { members: new Set(), version: 0, list: undefined, listVersion: -1, dims: new Map() };
        this.buckets.set(name, b);
      }
      b.members.add(entry);
      b.version++;
    }
  }

  /**
   * Applies a shallow change to a held worker. A change of `status` or `hot_skills` alone is
   * cheap; any other field re-indexes the worker. Returns false for an unknown worker.
   */
  update(workerId: string, patch: Partial<Omit<WorkerRecord, "worker_id">>): boolean {
    const entry = this.entries.get(workerId);
    if (!entry) return false;
    const next: WorkerRecord = { ...entry.record, ...patch, worker_id: workerId };
    for (const k of Object.keys(patch)) {
      if (k !== "status" && k !== "hot_skills") {
        this.add(next);
        return true;
      }
    }
    entry.record = next;
    return true;
  }

  /** Sets a worker's status (the heartbeat path). Returns false for an unknown worker. */
  setStatus(workerId: string, status: string | undefined): boolean {
    return this.update(workerId, { status });
  }

  /** Removes a worker. Returns false if it was not held. */
  remove(workerId: string): boolean {
    const entry = this.entries.get(workerId);
    if (!entry) return false;
    this.unbucket(entry);
    this.entries.delete(workerId);
    return true;
  }

  private unbucket(entry: Entry): void {
    for (const name of entry.skills.keys()) {
      const b = this.buckets.get(name);
      if (!b) continue;
      b.members.delete(entry);
      b.version++;
      if (b.members.size === 0) this.buckets.delete(name);
    }
  }

  /** The workers that satisfy `req`, earliest added first (see {@link matchWorker} for the rules). */
  select(req: WorkerRequirement, options: SelectLimitOptions = {}): WorkerRecord[] {
    const opts: SelectLimitOptions = { ...this.defaults, ...options };
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    const bucket = this.buckets.get(req.skill);
    if (!bucket || !(limit > 0)) return [];
    const statuses = opts.statuses ?? ["idle"];
    const resources = normalizeResources(req.resources);
    const artifacts = normalizeArtifacts(req.artifacts);
    const mins = requirementMinimums(resources);
    const list = this.listOf(bucket);

    let candidates = list;
    let count = list.length;
    let ordered = true;
    if (mins.length > 0 && list.length >= SCAN_BELOW) {
      for (const m of mins) {
        const [entries, n] = this.atLeast(bucket, m);
        if (n === 0) return [];
        // A prefix of a sorted dimension is not in insertion order; worth it only when small.
        if (n < count && n <= list.length / 2) {
          candidates = entries;
          count = n;
          ordered = false;
        }
      }
    }

    const out: Entry[] = [];
    for (let i = 0; i < count; i++) {
      const e = candidates[i]!;
      const rec = e.record;
      if (!statuses.includes(rec.status ?? "idle")) continue;
      if (!boundsAllow(e.bounds, mins)) continue;
      const skill = e.skills.get(req.skill)!;
      if (!skillSatisfies(skill, req, opts)) continue;
      if (!hostSatisfies(rec, resources, artifacts, req, opts)) continue;
      if (!paramsSatisfy(skill, req.params)) continue;
      out.push(e);
      if (ordered && out.length >= limit) break;
    }
    if (!ordered) {
      out.sort((a, b) => a.seq - b.seq);
      if (out.length > limit) out.length = limit;
    }
    return out.map((e) => e.record);
  }

  private listOf(bucket: Bucket): Entry[] {
    if (bucket.list === undefined || bucket.listVersion !== bucket.version) {
      bucket.list = [...bucket.members].sort((a, b) => a.seq - b.seq);
      bucket.listVersion = bucket.version;
    }
    return bucket.list;
  }

  /**
   * The bucket's entries sorted by their bound on `m.key` (descending) and how many of them reach
   * `m.min`.
   */
  private atLeast(bucket: Bucket, m: DimensionMinimum): [Entry[], number] {
    let dim = bucket.dims.get(m.key);
    if (dim === undefined || dim.version !== bucket.version) {
      // Requirement keys are caller data: keep the number of cached dimensions bounded.
      if (bucket.dims.size >= MAX_DIMENSIONS) bucket.dims.clear();
      const pairs: { e: Entry; b: number }[] = [];
      for (const e of this.listOf(bucket)) {
        const b = e.bounds.get(m.key);
        if (b !== undefined) pairs.push({ e, b });
      }
      // Not `y - x`: Infinity - Infinity is NaN and would break the order.
      pairs.sort((x, y) => (y.b > x.b ? 1 : y.b < x.b ? -1 : x.e.seq - y.e.seq));
      const bounds = new Float64Array(pairs.length);
      const entries: Entry[] = new Array<Entry>(pairs.length);
      for (let i = 0; i < pairs.length; i++) {
        bounds[i] = pairs[i]!.b;
        entries[i] = pairs[i]!.e;
      }
      dim = { version: bucket.version, entries, bounds };
      bucket.dims.set(m.key, dim);
    }
    // First index whose bound is below the minimum.
    let lo = 0;
    let hi = dim.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (dim.bounds[mid]! >= m.min) lo = mid + 1;
      else hi = mid;
    }
    return [dim.entries, lo];
  }
}
