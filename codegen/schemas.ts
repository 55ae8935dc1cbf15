/**
 * Loading the schema folder: every `*.schema.json`, sorted, with its parsed content. Problems are
 * thrown as {@link SchemaError}s naming the file (and, for JSON syntax errors, line and column).
 */
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

/** A problem with one schema file; `message` is one line: `<file>: <reason>`. */
export class SchemaError extends Error {
  /** The file at fault (relative to the schema folder when known). */
  readonly file: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = "SchemaError";
    this.file = file;
  }
}

/** Line and column (1-based) of character offset `pos` in `text`. */
function lineColumn(text: string, pos: number): { line: number; column: number } {
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  return { line, column: pos - before.lastIndexOf("\n") };
}

/** Parses one schema file's text; a syntax error names the file, line and column. */
export function parseSchemaText(file: string, text: string): Schema {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    // V8 says "... at position N" (sometimes followed by "(line L column C)"); "Unexpected end of JSON input" has no position.
    const at = /position (\d+)/.exec(message);
    const pos = at ? Number(at[1]) : text.length;
    const { line, column } = lineColumn(text, pos);
    const reason = message.replace(/\s*\(line \d+ column \d+\)/, "").replace(/^JSON\.parse: /, "");
    throw new SchemaError(file, `invalid JSON at line ${line}, column ${column}: ${reason}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new SchemaError(file, "a schema file must hold a JSON object");
  return value as Schema;
}

/** Reads all `*.schema.json` files of `dir` in a stable order. */
export function loadSchemas(dir: string): SchemaFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new SchemaError(dir, `cannot read the schema folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return names
    .filter((f) => f.endsWith(".schema.json"))
    .sort()
    .map((file) => {
      let text: string;
      try {
        text = readFileSync(join(dir, file), "utf8");
      } catch (err) {
        throw new SchemaError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      const schema = parseSchemaText(file, text);
      if (typeof schema.$id !== "string") throw new SchemaError(file, "missing $id");
      if (isModel({ file, schema }) && typeof schema.title !== "string") throw new SchemaError(file, "a model schema needs a title (the type name)");
      return { file, schema };
    });
}

/** True for a file of shared definitions: `$defs` only, no object of its own. */
function isDefinitionsOnly(f: SchemaFile): boolean {
  return f.schema.type !== "object" && typeof f.schema.$defs === "object" && f.schema.properties === undefined;
}

/** True for the constants schema: definitions whose groups are all `oneOf` lists of consts. */
export function isConstants(f: SchemaFile): boolean {
  if (!isDefinitionsOnly(f)) return false;
  const groups = Object.values(f.schema.$defs as Record<string, unknown>);
  return groups.length > 0 && groups.every((g) => g !== null && typeof g === "object" && Array.isArray((g as Schema).oneOf) && ((g as Schema).oneOf as Schema[]).every((b) => b !== null && typeof b === "object" && "const" in b));
}

/** True for a file of shared value shapes (identifier patterns and the like) that is not a constants table. */
export function isDefinitions(f: SchemaFile): boolean {
  return isDefinitionsOnly(f) && !isConstants(f);
}

/** True for a model schema (anything that is not a definitions or constants file). */
export function isModel(f: SchemaFile): boolean {
  return !isDefinitionsOnly(f);
}

/** Deep copy of a JSON value with `fn` applied to every object node (children first). */
export function mapSchema(value: unknown, fn: (node: Schema) => Schema): unknown {
  if (Array.isArray(value)) return value.map((v) => mapSchema(v, fn));
  if (value === null || typeof value !== "object") return value;
  const out: Schema = {};
  for (const [k, v] of Object.entries(value)) out[k] = mapSchema(v, fn);
  return fn(out);
}
