/**
 * Emits generated/types.ts: one json-schema-to-typescript pass over every model schema (so each
 * type is declared once), then a ts-morph pass that restores the JSDoc of `$ref` properties.
 */
import { compile } from "json-schema-to-typescript";
import { Project, QuoteKind, type InterfaceDeclaration } from "ts-morph";
import { banner } from "./format.js";
import { isConstants, mapSchema, SchemaError, type Schema, type SchemaFile } from "./schemas.js";

/** Returns the TypeScript source declaring every model of `models` (read from `dir`). */
export async function emitTypes(models: SchemaFile[], shared: SchemaFile[], dir: string, sourceName: string): Promise<string> {
  // A description beside a $ref would become the referenced type's own JSDoc, so the types pass
  // sees bare refs and the property descriptions are put back afterwards.
  const refDocs = new Map<string, Map<string, string>>();
  const stripped = new Map<string, Schema>();
  const imports = new Map<string, Set<string>>();
  for (const { file, schema } of models) {
    const inlined = mapSchema(schema, (node) => inlineShared(node, file, shared, imports)) as Schema;
    const docs = new Map<string, string>();
    const props = (inlined.properties ?? {}) as Record<string, Schema>;
    for (const [name, prop] of Object.entries(props)) {
      if (typeof prop.$ref === "string" && typeof prop.description === "string") docs.set(name, prop.description);
    }
    refDocs.set(String(schema.title), docs);
    stripped.set(
      file,
      mapSchema(inlined, (node) => {
        if (typeof node.$ref === "string" && "description" in node) {
          const { description: _omit, ...rest } = node;
          return rest;
        }
        return node;
      }) as Schema,
    );
  }
  const rootName = "RxonModelsRoot";
  const root = {
    title: rootName,
    type: "object" as const,
    additionalProperties: false,
    properties: Object.fromEntries(models.map(({ file, schema }) => [String(schema.title), { $ref: file }])),
  };
  let text: string;
  try {
    text = await compileTypes(root, rootName, dir, stripped);
  } catch (err) {
    throw new Error(`cannot generate types from ${sourceName}: ${firstLine(err)}`);
  }

  const project = new Project({ useInMemoryFileSystem: true, manipulationSettings: { quoteKind: QuoteKind.Double } });
  const sf = project.createSourceFile("types.ts", text);
  sf.getInterface(rootName)?.remove();
  for (const iface of sf.getInterfaces()) restoreDocs(iface, refDocs.get(iface.getName()));
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true });
  const importLines = [...imports].map(([module, names]) => `import type { ${[...names].sort().join(", ")} } from "./${module}.js";\n`).join("");
  return `${banner(sourceName)}\n${importLines}${importLines ? "\n" : ""}${sf.getFullText().trimStart()}`;
}

/**
 * A `$ref` into a shared file is resolved here: a constants group becomes its generated union type
 * (imported from the constants module), a shared value shape is inlined as its plain type, so the
 * types read `status: WorkerStatus` and `worker_id: string` rather than one alias per constant.
 */
function inlineShared(node: Schema, from: string, shared: SchemaFile[], imports: Map<string, Set<string>>): Schema {
  if (typeof node.$ref !== "string") return node;
  const m = /^([^#]+)#\/\$defs\/([A-Za-z0-9_]+)$/.exec(node.$ref);
  const target = m ? shared.find((f) => f.file === m[1]) : undefined;
  if (!m || !target) return node;
  const { $ref: _ref, ...rest } = node;
  const def = ((target.schema.$defs ?? {}) as Record<string, Schema>)[m[2]!];
  if (def === undefined) throw new SchemaError(from, `$ref ${node.$ref} names no definition in ${target.file}`);
  if (isConstants(target)) {
    const module = target.file.replace(/\.schema\.json$/, "");
    if (!imports.has(module)) imports.set(module, new Set());
    imports.get(module)!.add(m[2]!);
    return { tsType: m[2], ...rest };
  }
  const { description: _d, examples: _e, title: _t, not: _n, pattern: _p, ...shape } = def;
  return { ...shape, ...rest };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

function compileTypes(root: Schema, rootName: string, dir: string, stripped: Map<string, Schema>): Promise<string> {
  return compile(root as never, rootName, {
    cwd: dir,
    bannerComment: "",
    declareExternallyReferenced: true,
    additionalProperties: false,
    ignoreMinAndMaxItems: true,
    unknownAny: true,
    strictIndexSignatures: true,
    format: true,
    $refOptions: {
      resolve: {
        rxon: {
          order: 1,
          canRead: (f: { url: string }) => stripped.has(f.url.split("/").pop() ?? ""),
          read: (f: { url: string }) => JSON.stringify(stripped.get(f.url.split("/").pop() ?? "")),
        },
      },
    },
  });
}

function restoreDocs(iface: InterfaceDeclaration, docs: Map<string, string> | undefined): void {
  if (!docs) return;
  for (const prop of iface.getProperties()) {
    const doc = docs.get(prop.getName());
    if (doc !== undefined && prop.getJsDocs().length === 0) prop.addJsDoc({ description: doc });
  }
}
