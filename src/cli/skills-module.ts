/** Loading a worker's skills from a module (`rxon worker --skills <module>`). */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { WorkerSkill } from "../worker/index.js";
import { UsageError } from "./io.js";

function isSkill(value: unknown): value is WorkerSkill {
  if (value === null || typeof value !== "object") return false;
  const v = value as { info?: { name?: unknown }; handler?: unknown };
  return typeof v.info?.name === "string" && typeof v.handler === "function";
}

/**
 * Every skill the module exports: exported `defineSkill` values, and arrays of them (e.g.
 * `export const skills = [...]` or `export default [...]`), without duplicates.
 */
export async function loadSkills(modulePath: string, cwd: string): Promise<WorkerSkill[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(cwd, modulePath)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot load skills module ${modulePath}: ${(err as Error).message}`);
  }
  const found = new Map<string, WorkerSkill>();
  const add = (value: unknown): void => {
    if (isSkill(value) && !found.has(value.info.name)) found.set(value.info.name, value);
  };
  for (const value of Object.values(mod)) {
    if (Array.isArray(value)) value.forEach(add);
    else add(value);
  }
  if (found.size === 0) throw new UsageError(`${modulePath} exports no skills (values made with defineSkill)`);
  return [...found.values()];
}
