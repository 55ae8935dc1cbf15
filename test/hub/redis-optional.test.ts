/** ioredis is an optional peer: nothing the core `rxon/hub` entry loads may import it. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

/** Relative imports (static and dynamic) of a TypeScript source, resolved to .ts paths, plus bare ones. */
function importsOf(file: string): { local: string[]; bare: string[] } {
  const text = readFileSync(file, "utf8");
  const local: string[] = [];
  const bare: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)) {
    const spec = m[1]!;
    if (spec.startsWith(".")) {
      const js = resolve(dirname(file), spec);
      const ts = js.replace(/\.js$/, ".ts");
      // Runtime files kept as JavaScript (generated validators) are read as they are.
      if (existsSync(ts)) local.push(ts);
      else if (/\.m?js$/.test(js) && existsSync(js)) local.push(js);
    }
    else bare.push(spec);
  }
  return { local, bare };
}

describe("the core hub entry", () => {
  it("does not reach ioredis or the Redis store", () => {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const todo = [resolve(root, "src/hub/index.ts"), resolve(root, "src/index.ts")];
    while (todo.length > 0) {
      const file = todo.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const { local, bare: b } = importsOf(file);
      for (const s of b) bare.add(s);
      todo.push(...local);
    }
    expect(seen.size).toBeGreaterThan(10);
    expect([...bare].filter((s) => s === "ioredis" || s.startsWith("ioredis/"))).toEqual([]);
    expect([...seen].filter((f) => f.includes("/src/hub/redis/"))).toEqual([]);
  });

  it("the Redis entry does import it (the check above can fail)", () => {
    expect(importsOf(resolve(root, "src/hub/redis/redis-store.ts")).bare).toContain("ioredis");
  });
});
