/**
 * Python's jsonschema agrees with ajv: scripts/check_schemas.py validates conformance/messages.json
 * through the bundle and the separate files, and the docs' message examples. It runs on the first
 * python3 that imports jsonschema, the one on PATH or Debian's (where apt-get installs
 * python3-jsonschema), as scripts/check-schemas-python.sh does. Without one it is skipped locally
 * with a notice saying how to install it; in CI (`CI=true`, which installs it) it fails instead.
 */
import { execFile, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const INSTALL_HINT = "python3-jsonschema is not installed (apt-get install python3-jsonschema)";
const python = ["python3", "/usr/bin/python3"].find((p) => spawnSync(p, ["-c", "import jsonschema"], { stdio: "ignore" }).status === 0);

describe("Python's jsonschema", () => {
  if (python === undefined) {
    if (process.env.CI === "true") {
      it("has python3-jsonschema (required in CI)", () => {
        throw new Error(INSTALL_HINT);
      });
    } else {
      console.warn(`\n*** Python's jsonschema check skipped: ${INSTALL_HINT} ***\n`);
      it.skip(`Python's jsonschema check: ${INSTALL_HINT}`, () => {});
    }
    return;
  }

  it("accepts and refuses the conformance messages as ajv does, and finds the docs examples valid", async () => {
    const { stdout } = await promisify(execFile)(python, [resolve(root, "scripts/check_schemas.py")], { cwd: root, timeout: 60_000 });
    expect(stdout).toMatch(/\d+ conformance messages checked through the bundle and the separate files/);
    expect(stdout).not.toContain("FAIL");
  }, 70_000);
});
