/**
 * `npm run codegen [-- --check] [--schemas DIR] [--out DIR]`: regenerates generated/ from schemas/,
 * or with --check exits 1 naming the stale files when generated/ does not match schemas/.
 */
import { resolve } from "node:path";
import { generate, staleFiles, writeGenerated } from "./generate.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const schemaDir = resolve(option("--schemas", "schemas"));
const outDir = resolve(option("--out", "generated"));

const expected = await generate(schemaDir, outDir);
if (args.includes("--check")) {
  const stale = staleFiles(outDir, expected);
  if (stale.length > 0) {
    console.error(`generated/ is stale; run npm run codegen. Stale files:\n${stale.map((f) => `  ${f}`).join("\n")}`);
    process.exit(1);
  }
  console.log(`generated/ is up to date (${expected.size} files)`);
} else {
  const changed = writeGenerated(outDir, expected);
  console.log(changed.length ? `wrote ${changed.join(", ")}` : `generated/ already up to date (${expected.size} files)`);
}
