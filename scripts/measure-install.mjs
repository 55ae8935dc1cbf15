#!/usr/bin/env node
// Measures what a user gets: builds rxon in a scratch copy of the repository, packs it, installs
// the tarball into a fresh app with npm (or pnpm, strict) leaving out dev and optional
// dependencies, and prints the size of the app's node_modules and the median start-up time of
// `rxon --version`.
//
//   node scripts/measure-install.mjs [--runs 21] [--pm npm|pnpm] [--with pkg@range]... [--json] [--keep]
//
// --with installs further packages beside rxon, as a user's app would (e.g. typebox).
//
// --keep leaves the app folder in place (its path is printed) for further checks.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PNPM = "pnpm@10.34.9"; // the last line that runs on Node 20
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "21" },
    pm: { type: "string", default: "npm" },
    with: { type: "string", multiple: true, default: [] },
    json: { type: "boolean" },
    keep: { type: "boolean" },
  },
});
const runs = Math.max(1, Number(values.runs) || 21);
const pm = values.pm === "pnpm" ? "pnpm" : "npm";

const say = (text) => {
  if (!values.json) process.stderr.write(`${text}\n`);
};
const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });

/** Apparent size in bytes of a folder (files and symlinks as themselves, not followed). */
function sizeOf(path) {
  let total = 0;
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.size;
  for (const name of readdirSync(path)) total += sizeOf(join(path, name));
  return total;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const work = mkdtempSync(join(tmpdir(), "rxon-install-"));
try {
  // 1. Build in a copy, so a build running in the repository at the same time is not disturbed.
  say(`building a copy in ${work}/src`);
  const copy = join(work, "src");
  mkdirSync(copy);
  for (const entry of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "README.md", "LICENSE", "src", "generated", "codegen", "schemas", "docs", "examples"]) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
  sh(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], copy);
  sh(process.execPath, ["codegen/copy-runtime.mjs"], copy);
  const tarball = join(copy, sh("npm", ["pack", "--silent", "--ignore-scripts"], copy).trim().split("\n").pop());
  const packed = lstatSync(tarball).size;

  // 2. A fresh app that depends on the tarball only.
  const app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "rxon-user-app", version: "1.0.0", private: true, type: "module" }, null, 2));
  say(`installing with ${pm} into ${app}`);
  if (pm === "npm") {
    sh("npm", ["install", "--no-audit", "--no-fund", "--omit=dev", "--omit=optional", tarball, ...values.with], app);
  } else {
    // pnpm's default layout is strict: only declared dependencies are reachable from the app and
    // from each package; required peers are installed, optional ones are not.
    sh("npx", ["-y", PNPM, "add", "--prod", tarball, ...values.with], app);
  }
  const installed = sizeOf(join(app, "node_modules"));
  // Disk usage too (whole blocks), where du exists.
  const du = spawnSync("du", ["-sk", join(app, "node_modules")], { encoding: "utf8" });
  const diskKb = du.status === 0 ? Number(du.stdout.split(/\s/)[0]) : undefined;
  const bin = join(app, "node_modules", "rxon", "dist", "src", "cli", "main.js");

  // 3. Start-up: median wall time of `rxon --version` and of an empty node, for comparison; and
  // the least process uptime at exit (reported by a preload), which a busy machine disturbs less.
  const preload = join(work, "uptime.cjs");
  writeFileSync(preload, 'process.on("exit", () => process.stderr.write(`\\nuptime_ms=${process.uptime() * 1000}\\n`));\n');
  const time = (args) => {
    const samples = [];
    const uptimes = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, ["-r", preload, ...args], { cwd: app, encoding: "utf8" });
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
      const m = /uptime_ms=([\d.]+)/.exec(r.stderr);
      if (m) uptimes.push(Number(m[1]));
    }
    return { median: median(samples), least: Math.min(...uptimes) };
  };
  const versionOut = spawnSync(process.execPath, [bin, "--version"], { cwd: app, encoding: "utf8" }).stdout.trim();
  const version = time([bin, "--version"]);
  const bare = time(["-e", ""]);

  const figures = {
    package_manager: pm,
    node: process.versions.node,
    tarball_bytes: packed,
    install_bytes: installed,
    install_mb: Math.round((installed / 1e6) * 10) / 10,
    ...(diskKb !== undefined ? { install_disk_kb: diskKb } : {}),
    version_output: versionOut,
    version_median_ms: Math.round(version.median),
    bare_node_median_ms: Math.round(bare.median),
    version_least_uptime_ms: Math.round(version.least),
    bare_node_least_uptime_ms: Math.round(bare.least),
    runs,
    ...(values.keep ? { app } : {}),
  };
  if (values.json) process.stdout.write(JSON.stringify(figures) + "\n");
  else {
    process.stdout.write(
      `runtime install (${pm}, no dev/optional deps): ${figures.install_mb} MB (${installed} bytes${diskKb !== undefined ? `; du ${diskKb} KB` : ""}; tarball ${packed} bytes)\n` +
        `rxon --version: median ${figures.version_median_ms} ms wall over ${runs} runs (bare node: ${figures.bare_node_median_ms} ms) on Node ${process.versions.node}\n` +
        `rxon --version: least process uptime at exit ${figures.version_least_uptime_ms} ms (bare node: ${figures.bare_node_least_uptime_ms} ms)\n` +
        (values.keep ? `app kept in ${app}\n` : ""),
    );
  }
} finally {
  if (values.keep) rmSync(join(work, "src"), { recursive: true, force: true });
  else rmSync(work, { recursive: true, force: true });
}
