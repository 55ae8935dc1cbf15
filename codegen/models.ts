/** Emits generated/models.ts: the table that ties model names to their types, validators and schema ids. */
import { banner } from "./format.js";
import { idOf, type SchemaFile } from "./schemas.js";
import { validatorName } from "./validators.js";

/** Returns the TypeScript source of the model table. */
export function emitModels(models: SchemaFile[], sourceName: string): string {
  const titles = models.map(({ schema }) => String(schema.title));
  const lines = [
    banner(sourceName),
    `import type { ${titles.join(", ")} } from "./types.js";`,
    `import { ${titles.flatMap((t) => [validatorName(t, false), validatorName(t, true)]).join(", ")}, type GeneratedValidator } from "./validators.js";`,
    "",
    "/** Every model of the protocol, by name. */",
    "export interface Models {",
    ...titles.map((t) => `  ${t}: ${t};`),
    "}",
    "",
    "/** Name of a protocol model. */",
    "export type ModelName = keyof Models;",
    "",
    "/** All model names, in schema file order. */",
    `export const modelNames: readonly ModelName[] = Object.freeze([${titles.map((t) => JSON.stringify(t)).join(", ")}]);`,
    "",
    "/** Id of each model's schema: its `$id`, or its file name when it has none (relative refs resolve against it). */",
    "export const schemaIds: Readonly<Record<ModelName, string>> = Object.freeze({",
    ...models.map((f) => `  ${String(f.schema.title)}: ${JSON.stringify(idOf(f))},`),
    "});",
    "",
    "/** Schema file of each model, relative to the schemas folder. */",
    "export const schemaFiles: Readonly<Record<ModelName, string>> = Object.freeze({",
    ...models.map(({ file, schema }) => `  ${String(schema.title)}: ${JSON.stringify(file)},`),
    "});",
    "",
    "/** Wire validators (unknown members allowed, defaults applied in place). */",
    "export const validators: Readonly<Record<ModelName, GeneratedValidator>> = Object.freeze({",
    ...titles.map((t) => `  ${t}: ${validatorName(t, false)},`),
    "});",
    "",
    "/** Strict validators (every model object closed; open maps stay open). */",
    "export const strictValidators: Readonly<Record<ModelName, GeneratedValidator>> = Object.freeze({",
    ...titles.map((t) => `  ${t}: ${validatorName(t, true)},`),
    "});",
    "",
  ];
  return lines.join("\n");
}
