/**
 * Live usage for heartbeats: CPU load from the deltas of `os.cpus()` times between two samples
 * (the load average stands in for the very first one), RAM in use, and whatever the user's
 * provider adds (per-device metrics). A failing or slow provider costs its part, never the heartbeat.
 */
import os from "node:os";
import type { ResourcesUsage } from "../../generated/types.js";
import type { Logger } from "../logger.js";
import type { UsageProvider, WorkerClock } from "./types.js";

const GIB = 1024 ** 3;

interface CpuTimes {
  readonly idle: number;
  readonly total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

const round = (value: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

const clampPercent = (value: number): number => (Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 0);

/** Samples host usage and merges the user's figures over it. */
export class UsageSampler {
  private previous: CpuTimes | undefined;

  constructor(
    private readonly provider: UsageProvider | undefined,
    private readonly logger: Logger,
    private readonly clock: WorkerClock,
    /** How long the user's provider may take before its part is skipped. */
    private readonly providerTimeoutMs = 1_000,
  ) {}

  /** One usage snapshot; never throws. */
  async sample(signal?: AbortSignal): Promise<ResourcesUsage> {
    const usage: ResourcesUsage = { cpu_load_percent: round(this.cpuPercent(), 1), ram_used_gb: round((os.totalmem() - os.freemem()) / GIB, 3) };
    if (this.provider === undefined) return usage;
    const extra = await this.fromProvider(signal);
    if (extra === undefined) return usage;
    // The user's figures win: a GPU box may know better than the host counters what counts as load.
    if (typeof extra.cpu_load_percent === "number" && Number.isFinite(extra.cpu_load_percent)) usage.cpu_load_percent = clampPercent(extra.cpu_load_percent);
    if (typeof extra.ram_used_gb === "number" && Number.isFinite(extra.ram_used_gb) && extra.ram_used_gb >= 0) usage.ram_used_gb = extra.ram_used_gb;
    if (Array.isArray(extra.devices_usage)) {
      usage.devices_usage = extra.devices_usage
        .filter((d) => d !== null && typeof d === "object" && typeof d.unit_id === "string")
        .map((d) => ({ ...d, load_percent: clampPercent(d.load_percent) }));
    }
    return usage;
  }

  private cpuPercent(): number {
    const now = cpuTimes();
    const prev = this.previous;
    this.previous = now;
    if (prev !== undefined && now.total > prev.total) {
      return clampPercent((1 - (now.idle - prev.idle) / (now.total - prev.total)) * 100);
    }
    const cores = Math.max(1, os.cpus().length);
    return clampPercent(((os.loadavg()[0] ?? 0) / cores) * 100);
  }

  private async fromProvider(signal?: AbortSignal): Promise<ResourcesUsage | undefined> {
    const timeout = new AbortController();
    const onAbort = (): void => timeout.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const call = Promise.resolve().then(() => this.provider?.());
      // A provider that never settles must not hold heartbeats hostage.
      const late = this.clock.sleep(this.providerTimeoutMs, timeout.signal).then(() => "late" as const);
      const value = await Promise.race([call, late]);
      if (value === "late") {
        this.logger.warn({ timeout_ms: this.providerTimeoutMs }, "usage provider too slow; its figures are skipped");
        call.catch(() => {});
        return undefined;
      }
      return value !== null && typeof value === "object" ? value : undefined;
    } catch (err) {
      this.logger.warn({ err }, "usage provider failed; its figures are skipped");
      return undefined;
    } finally {
      timeout.abort();
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
