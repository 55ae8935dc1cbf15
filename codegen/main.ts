/**
 * `npm run codegen [-- --check] [--schemas DIR] [--out DIR]`: regenerates generated/ and the
 * protocol documents in schemas/generated/ (bundled schema, OpenAPI, AsyncAPI) from schemas/, or
 * with --check exits 1 naming the stale files. Any failure is one line on stderr (the file and
 * the reason, no stack trace) and exit code 1.
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { DOCUMENTS_DIR, generate, generateDocuments, staleFiles, writeGenerated } from "./generate.js";
import { SchemaError } from "./schemas.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const schemaDir = resolve(option("--schemas", "schemas"));
const outDir = resolve(option("--out", "generated"));
const docsDir = join(schemaDir, DOCUMENTS_DIR);
const shown = (dir: string, file: string): string => relative(process.cwd(), isAbsolute(file) ? file : join(dir, file)) || file;

async function run(): Promise<number> {
  const outputs: [string, Map<string, string>][] = [
    [outDir, await generate(schemaDir, outDir)],
    [docsDir, generateDocuments(schemaDir)],
  ];
  if (args.includes("--check")) {
    const stale = outputs.flatMap(([dir, files]) => staleFiles(dir, files).map((f) => shown(dir, f)));
    if (stale.length > 0) {
      console.error(`codegen: generated files are stale; run npm run codegen. Stale files:\n${stale.map((f) => `  ${f}`).join("\n")}`);
      return 1;
    }
    console.log(`codegen: up to date (${outputs.reduce((n, [, files]) => n + files.size, 0)} files)`);
    return 0;
  }
  const changed = outputs.flatMap(([dir, files]) => writeGenerated(dir, files).map((f) => shown(dir, f)));
  console.log(changed.length ? `codegen: wrote ${changed.join(", ")}` : "codegen: already up to date");
  return 0;
}

try {
  process.exitCode = await run();
} catch (err) {
  // One line: the file and the reason. A stack trace helps nobody who edited a schema.
  const where = err instanceof SchemaError ? shown(schemaDir, err.file) : "";
  const reason = err instanceof SchemaError ? err.message.slice(err.file.length + 2) : (err instanceof Error ? err.message : String(err)).split("\n")[0];
  console.error(`codegen: ${where ? `${where}: ` : ""}${reason}`);
  process.exitCode = 1;
}
