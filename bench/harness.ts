/**
 * Minimal benchmark harness: each measurement runs a function in timed batches over several
 * rounds and reports the median rate, so one noisy round on a shared machine does not decide it.
 * Ratios are computed against a floor row measured in the same process run.
 */

/** One line of the benchmark table. */
export interface BenchRow {
  /** What was measured. */
  name: string;
  /** Median operations per second over the rounds. */
  opsPerSec: number;
  /** Median time per operation in microseconds. */
  usPerOp: number;
  /** Name of the floor row this row is compared with, if any. */
  floor?: string;
  /** opsPerSec / floor's opsPerSec, filled in by the runner. */
  ratio?: number;
  /** Free text: targets, reference figures, extra metrics (p50/p99, memory). */
  note?: string;
}

/** Options of {@link measure}. */
export interface MeasureOptions {
  /** Name of the floor row to compare with. */
  floor?: string;
  /** Free text shown in the table. */
  note?: string;
  /** Rounds (median taken over them). Default 7. */
  rounds?: number;
  /** Target duration of one round in milliseconds. Default 200. */
  roundMs?: number;
}

/** Measures a synchronous or asynchronous function; returns a table row. */
export async function measure(name: string, fn: () => unknown, options: MeasureOptions = {}): Promise<BenchRow> {
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 200;
  const probe = fn();
  const isAsync = probe instanceof Promise;
  if (isAsync) await probe;
  // Calibrate a batch size that takes about a tenth of a round.
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) isAsync ? await fn() : fn();
    const dt = performance.now() - t0;
    if (dt > roundMs / 10 || batch > 1e8) break;
    batch *= 2;
  }
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let ops = 0;
    const t0 = performance.now();
    let dt = 0;
    do {
      for (let i = 0; i < batch; i++) isAsync ? await fn() : fn();
      ops += batch;
      dt = performance.now() - t0;
    } while (dt < roundMs);
    rates.push((ops / dt) * 1000);
  }
  const opsPerSec = median(rates);
  const row: BenchRow = { name, opsPerSec, usPerOp: 1e6 / opsPerSec };
  if (options.floor !== undefined) row.floor = options.floor;
  if (options.note !== undefined) row.note = options.note;
  return row;
}

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The given percentile (0..100) of a non-empty list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}
