/**
 * `rxon codegen`: the project's generator for users with their own schema folder. In the built
 * package this imports dist/codegen/generate.js (tsconfig.build.json compiles codegen/ too), and
 * only when the command runs: its tooling is an optional peer dependency.
 */
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { ExitCode, parse, UsageError, type CliIo } from "./io.js";
import { importTooling } from "./optional.js";

export const codegenHelp = `Usage: rxon codegen --schemas <dir> --out <dir> [--check]

Generates TypeScript types, ajv standalone validators, a model table and constants from a folder
of JSON Schemas (draft 2020-12), as \`npm run codegen\` does for rxon's own schemas.

Needs json-schema-to-typescript and ts-morph (npm install --save-dev json-schema-to-typescript ts-morph).
The generated validators import ajv and ajv-formats at run time: list them in your own dependencies.

Options:
  --schemas <dir>   folder with *.schema.json files (required)
  --out <dir>       output folder (required)
  --check           write nothing; exit 1 and list the files that are stale
  -h, --help        show this help
`;

/** Runs the command; returns the exit code. */
export async function codegenCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, { schemas: { type: "string" }, out: { type: "string" }, check: { type: "boolean" } }, false);
  if (values.help) return void io.stdout.write(codegenHelp), ExitCode.OK;
  if (values.schemas === undefined || values.out === undefined) throw new UsageError("--schemas and --out are required");
  const schemaDir = resolve(io.cwd, values.schemas);
  const outDir = resolve(io.cwd, values.out);
  const { generate, staleFiles, writeGenerated } = await importTooling("codegen", () => import("../../codegen/generate.js"));
  let expected: Map<string, string>;
  try {
    expected = await generate(schemaDir, outDir);
  } catch (err) {
    io.stderr.write(`rxon codegen: ${(err as Error).message}\n`);
    return ExitCode.FAILURE;
  }
  if (values.check) {
    const stale = staleFiles(outDir, expected);
    if (stale.length === 0) {
      io.stdout.write(`${values.out} is up to date\n`);
      return ExitCode.OK;
    }
    io.stdout.write(`stale in ${values.out}:\n${stale.map((f) => `  ${f}\n`).join("")}`);
    return ExitCode.FAILURE;
  }
  const changed = writeGenerated(outDir, expected);
  io.stdout.write(changed.length === 0 ? "nothing to do\n" : `wrote ${changed.length} file(s): ${changed.join(", ")}\n`);
  const missing = unresolvedImports(outDir, expected);
  if (missing.length > 0) {
    io.stderr.write(`rxon codegen: warning: the generated validators import ${missing.join(" and ")}, which ${values.out} cannot resolve: npm install ${missing.join(" ")}\n`);
  }
  return ExitCode.OK;
}

/**
 * Packages the generated code requires that cannot be resolved from the output folder: under a
 * strict layout (pnpm) rxon's own copy of ajv is out of the user's reach, so they must declare it.
 */
export function unresolvedImports(outDir: string, files: ReadonlyMap<string, string>): string[] {
  const used = new Set<string>();
  for (const text of files.values()) {
    for (const m of text.matchAll(/require\("((?:@[^/"]+\/)?[^/"]+)[^"]*"\)|from "((?:@[^/".][^/"]*\/)?[^/".][^/"]*)[^"]*"/g)) {
      const pkg = m[1] ?? m[2];
      if (pkg !== undefined && !pkg.startsWith("node:")) used.add(pkg);
    }
  }
  const req = createRequire(join(outDir, "index.js"));
  return [...used].filter((pkg) => {
    try {
      req.resolve(`${pkg}/package.json`);
      return false;
    } catch {
      return true;
    }
  });
}
