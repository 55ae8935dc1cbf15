/**
 * Python's jsonschema agrees with ajv: scripts/check_schemas.py validates conformance/messages.json
 * through the bundle and the separate files, and the docs' message examples. Skipped (with the
 * reason in the test name) where python3-jsonschema is not installed; CI installs it.
 */
import { execFile, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const hasJsonschema = spawnSync("python3", ["-c", "import jsonschema"], { stdio: "ignore" }).status === 0;

describe("Python's jsonschema", () => {
  it.skipIf(!hasJsonschema)("accepts and refuses the conformance messages as ajv does, and finds the docs examples valid", async () => {
    const { stdout } = await promisify(execFile)("python3", [resolve(root, "scripts/check_schemas.py")], { cwd: root, timeout: 60_000 });
    expect(stdout).toMatch(/\d+ conformance messages checked through the bundle and the separate files/);
    expect(stdout).not.toContain("FAIL");
  }, 70_000);
});
