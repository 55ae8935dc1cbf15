/**
 * Matching and contract benchmarks: device matching, fleet selection over 10,000 and 100,000
 * workers (index build time reported too), and params validation on a 10-field object.
 */
import type { HardwareDevice } from "../generated/types.js";
import { validateParams } from "../src/contracts/index.js";
import { matchResources, selectWorkers, WorkerIndex, type WorkerRecord, type WorkerRequirement } from "../src/matching/index.js";
import { measure, median, type BenchRow } from "./harness.js";

/** Deterministic pseudo-random numbers so every run builds the same fleet. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SKILLS = Array.from({ length: 20 }, (_, i) => `skill-${i}`);
const VRAM = [8, 12, 16, 24, 48, 80];
const MODELS = ["NVIDIA RTX 4090", "NVIDIA A100", "NVIDIA H100", "AMD MI300"];

function fleet(n: number, seed: number): WorkerRecord[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: WorkerRecord[] = [];
  for (let i = 0; i < n; i++) {
    const devices: HardwareDevice[] = [];
    const gpus = Math.floor(r() * 9);
    for (let g = 0; g < gpus; g++) devices.push({ type: "gpu", model: pick(MODELS), id: `gpu-${g}`, properties: { vram_gb: pick(VRAM), cuda: r() < 0.8 } });
    const skills = new Set<string>();
    const k = 1 + Math.floor(r() * 5);
    while (skills.size < k) skills.add(pick(SKILLS));
    out.push({
      worker_id: `worker-${i}`,
      status: r() < 0.8 ? "idle" : pick(["busy", "draining"]),
      supported_skills: [...skills].map((name) => ({ name, type: "gpu-job", version: "1.0.0" })),
      resources: { devices, properties: { cpu_cores: pick([4, 8, 16, 32, 64]), ram_gb: pick([16, 32, 64, 128, 256]), os: "linux" } },
      installed_artifacts: [{ name: "llama-3", version: pick(["8b", "70b"]) }],
      installed_software: { python: "3.12" },
    });
  }
  return out;
}

/** A demanding requirement: two big GPUs, plenty of RAM, one artifact. */
const REQUIREMENT: WorkerRequirement = {
  skill: "skill-3",
  skillVersion: "1.0.0",
  resources: { devices: [{ type: "gpu", properties: { vram_gb: 48 } }, { type: "gpu", properties: { vram_gb: 24 } }], properties: { ram_gb: 128 } },
  artifacts: ["llama-3"],
};

/** Median milliseconds per call of `fn` over `n` calls (after one warm-up call). */
function msPer(fn: () => unknown, n: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

function msRow(name: string, ms: number, note: string): BenchRow {
  return { name, opsPerSec: 1000 / ms, usPerOp: ms * 1000, note };
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];

  // matchResources: 8 devices against a 3-device requirement.
  const worker = {
    devices: [8, 8, 16, 16, 24, 24, 48, 80].map((v, i): HardwareDevice => ({ type: "gpu", model: "NVIDIA H100", id: `g${i}`, properties: { vram_gb: v, cuda: true } })),
    properties: { cpu_cores: 32, ram_gb: 256, os: "linux" },
  };
  const need = { devices: [{ type: "gpu", properties: { vram_gb: 48 } }, { type: "gpu", properties: { vram_gb: 16 } }, { type: "gpu", model: "h100", properties: { vram_gb: 24 } }], properties: { ram_gb: 64 } };
  // Largest devices first: first fit gives the 80 GB card to the 8 GB requirement and then fails.
  const bigFirst = { devices: [...worker.devices].reverse(), properties: worker.properties };
  const counter = { devices: [{ type: "gpu", properties: { vram_gb: 8 } }, { type: "gpu", properties: { vram_gb: 80 } }, { type: "gpu", properties: { vram_gb: 48 } }] };
  rows.push(await measure("matchResources 8 dev vs 3 (reference greedy)", () => matchResources(worker, need, { parity: "reference" })));
  rows.push(await measure("matchResources 8 dev vs 3 (optimal)", () => matchResources(worker, need), { floor: "matchResources 8 dev vs 3 (reference greedy)" }));
  rows.push(await measure("matchResources 8 dev vs 3, first fit fails, optimal re-routes", () => matchResources(bigFirst, counter), { floor: "matchResources 8 dev vs 3 (reference greedy)", note: "reference parity rejects this request" }));

  // Fleet selection.
  for (const n of [10_000, 100_000]) {
    const workers = fleet(n, n);
    const t0 = performance.now();
    const index = new WorkerIndex();
    for (const w of workers) index.add(w);
    const build = performance.now() - t0;
    const t1 = performance.now();
    const matched = index.select(REQUIREMENT).length;
    const first = performance.now() - t1;
    const scanMs = msPer(() => selectWorkers(REQUIREMENT, workers), n >= 100_000 ? 7 : 21);
    const indexMs = msPer(() => index.select(REQUIREMENT), n >= 100_000 ? 41 : 201);
    const limitMs = msPer(() => index.select(REQUIREMENT, { limit: 10 }), 201);
    const ref = n === 10_000 ? "; Python reference scan 23 ms, target <= 2.3 ms" : "; target < 20 ms";
    rows.push(msRow(`selectWorkers list scan, ${n} workers`, scanMs, `${matched} match`));
    rows.push(msRow(`WorkerIndex.select, ${n} workers`, indexMs, `build ${build.toFixed(0)} ms, first select ${first.toFixed(1)} ms${ref}`));
    rows.push(msRow(`WorkerIndex.select limit 10, ${n} workers`, limitMs, ""));
    // Heartbeat path: a status flip must not cost a re-index.
    let k = 0;
    rows.push(await measure(`WorkerIndex.setStatus, ${n} workers`, () => index.setStatus(`worker-${k++ % n}`, k & 1 ? "busy" : "idle"), { rounds: 3 }));
  }

  // Contracts: a 10-field object.
  const skill = {
    name: "task",
    input_schema: {
      type: "object",
      properties: {
        id: { type: "string", format: "uuid" },
        name: { type: "string", minLength: 1, maxLength: 64 },
        kind: { enum: ["a", "b", "c"] },
        count: { type: "integer", minimum: 0 },
        ratio: { type: "number" },
        enabled: { type: "boolean" },
        tags: { type: "array", items: { type: "string" } },
        when: { type: "string", format: "date-time" },
        code: { type: "string", pattern: "^[A-Z]{3}$" },
        labels: { type: "object", additionalProperties: { type: "string" } },
      },
      required: ["id", "name", "kind", "count"],
      additionalProperties: false,
    },
  };
  const valid = { id: "3f0c2b1e-0000-4000-8000-000000000000", name: "job", kind: "b", count: 3, ratio: 0.5, enabled: true, tags: ["x", "y"], when: "2024-05-01T10:00:00Z", code: "ABC", labels: { a: "b" } };
  const invalid = { ...valid, labels: { a: 1 } };
  rows.push(await measure("validateParams 10 fields, valid", () => validateParams(skill, valid), { note: "target >= 1,000,000/s" }));
  rows.push(await measure("validateParams 10 fields, invalid at last field", () => validateParams(skill, invalid), { note: "target >= 1,000,000/s" }));
  return rows;
}
