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

/**
 * Offset of the first JSON syntax error in `text` and what was found there. V8's own message
 * gives a position only for some errors (and quotes a multi-line excerpt for others), so the
 * position is found here with a small scanner that follows RFC 8259.
 */
export function jsonSyntaxError(text: string): { pos: number; reason: string } | undefined {
  let i = 0;
  const fail = (reason: string): never => {
    throw { pos: i, reason };
  };
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const found = (): string => (i >= text.length ? "unexpected end of input" : `unexpected ${JSON.stringify(text[i])}`);
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(found());
  };
  const string = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      const ch = text.charCodeAt(i);
      if (ch < 0x20) fail("control character in a string");
      if (text[i] === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail("bad \\u escape");
          i += 4;
        } else if (i >= text.length || !'"\\/bfnrt'.includes(text[i]!)) fail("bad escape");
      }
      i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
  };
  const number = (): void => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail(found());
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`${found()} (expected a member name)`);
        string();
        ws();
        if (text[i] !== ":") fail(`${found()} (expected ':')`);
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return void i++;
        else fail(`${found()} (expected ',' or '}')`);
      }
    } else if (ch === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return void i++;
        else fail(`${found()} (expected ',' or ']')`);
      }
    } else if (ch === '"') string();
    else if (ch === "t") literal("true");
    else if (ch === "f") literal("false");
    else if (ch === "n") literal("null");
    else if (ch === "-" || (ch !== undefined && ch >= "0" && ch <= "9")) number();
    else fail(found());
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`${found()} after the end of the value`);
    return undefined;
  } catch (e) {
    if (e !== null && typeof e === "object" && "pos" in e) return e as { pos: number; reason: string };
    throw e;
  }
}

/** Parses one schema file's text; a syntax error names the file, line and column. */
export function parseSchemaText(file: string, text: string): Schema {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const where = jsonSyntaxError(text) ?? { pos: 0, reason: (err as Error).message.split("\n")[0]! };
    const { line, column } = lineColumn(text, where.pos);
    throw new SchemaError(file, `invalid JSON at line ${line}, column ${column}: ${where.reason}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new SchemaError(file, "a schema file must hold a JSON object");
  return value as Schema;
}

/**
 * Checks what the generators would otherwise report far from its cause: every `pattern` compiles
 * as a JSON Schema (ECMA-262, unicode) regular expression, and every `$ref` to another file of the
 * folder names an existing file and definition.
 */
export function checkSchemas(files: SchemaFile[]): void {
  const byFile = new Map(files.map((f) => [f.file, f.schema]));
  for (const { file, schema } of files) {
    const walk = (node: unknown, pointer: string): void => {
      if (Array.isArray(node)) return node.forEach((v, i) => walk(v, `${pointer}/${i}`));
      if (node === null || typeof node !== "object") return;
      const obj = node as Schema;
      if (typeof obj.pattern === "string") {
        try {
          new RegExp(obj.pattern, "u");
        } catch (err) {
          throw new SchemaError(file, `invalid pattern at ${pointer || "/"}/pattern: ${(err as Error).message}`);
        }
      }
      if (typeof obj.$ref === "string" && !/^[a-z]+:/i.test(obj.$ref)) {
        const [target, fragment] = obj.$ref.split("#", 2) as [string, string | undefined];
        const doc = target === "" ? schema : byFile.get(target);
        if (doc === undefined) throw new SchemaError(file, `$ref "${obj.$ref}" at ${pointer || "/"} names no *.schema.json file of the folder`);
        const def = /^\/\$defs\/([^/]+)$/.exec(fragment ?? "");
        if (fragment && fragment !== "" && (!def || ((doc.$defs ?? {}) as Schema)[def[1]!] === undefined)) {
          throw new SchemaError(file, `$ref "${obj.$ref}" at ${pointer || "/"} names no definition of ${target || file}`);
        }
      }
      for (const [k, v] of Object.entries(obj)) walk(v, `${pointer}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`);
    };
    walk(schema, "");
  }
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
      if (schema.$id !== undefined && typeof schema.$id !== "string") throw new SchemaError(file, "$id must be a string");
      if (isModel({ file, schema }) && typeof schema.title !== "string") throw new SchemaError(file, "a model schema needs a title (the type name)");
      return { file, schema };
    });
}

/**
 * The id a schema is known by: its `$id`, or else its file name. rxon's own schemas have no `$id`
 * (an id that differs from where a generator loads the file makes quicktype declare each
 * referenced type twice), so relative `$ref`s resolve against the file names.
 */
export function idOf(f: SchemaFile): string {
  return typeof f.schema.$id === "string" ? f.schema.$id : f.file;
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
