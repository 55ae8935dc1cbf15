/**
 * Time series kept in memory for the charts: tasks ended per second by outcome with latency
 * samples (for p50/p99), and samples of queue depth per skill. Both are fixed-size rings, so
 * memory does not grow with traffic or uptime.
 */

/** Outcomes the throughput chart tells apart; custom statuses count as `other`. */
export const OUTCOMES = ["success", "failure", "cancelled", "other"] as const;
/** One of {@link OUTCOMES}. */
export type Outcome = (typeof OUTCOMES)[number];

interface Bucket {
  second: number;
  counts: Record<Outcome, number>;
  /** Up to {@link LATENCY_SAMPLES} latencies of this second (reservoir-sampled beyond that). */
  latencies: number[];
  seen: number;
}

/** Latencies kept per second; enough for stable percentiles, small enough for 10 minutes of them. */
const LATENCY_SAMPLES = 256;

/** One point of the throughput series. */
export interface ThroughputPoint {
  /** Start of the second, epoch ms. */
  readonly t: number;
  readonly success: number;
  readonly failure: number;
  readonly cancelled: number;
  readonly other: number;
}

/** The throughput page's data: per-second counts and latency percentiles over a window. */
export interface ThroughputView {
  /** Window length in seconds. */
  readonly seconds: number;
  /** One point per second, oldest first (seconds without any end are zeros). */
  readonly points: readonly ThroughputPoint[];
  /** Ends in the window by outcome. */
  readonly totals: Readonly<Record<Outcome, number>>;
  /** Latency percentiles in ms over the window's samples (null without samples). */
  readonly p50: number | null;
  readonly p99: number | null;
  /** Per-bucket latency percentiles, `bucketSeconds` wide, oldest first. */
  readonly latency: readonly { t: number; p50: number | null; p99: number | null }[];
  readonly bucketSeconds: number;
}

/** Ends per second over the last `seconds` seconds, with latency samples. */
export class ThroughputSeries {
  readonly #buckets: (Bucket | undefined)[];
  readonly seconds: number;

  constructor(seconds = 600) {
    this.seconds = seconds;
    this.#buckets = new Array<Bucket | undefined>(seconds);
  }

  /** Records one ended task. */
  record(atMs: number, outcome: Outcome, latencyMs: number): void {
    const second = Math.floor(atMs / 1000);
    const slot = second % this.seconds;
    let b = this.#buckets[slot];
    if (b === undefined || b.second !== second) {
      b = { second, counts: { success: 0, failure: 0, cancelled: 0, other: 0 }, latencies: [], seen: 0 };
      this.#buckets[slot] = b;
    }
    b.counts[outcome]++;
    b.seen++;
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    if (b.latencies.length < LATENCY_SAMPLES) b.latencies.push(latencyMs);
    else {
      // Reservoir sampling keeps every latency of the second equally likely to be kept.
      const j = Math.floor(Math.random() * b.seen);
      if (j < LATENCY_SAMPLES) b.latencies[j] = latencyMs;
    }
  }

  /** The last `seconds` seconds up to `nowMs` (at most the kept window). */
  view(nowMs: number, seconds = this.seconds, bucketSeconds = 10): ThroughputView {
    const span = Math.max(1, Math.min(this.seconds, Math.floor(seconds)));
    const width = Math.max(1, Math.min(span, Math.floor(bucketSeconds)));
    const end = Math.floor(nowMs / 1000);
    const points: ThroughputPoint[] = [];
    const totals: Record<Outcome, number> = { success: 0, failure: 0, cancelled: 0, other: 0 };
    const all: number[] = [];
    const latency: { t: number; p50: number | null; p99: number | null }[] = [];
    let group: number[] = [];
    for (let s = end - span + 1; s <= end; s++) {
      const b = this.#buckets[((s % this.seconds) + this.seconds) % this.seconds];
      const live = b !== undefined && b.second === s ? b : undefined;
      const c = live?.counts ?? { success: 0, failure: 0, cancelled: 0, other: 0 };
      points.push({ t: s * 1000, ...c });
      for (const o of OUTCOMES) totals[o] += c[o];
      if (live) {
        for (const l of live.latencies) all.push(l);
        group.push(...live.latencies);
      }
      if ((s - (end - span + 1)) % width === width - 1 || s === end) {
        latency.push({ t: (s - ((s - (end - span + 1)) % width)) * 1000, p50: percentile(group, 0.5), p99: percentile(group, 0.99) });
        group = [];
      }
    }
    return { seconds: span, points, totals, p50: percentile(all, 0.5), p99: percentile(all, 0.99), latency, bucketSeconds: width };
  }
}

/** Nearest-rank percentile (sorts `values` in place); null for an empty list. */
export function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const rank = Math.min(values.length, Math.max(1, Math.ceil(q * values.length)));
  return values[rank - 1]!;
}

/** One sample of queue depths. */
export interface DepthSample {
  /** Epoch ms. */
  readonly t: number;
  /** Depth by skill (the deepest {@link DepthSeries.maxSkills} of that moment). */
  readonly depths: Readonly<Record<string, number>>;
}

/** Samples of queue depth per skill, in a ring. */
export class DepthSeries {
  readonly #ring: (DepthSample | undefined)[];
  #next = 0;
  #size = 0;
  readonly maxSkills: number;

  constructor(capacity = 120, maxSkills = 20) {
    this.#ring = new Array<DepthSample | undefined>(capacity);
    this.maxSkills = maxSkills;
  }

  /** Adds a sample, keeping only the deepest queues so a sample stays small with many skills. */
  add(t: number, depths: Readonly<Record<string, number>>): void {
    const top = Object.entries(depths)
      .filter(([, n]) => Number.isFinite(n) && n > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, this.maxSkills);
    const kept: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const [k, n] of top) kept[k] = n;
    this.#ring[this.#next] = { t, depths: kept };
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#size = Math.min(this.#size + 1, this.#ring.length);
  }

  /** Samples, oldest first. */
  samples(): DepthSample[] {
    const out: DepthSample[] = [];
    const cap = this.#ring.length;
    for (let i = 0; i < this.#size; i++) {
      const s = this.#ring[(this.#next - this.#size + i + cap) % cap];
      if (s !== undefined) out.push(s);
    }
    return out;
  }
}
