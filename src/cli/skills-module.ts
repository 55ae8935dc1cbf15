/** Loading a worker's skills from a module (`rxon worker --skills <module>`). */
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { WorkerSkill } from "../worker/index.js";
import { CliFailure } from "./io.js";

function isSkill(value: unknown): value is WorkerSkill {
  if (value === null || typeof value !== "object") return false;
  const v = value as { info?: { name?: unknown }; handler?: unknown };
  return typeof v.info?.name === "string" && typeof v.handler === "function";
}

const TS_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx"]);

/**
 * Why a module could not be loaded, in one line, with a hint for the usual cause: a TypeScript
 * module on a Node.js that does not strip types (before 22.18 without a flag).
 */
export function loadFailure(modulePath: string, err: unknown, nodeVersion = process.versions.node): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = String(e?.message ?? err).split("\n")[0] ?? "";
  if (TS_EXTENSIONS.has(extname(modulePath)) && (e?.code === "ERR_UNKNOWN_FILE_EXTENSION" || e?.code === "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING" || /Unknown file extension|strip-types|type stripping/i.test(message))) {
    return (
      `cannot load skills module ${modulePath}: Node.js ${nodeVersion} does not run TypeScript modules. ` +
      "Compile it to .js (tsc), use Node.js >= 22.18, or run rxon through tsx: npx tsx ./node_modules/rxon/dist/src/cli/main.js worker ..."
    );
  }
  return `cannot load skills module ${modulePath}: ${message}`;
}

/**
 * Every skill the module exports: exported `defineSkill` values, and arrays of them (e.g.
 * `export const skills = [...]` or `export default [...]`), without duplicates. A module that
 * cannot be loaded or exports no skill is a CliFailure (exit 1) saying why.
 */
export async function loadSkills(modulePath: string, cwd: string): Promise<WorkerSkill[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(cwd, modulePath)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliFailure(loadFailure(modulePath, err));
  }
  const found = new Map<string, WorkerSkill>();
  const add = (value: unknown): void => {
    if (isSkill(value) && !found.has(value.info.name)) found.set(value.info.name, value);
  };
  for (const value of Object.values(mod)) {
    if (Array.isArray(value)) value.forEach(add);
    else add(value);
  }
  if (found.size === 0) throw new CliFailure(`${modulePath} exports no skills (values made with defineSkill)`);
  return [...found.values()];
}
