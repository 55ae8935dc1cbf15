/**
 * `rxon demo`: a hub and four workers in this process over loopback HTTP, a batch of tasks with
 * mixed requirements (and some bad inputs the contracts must refuse), a live progress line and a
 * summary. Exits 0 only when every task is accounted for and every placement was legal.
 */
import { randomBytes } from "node:crypto";
import { Hub, type TaskHandle, type TaskOutcome, type SubmitOptions } from "../hub/index.js";
import { Worker } from "../worker/index.js";
import type { Resources } from "../../generated/types.js";
import { cliLogger } from "./log.js";
import { checksum, render, resize } from "./demo-skills.js";
import { ExitCode, intOption, parse, type CliIo } from "./io.js";

export const demoHelp = `Usage: rxon demo [--tasks <n>] [--verbose]

Starts a hub and four workers in this process (two GPU workers with 24 and 8 GB of VRAM, two CPU
workers), submits a batch of tasks with mixed requirements plus some invalid inputs, shows a live
progress line and prints a summary. Exit code 0 only when every task is accounted for.

Options:
  --tasks <n>   tasks in the batch (default 200; 5% of them are invalid on purpose)
  --verbose     log hub and worker activity to stderr
  -h, --help    show this help
`;

interface Fleet {
  id: string;
  resources: Resources;
  skills: (typeof render | typeof resize | typeof checksum)[];
}

const FLEET: Fleet[] = [
  { id: "gpu-24gb", resources: { devices: [{ type: "gpu", id: "gpu0", model: "RTX 4090", properties: { vram_gb: 24 } }], properties: { cpu_cores: 16 } }, skills: [render, checksum] },
  { id: "gpu-8gb", resources: { devices: [{ type: "gpu", id: "gpu0", model: "RTX 3070", properties: { vram_gb: 8 } }], properties: { cpu_cores: 8 } }, skills: [render, checksum] },
  { id: "cpu-a", resources: { properties: { cpu_cores: 4 } }, skills: [resize, checksum] },
  { id: "cpu-b", resources: { properties: { cpu_cores: 8 } }, skills: [resize, checksum] },
];

/** What a task of the batch is, and where it may legally run. */
interface Planned {
  kind: string;
  submit: SubmitOptions;
  allowed: ReadonlySet<string> | null;
  invalid: boolean;
}

function plan(count: number): Planned[] {
  const out: Planned[] = [];
  const gpuBig = new Set(["gpu-24gb"]);
  const gpuAny = new Set(["gpu-24gb", "gpu-8gb"]);
  const cpu = new Set(["cpu-a", "cpu-b", "gpu-24gb", "gpu-8gb"]);
  const bigCpu = new Set(["cpu-b", "gpu-24gb", "gpu-8gb"]);
  const cpuOnly = new Set(["cpu-a", "cpu-b"]);
  const cpuBig = new Set(["cpu-b"]);
  for (let i = 0; i < count; i++) {
    const r = i % 20;
    if (r === 19) {
      // Invalid on purpose: the contract of `resize` refuses these before any worker sees them.
      const bad = [{ width: "wide", height: 10, scale: 1 }, { width: 0, height: 10, scale: 1 }, { width: 10, height: 10 }][i % 3]!;
      out.push({ kind: "resize (invalid)", submit: { type: "resize", params: bad }, allowed: null, invalid: true });
    } else if (r < 5) {
      out.push({ kind: "render vram>=16", submit: { type: "render", params: { scene: "city", frame: i }, requirements: { resources: { devices: [{ type: "gpu", properties: { vram_gb: 16 } }] } }, priority: r === 0 ? 5 : 0 }, allowed: gpuBig, invalid: false });
    } else if (r < 9) {
      out.push({ kind: "render any gpu", submit: { type: "render", params: { scene: "forest", frame: i }, requirements: { resources: { devices: [{ type: "gpu" }] } } }, allowed: gpuAny, invalid: false });
    } else if (r < 13) {
      out.push({ kind: "resize", submit: { type: "resize", params: { width: 640 + i, height: 480, scale: 0.5 } }, allowed: cpuOnly, invalid: false });
    } else if (r < 15) {
      out.push({ kind: "resize cores>=8", submit: { type: "resize", params: { width: 1024, height: 768 + i, scale: 2 }, requirements: { resources: { properties: { cpu_cores: 8 } } } }, allowed: cpuBig, invalid: false });
    } else if (r < 17) {
      out.push({ kind: "checksum cores>=8", submit: { type: "checksum", params: { text: `block-${i}` }, requirements: { resources: { properties: { cpu_cores: 8 } } } }, allowed: bigCpu, invalid: false });
    } else {
      out.push({ kind: "checksum", submit: { type: "checksum", params: { text: `block-${i}` } }, allowed: cpu, invalid: false });
    }
  }
  return out;
}

