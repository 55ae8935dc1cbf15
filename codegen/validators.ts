/**
 * Emits generated/validators.js (+ .d.ts): ajv standalone validators for every model, compiled
 * once at codegen time. Two sets share one module: the wire set (unknown members allowed, as the
 * protocol requires; schema defaults applied) and a strict set where every model object is closed.
 */
import Ajv2020Module from "ajv/dist/2020.js";
import standaloneModule from "ajv/dist/standalone/index.js";
import addFormatsModule from "ajv-formats";
import { banner } from "./format.js";
import { mapSchema, type Schema, type SchemaFile } from "./schemas.js";

const Ajv2020 = Ajv2020Module.default;
const standaloneCode = standaloneModule.default;
const addFormats = addFormatsModule.default;

/** Id of the strict copy of a schema: the same file under a `strict/` folder, so relative refs stay strict. */
export function strictId(id: string): string {
  return id.replace(/\/([^/]+)$/, "/strict/$1");
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

/** Name of the exported validator for a model title, e.g. `validateTaskPayload`. */
export function validatorName(title: string, strict: boolean): string {
  return `validate${title}${strict ? "Strict" : ""}`;
}

/** Returns [javascript, declarations] for the validators module. */
export function emitValidators(models: SchemaFile[], sourceName: string): [string, string] {
  const schemas = models.flatMap(({ schema }) => [schema, closeModels(schema)]);
  const ajv = new Ajv2020({
    schemas,
    code: { source: true, esm: true },
    useDefaults: true,
    allErrors: true,
    strict: true,
    allowUnionTypes: true,
  });
  addFormats(ajv);
  const exportsMap: Record<string, string> = {};
  for (const { schema } of models) {
    const title = String(schema.title);
    exportsMap[validatorName(title, false)] = String(schema.$id);
    exportsMap[validatorName(title, true)] = strictId(String(schema.$id));
  }
  const code = standaloneCode(ajv, exportsMap);
  const js =
    `${banner(sourceName)}// @ts-nocheck\n` +
    `import { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\n` +
    code +
    "\n";
  const dts =
    `${banner(sourceName)}\n` +
    `/** An ajv validator: returns whether the value is valid; the problems of the last call are in \`errors\`. */\n` +
    `export interface GeneratedValidator {\n  (value: unknown): boolean;\n  errors?: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[] | null;\n}\n` +
    Object.keys(exportsMap)
      .map((name) => `export declare const ${name}: GeneratedValidator;\n`)
      .join("");
  return [js, dts];
}
