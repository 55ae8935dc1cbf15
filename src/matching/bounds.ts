/**
 * Numeric upper bounds that let fleet selection refuse most workers without matching devices.
 *
 * For each worker, each "dimension" (a resource property, a device property per device type, a
 * device count per type) gets the largest number the worker could offer there. A requirement
 * turns into minimums on the same dimensions. `bound < minimum` proves a worker cannot match under
 * either parity; `bound >= minimum` proves nothing, and the full check follows. Bounds over-
 * approximate on purpose (booleans count as 0/1, array members count) so they stay sound.
 */
import type { Resources } from "../../generated/types.js";
import type { PropertyBag } from "./compare.js";
import type { ResourcesRequirement } from "./models.js";

/** Dimension → largest value the worker may offer there. */
export type Bounds = Map<string, number>;

/** A minimum a requirement places on one dimension. */
export interface DimensionMinimum {
  /** Dimension key. */
  readonly key: string;
  /** Smallest acceptable bound. */
  readonly min: number;
}

const ANY_COUNT = "N";
const resourceKey = (prop: string): string => `p\u0000${prop}`;
const countKey = (type: string): string => `n\u0000${type}`;
const deviceKey = (type: string, prop: string): string => `d\u0000${type}\u0000${prop}`;
const anyDeviceKey = (prop: string): string => `D\u0000${prop}`;

/** The largest number a worker value could be `>=` or equal to; undefined when none. */
function upper(v: unknown): number | undefined {
  switch (typeof v) {
    case "number":
      return Number.isNaN(v) ? undefined : v;
    case "bigint":
      return Number(v);
    case "boolean":
      return v ? 1 : 0;
    case "object": {
      if (!Array.isArray(v)) return undefined;
      let best: number | undefined;
      for (const x of v) {
        const u = typeof x === "object" ? undefined : upper(x);
        if (u !== undefined && (best === undefined || u > best)) best = u;
      }
      return best;
    }
    default:
      return undefined;
  }
}

function raise(bounds: Bounds, key: string, value: number): void {
  const old = bounds.get(key);
  if (old === undefined || value > old) bounds.set(key, value);
}

function addProperties(bounds: Bounds, props: PropertyBag | undefined, key: (prop: string) => string): void {
  if (!props || typeof props !== "object") return;
  for (const k of Object.keys(props)) {
    const u = upper(props[k]);
    if (u !== undefined) raise(bounds, key(k), u);
  }
}

/** The bounds of a worker's resources. */
export function workerBounds(resources: Resources | undefined): Bounds {
  const bounds: Bounds = new Map();
  if (!resources || typeof resources !== "object") return bounds;
  addProperties(bounds, resources.properties, resourceKey);
  const devices = resources.devices;
  if (Array.isArray(devices)) {
    bounds.set(ANY_COUNT, devices.length);
    for (const d of devices) {
      if (d === null || typeof d !== "object") continue;
      const type = typeof d.type === "string" ? d.type : "";
      bounds.set(countKey(type), (bounds.get(countKey(type)) ?? 0) + 1);
      addProperties(bounds, d.properties, (k) => deviceKey(type, k));
      addProperties(bounds, d.properties, anyDeviceKey);
    }
  }
  return bounds;
}

/** A requirement value that can be bounded: numbers only (booleans mean different things per parity). */
function numeric(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isNaN(v) ? undefined : v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

function need(mins: Map<string, number>, key: string, min: number): void {
  const old = mins.get(key);
  if (old === undefined || min > old) mins.set(key, min);
}

/** The minimums a resources requirement implies. */
export function requirementMinimums(resources: ResourcesRequirement | undefined): DimensionMinimum[] {
  const mins = new Map<string, number>();
  if (resources) {
    const props = resources.properties;
    if (props) {
      for (const k of Object.keys(props)) {
        const n = numeric(props[k]);
        if (n !== undefined) need(mins, resourceKey(k), n);
      }
    }
    const devices = resources.devices;
    if (devices && devices.length > 0) {
      need(mins, ANY_COUNT, devices.length);
      const perType = new Map<string, number>();
      for (const d of devices) {
        const type = typeof d.type === "string" ? d.type : "";
        if (type !== "") perType.set(type, (perType.get(type) ?? 0) + 1);
        const dp = d.properties;
        if (!dp) continue;
        for (const k of Object.keys(dp)) {
          const n = numeric(dp[k]);
          if (n !== undefined) need(mins, type === "" ? anyDeviceKey(k) : deviceKey(type, k), n);
        }
      }
      for (const [type, count] of perType) need(mins, countKey(type), count);
    }
  }
  return [...mins].map(([key, min]) => ({ key, min }));
}

/** Do the bounds allow every minimum? */
export function boundsAllow(bounds: Bounds, mins: readonly DimensionMinimum[]): boolean {
  for (let i = 0; i < mins.length; i++) {
    const m = mins[i]!;
    const b = bounds.get(m.key);
    if (b === undefined || b < m.min) return false;
  }
  return true;
}