function percentileOf(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Runs the demo; returns the exit code. */
export async function demoCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, { tasks: { type: "string" }, verbose: { type: "boolean" } }, false);
  if (values.help) return void io.stdout.write(demoHelp), ExitCode.OK;
  const total = intOption(values.tasks, "tasks", 200, 1);
  const logger = values.verbose ? cliLogger({ level: "info", format: "pretty", stream: io.stderr }) : undefined;
  const started = performance.now();

  // Each worker gets its own secret: it authenticates with it and signs every message with it.
  const tokens = Object.fromEntries(FLEET.map((f) => [f.id, randomBytes(24).toString("base64url")]));
  const hub = new Hub({ auth: { tokens }, heartbeatIntervalMs: 1000, ...(logger ? { logger } : {}) });
  const server = await hub.listen({ port: 0, host: "127.0.0.1" });
  const workers = FLEET.map(
    (f) =>
      new Worker({
        url: server.url,
        workerId: f.id,
        token: tokens[f.id]!,
        secret: tokens[f.id]!,
        skills: f.skills,
        resources: f.resources,
        concurrency: 4,
        heartbeatIntervalMs: 1000,
        ...(logger ? { logger } : {}),
      }),
  );
  const tty = io.stdout.isTTY === true;
  const placement = new Map<string, number>(FLEET.map((f) => [f.id, 0]));
  const misplaced: string[] = [];
  let done = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.all(workers.map((w) => w.start()));
    io.stdout.write(`rxon demo: hub on ${server.url}, workers ${FLEET.map((f) => f.id).join(", ")}\n`);

    const batch = plan(total);
    const handles: { planned: Planned; handle: TaskHandle }[] = await Promise.all(batch.map(async (planned) => ({ planned, handle: await hub.submit(planned.submit) })));
    const progress = (): void => {
      const pct = Math.floor((done / total) * 100);
      const bar = "#".repeat(Math.floor(pct / 5)).padEnd(20, ".");
      const line = `[${bar}] ${done}/${total} tasks (${pct}%)  ${[...placement].map(([id, n]) => `${id}:${n}`).join(" ")}`;
      io.stdout.write(tty ? `\r${line}` : `${line}\n`);
    };
    timer = setInterval(progress, tty ? 100 : 1000);
    const outcomes: { planned: Planned; outcome: TaskOutcome }[] = await Promise.all(
      handles.map(async ({ planned, handle }) => {
        const outcome = await handle.result();
        done++;
        if (outcome.workerId !== undefined) {
          placement.set(outcome.workerId, (placement.get(outcome.workerId) ?? 0) + 1);
          if (planned.allowed !== null && !planned.allowed.has(outcome.workerId)) misplaced.push(`${planned.kind} ran on ${outcome.workerId}`);
        }
        return { planned, outcome };
      }),
    );
    clearInterval(timer);
    timer = undefined;
    progress();
    if (tty) io.stdout.write("\n");

    const succeeded = outcomes.filter((o) => o.outcome.status === "success");
    const rejected = outcomes.filter((o) => o.planned.invalid && o.outcome.status === "failure" && o.outcome.error?.code === "INVALID_INPUT_ERROR");
    const unexpected = outcomes.filter((o) => (o.planned.invalid ? !rejected.includes(o) : o.outcome.status !== "success"));
    const latencies = succeeded.map((o) => o.outcome.durationMs).sort((a, b) => a - b);
    const elapsed = (performance.now() - started) / 1000;

    const rows: [string, string][] = [
      ["tasks submitted", String(total)],
      ["succeeded", String(succeeded.length)],
      ["rejected bad inputs (contracts)", `${rejected.length} of ${batch.filter((p) => p.invalid).length}`],
      ["unexpected outcomes", String(unexpected.length)],
      ["placement violations", String(misplaced.length)],
      ["latency p50 / p99", `${percentileOf(latencies, 50).toFixed(0)} ms / ${percentileOf(latencies, 99).toFixed(0)} ms`],
      ["wall time", `${elapsed.toFixed(2)} s (${(total / elapsed).toFixed(0)} tasks/s)`],
    ];
    const kinds = new Map<string, Map<string, number>>();
    for (const o of outcomes) {
      const per = kinds.get(o.planned.kind) ?? new Map<string, number>();
      kinds.set(o.planned.kind, per);
      const where = o.outcome.workerId ?? (o.outcome.status === "success" ? "?" : "rejected");
      per.set(where, (per.get(where) ?? 0) + 1);
    }
    io.stdout.write("\nSummary\n");
    for (const [k, v] of rows) io.stdout.write(`  ${k.padEnd(34)} ${v}\n`);
    io.stdout.write("\nPer worker\n");
    io.stdout.write(`  ${"worker".padEnd(10)} ${"resources".padEnd(28)} ${"skills".padEnd(18)} tasks\n`);
    for (const f of FLEET) {
      const gpu = f.resources.devices?.[0];
      const res = gpu ? `${gpu.model} ${String(gpu.properties?.vram_gb)} GB, ${String(f.resources.properties?.cpu_cores)} cores` : `${String(f.resources.properties?.cpu_cores)} cores`;
      io.stdout.write(`  ${f.id.padEnd(10)} ${res.padEnd(28)} ${f.skills.map((s) => s.info.name).join(",").padEnd(18)} ${placement.get(f.id)}\n`);
    }
    io.stdout.write("\nWhere each kind of task ran\n");
    for (const [kind, per] of kinds) io.stdout.write(`  ${kind.padEnd(20)} ${[...per].map(([w, n]) => `${w}=${n}`).join(" ")}\n`);
    for (const m of misplaced.slice(0, 5)) io.stdout.write(`  misplaced: ${m}\n`);
    for (const u of unexpected.slice(0, 5)) io.stdout.write(`  unexpected: ${u.planned.kind} → ${u.outcome.status} ${u.outcome.error?.code ?? ""} ${u.outcome.error?.message ?? ""}\n`);

    const accounted = outcomes.length === total && succeeded.length + rejected.length === total;
    const ok = accounted && misplaced.length === 0 && unexpected.length === 0;
    io.stdout.write(`\n${ok ? "OK" : "FAILED"}: ${outcomes.length}/${total} tasks accounted for (${succeeded.length} succeeded, ${rejected.length} rejected by contracts)\n`);
    return ok ? ExitCode.OK : ExitCode.FAILURE;
  } finally {
    if (timer) clearInterval(timer);
    await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
    await hub.close();
  }
}
