/**
 * Emits generated/validators.js (+ .d.ts): ajv standalone validators for every model, compiled
 * once at codegen time. Two sets share one module: the wire set (unknown members allowed, as the
 * protocol requires; schema defaults applied) and a strict set where every model object is closed.
 */
import Ajv2020Module from "ajv/dist/2020.js";
import standaloneModule from "ajv/dist/standalone/index.js";
import addFormatsModule from "ajv-formats";
import { banner } from "./format.js";
import { idOf, isConstants, mapSchema, SchemaError, type Schema, type SchemaFile } from "./schemas.js";

const Ajv2020 = Ajv2020Module.default;
const standaloneCode = standaloneModule.default;
const addFormats = addFormatsModule.default;

/** Id of the strict copy of a schema: the same file under a `strict/` folder, so relative refs stay strict. */
export function strictId(id: string): string {
  return id.includes("/") ? id.replace(/\/([^/]+)$/, "/strict/$1") : `strict/${id}`;
}

/** Closes every object schema that lists properties and does not say what to do with others. */
function closeModels(schema: Schema): Schema {
  const copy = mapSchema(schema, (node) =>
    node.type === "object" && node.properties !== undefined && node.additionalProperties === undefined
      ? { ...node, additionalProperties: false }
      : node,
  ) as Schema;
  return { ...copy, $id: strictId(String(schema.$id)) };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

/** Models sorted so that every model comes after the models it references (cycles keep file order). */
function dependencyOrder(models: SchemaFile[]): SchemaFile[] {
  const byFile = new Map(models.map((m) => [m.file, m]));
  const done = new Set<string>();
  const out: SchemaFile[] = [];
  const visit = (m: SchemaFile, path: Set<string>): void => {
    if (done.has(m.file) || path.has(m.file)) return;
    path.add(m.file);
    mapSchema(m.schema, (node) => {
      const target = typeof node.$ref === "string" ? byFile.get(node.$ref.split("#")[0]!) : undefined;
      if (target !== undefined) visit(target, path);
      return node;
    });
    path.delete(m.file);
    done.add(m.file);
    out.push(m);
  };
  for (const m of models) visit(m, new Set());
  return out;
}

/** The schema with its id (its `$id`, or the file name) as `$id`, so ajv resolves relative refs the same way. */
function withId(f: SchemaFile): SchemaFile {
  return { file: f.file, schema: { ...f.schema, $id: idOf(f) } };
}

/**
 * A constants file for ajv: each group's `oneOf` of distinct consts is the same set as an `enum`
 * of their values, and as an enum a wrong value is one problem ("must be one of ...") instead of
 * one per constant plus the oneOf.
 */
function asEnums(f: SchemaFile): SchemaFile {
  if (!isConstants(f)) return f;
  const groups = f.schema.$defs as Record<string, Schema>;
  const $defs = Object.fromEntries(
    Object.entries(groups).map(([name, { oneOf, ...rest }]) => [name, { ...rest, enum: (oneOf as Schema[]).map((b) => b.const) }]),
  );
  return { file: f.file, schema: { ...f.schema, $defs } };
}

/** Name of the exported validator for a model title, e.g. `validateTaskPayload`. */
export function validatorName(title: string, strict: boolean): string {
  return `validate${title}${strict ? "Strict" : ""}`;
}

/** Returns [javascript, declarations] for the validators module. */
export function emitValidators(models: SchemaFile[], shared: SchemaFile[], sourceName: string): [string, string] {
  const ajv = new Ajv2020({
    code: { source: true, esm: true },
    useDefaults: true,
    allErrors: true,
    strict: true,
    allowUnionTypes: true,
  });
  addFormats(ajv);
  // One file at a time, so that an invalid schema or a duplicate $id names its file.
  for (const { file, schema } of [...shared.map(asEnums), ...models].map(withId)) {
    for (const copy of [schema, closeModels(schema)]) {
      try {
        ajv.addSchema(copy);
      } catch (err) {
        throw new SchemaError(file, firstLine(err));
      }
    }
  }
  const exportsMap: Record<string, string> = {};
  // Referenced models compile first, so that a problem is reported for the file that holds it
  // rather than for the first file that refers to it.
  for (const { schema } of models.map(withId)) {
    const title = String(schema.title);
    exportsMap[validatorName(title, false)] = String(schema.$id);
    exportsMap[validatorName(title, true)] = strictId(String(schema.$id));
  }
  for (const { file, schema } of dependencyOrder(models).map(withId)) {
    for (const id of [String(schema.$id), strictId(String(schema.$id))]) {
      try {
        ajv.getSchema(id);
      } catch (err) {
        throw new SchemaError(file, firstLine(err).replace(/https?:\/\/\S+?([^/\s]+\.schema\.json)/g, "$1"));
      }
    }
  }
  const code = standaloneCode(ajv, exportsMap);
  const js =
    `${banner(sourceName)}// @ts-nocheck\n` +
    `import { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\n` +
    code +
    "\n";
  const dts =
    `${banner(sourceName)}\n` +
    `import type * as Models from "./types.js";\n\n` +
    `/**\n * An ajv validator: whether the value is valid (a type guard for its model); the problems of the\n * last call are in \`errors\`.\n */\n` +
    `export interface GeneratedValidator<T = unknown> {\n  (value: unknown): value is T;\n  errors?: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[] | null;\n}\n` +
    Object.keys(exportsMap)
      .map((name) => `export declare const ${name}: GeneratedValidator<Models.${name.replace(/^validate/, "").replace(/Strict$/, "")}>;\n`)
      .join("");
  return [js, dts];
}
