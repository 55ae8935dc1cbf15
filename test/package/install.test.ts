/**
 * The package as a user gets it: scripts/measure-install.mjs builds and packs rxon, installs the
 * tarball with pnpm (strict: only declared dependencies are reachable) into a fresh app, then the
 * README's examples are compiled and run there, and the CLI is asked for what it cannot do
 * without its optional tooling.
 */
import { execFile, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
let app = "";
let figures: { install_bytes: number; version_output: string; app: string };

function rxon(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(app, "node_modules/rxon/dist/src/cli/main.js"), ...args], { cwd: app, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  // Besides rxon, what the README tells users to install: typebox, which their own code imports.
  const args = ["scripts/measure-install.mjs", "--pm", "pnpm", "--with", "typebox@^1.4.3", "--json", "--keep", "--runs", "1"];
  const { stdout } = await exec(process.execPath, args, { cwd: root, maxBuffer: 16 << 20 });
  figures = JSON.parse(stdout.trim().split("\n").pop()!) as typeof figures;
  app = figures.app;
}, 300_000);

afterAll(() => {
  if (app !== "") rmSync(dirname(app), { recursive: true, force: true });
});

describe("the installed package", () => {
  it("the runtime install stays under 10 MB and rxon --version answers", () => {
    expect(figures.install_bytes).toBeLessThan(10_000_000);
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    expect(figures.version_output).toBe(`rxon ${version}`);
    // The codegen tooling is not installed: it is an optional peer.
    const store = readdirSync(join(app, "node_modules/.pnpm"));
    for (const heavy of ["ts-morph@", "json-schema-to-typescript@", "tsx@", "typescript@", "esbuild@", "prettier@", "lodash@"]) {
      expect(store.filter((d) => d.startsWith(heavy)), heavy).toEqual([]);
    }
  });

  it("the README examples compile against the package's types and run under a strict pnpm layout", async () => {
    mkdirSync(join(app, "example"), { recursive: true });
    cpSync(join(root, "test/package/app/readme-example.ts"), join(app, "example/readme-example.ts"));
    cpSync(join(root, "test/package/app/tsconfig.json"), join(app, "example/tsconfig.json"));
    const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "example/tsconfig.json"], { cwd: app, encoding: "utf8" });
    expect(tsc.stdout + tsc.stderr, "tsc").toBe("");
    const { stdout } = await exec(process.execPath, ["example/out/readme-example.js"], { cwd: app, timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({
      priority: 0,
      refused: "/worker_id",
      encoded: { b: 1 },
      listener: "function",
      status: "success",
      data: { url: "s3://media/cat.png?w=1024&by=gpu-box-1" },
    });
  }, 120_000);

  it("rxon demo runs from the installed package", () => {
    const demo = rxon(["demo", "--tasks", "20"]);
    expect(demo.code, demo.out + demo.err).toBe(0);
    expect(demo.out + demo.err).toContain("OK: 20/20 tasks accounted for");
  }, 60_000);

  it("codegen and contract name the packages to install; a .ts skills module gets a hint", () => {
    writeFileSync(join(app, "skills.ts"), "export const x: number = 1;\n");
    const codegen = rxon(["codegen", "--schemas", "schemas", "--out", "generated"]);
    expect(codegen.code).toBe(1);
    expect(codegen.err).toContain("npm install --save-dev json-schema-to-typescript@^16 ts-morph@^28");
    const contract = rxon(["contract", "skills.ts"]);
    expect(contract.code).toBe(1);
    expect(contract.err).toContain("npm install --save-dev ts-morph@^28");
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    if (major < 22 || (major === 22 && minor < 18)) {
      const worker = rxon(["worker", "--url", "http://127.0.0.1:9", "--id", "w1", "--skills", "skills.ts", "--token", "t0123456789"]);
      expect(worker.code).toBe(1);
      expect(worker.err).toContain(`Node.js ${process.versions.node} does not run TypeScript modules`);
      expect(worker.err.trim().split("\n")).toHaveLength(1);
    }
  });
});
