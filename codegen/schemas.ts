/** Loading the schema folder: every `*.schema.json`, sorted, with its parsed content. */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** A JSON Schema document as read from disk. */
export type Schema = { [key: string]: unknown };

/** One schema file. */
export interface SchemaFile {
  /** File name, e.g. `task-payload.schema.json`. */
  file: string;
  /** Parsed schema. */
  schema: Schema;
}

/** Reads all `*.schema.json` files of `dir` in a stable order. */
export function loadSchemas(dir: string): SchemaFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".schema.json"))
    .sort()
    .map((file) => {
      const schema = JSON.parse(readFileSync(join(dir, file), "utf8")) as Schema;
      if (typeof schema.$id !== "string") throw new Error(`${file}: missing $id`);
      return { file, schema };
    });
}

/** True for the constants schema (groups of named consts rather than a model). */
export function isConstants(f: SchemaFile): boolean {
  return f.schema.type !== "object" && typeof f.schema.$defs === "object" && f.schema.properties === undefined;
}

/** Deep copy of a JSON value with `fn` applied to every object node (children first). */
export function mapSchema(value: unknown, fn: (node: Schema) => Schema): unknown {
  if (Array.isArray(value)) return value.map((v) => mapSchema(v, fn));
  if (value === null || typeof value !== "object") return value;
  const out: Schema = {};
  for (const [k, v] of Object.entries(value)) out[k] = mapSchema(v, fn);
  return fn(out);
}
