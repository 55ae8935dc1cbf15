/**
 * `npm run bench [-- name...]`: runs every bench/*.bench.ts (or those whose file name contains one
 * of the given words) and prints one table with ratios against the floors measured in the same run.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchRow } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toPrecision(3));

console.log(`node ${process.version}, ${process.platform} ${process.arch}`);
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { run: () => Promise<BenchRow[]> };
  const rows = await mod.run();
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const r of rows) {
    const floor = r.floor === undefined ? undefined : byName.get(r.floor);
    if (floor) r.ratio = r.opsPerSec / floor.opsPerSec;
  }
  console.log(`\n## ${file.replace(/\.bench\.ts$/, "")}`);
  console.log("| benchmark | ops/s (median) | µs/op | ratio to floor | note |");
  console.log("|---|---:|---:|---:|---|");
  for (const r of rows) {
    const ratio = r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x ${r.floor}`;
    console.log(`| ${r.name} | ${fmt(r.opsPerSec)} | ${fmt(r.usPerOp)} | ${ratio} | ${r.note ?? ""} |`);
  }
}
