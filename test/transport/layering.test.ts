/**
 * Production entry points must not load test helpers: walking the static imports from the worker
 * and transport entries never reaches src/testing/ (mock:// registers itself from rxon/testing).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createTransport } from "../../src/transport/index.js";

const ROOT = resolve(import.meta.dirname, "../..");
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"/g;

/** Every local module reachable by static imports from `entry` (paths relative to the repo root). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [resolve(ROOT, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const js = resolve(dirname(file), m[1]!);
      const ts = js.replace(/\.js$/, ".ts");
      // Generated validators are plain JavaScript next to the TypeScript sources.
      const target = existsSync(ts) ? ts : js;
      if (existsSync(target)) queue.push(target);
    }
  }
  return new Set([...seen].map((f) => f.slice(ROOT.length + 1)));
}

describe("layering", () => {
  it.each(["src/transport/index.ts", "src/worker/index.ts", "src/transport/factory.ts"])("%s does not import src/testing", (entry) => {
    const files = [...reachable(entry)];
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((f) => f.startsWith("src/testing/"))).toEqual([]);
  });

  it("the walker does see src/testing from the testing entry (it is not vacuous)", () => {
    expect([...reachable("src/testing/index.ts")]).toContain("src/transport/schemes.ts");
  });

  it("mock:// works once rxon/testing is loaded", async () => {
    await import("../../src/testing/index.js");
    const t = createTransport("mock://", "w1", "tok");
    expect(t.workerId).toBe("w1");
    await t.close();
  });
});
