import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");

describe("the built package", () => {
  it("builds, and a plain node script imports it through the package exports", async () => {
    await run("npm", ["run", "-s", "build"], { cwd: root });
    const { stdout } = await run(process.execPath, [resolve(import.meta.dirname, "smoke.mjs")], { cwd: root });
    expect(JSON.parse(stdout)).toEqual({
      priority: 0,
      n: "18446744073709551615",
      encoded: { b: 1 },
      parsed: "9007199254740993",
      code: "CONTRACT_VIOLATION_ERROR",
      endpoint: "/_worker/workers/register",
      models: 26,
      refused: ["/status"],
      schemaTitle: "TaskPayload",
      shipped: { vectors: true, openapi: "3.1.0" },
    });
  }, 180_000);
});
