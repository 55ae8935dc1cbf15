/** `rxon codegen` warns when the validators it wrote import packages the user's project cannot resolve. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unresolvedImports } from "../../src/cli/codegen.js";
import { ROOT } from "../e2e/procs.js";

const outside = mkdtempSync(join(tmpdir(), "rxon-codegen-deps-"));
afterAll(() => rmSync(outside, { recursive: true, force: true }));

const files = new Map([
  ["validators.js", 'import { createRequire } from "node:module";\nconst a = require("ajv/dist/runtime/ucs2length").default;\nconst f = require("ajv-formats/dist/formats").fullFormats;'],
  ["models.ts", 'import type { Order } from "./types.js";\nimport { validateOrder } from "./validators.js";'],
]);

describe("codegen's run-time imports", () => {
  it("names ajv and ajv-formats when the output folder cannot resolve them, and nothing when it can", () => {
    expect(unresolvedImports(outside, files)).toEqual(["ajv", "ajv-formats"]);
    expect(unresolvedImports(join(ROOT, "generated"), files)).toEqual([]);
  });
});
