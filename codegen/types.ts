/**
 * Emits generated/types.ts: one json-schema-to-typescript pass over every model schema (so each
 * type is declared once), then a ts-morph pass that restores the JSDoc of `$ref` properties.
 */
import { compile } from "json-schema-to-typescript";
import { Project, QuoteKind, type InterfaceDeclaration } from "ts-morph";
import { banner } from "./format.js";
import { mapSchema, type Schema, type SchemaFile } from "./schemas.js";

/** Returns the TypeScript source declaring every model of `models` (read from `dir`). */
export async function emitTypes(models: SchemaFile[], dir: string, sourceName: string): Promise<string> {
  // A description beside a $ref would become the referenced type's own JSDoc, so the types pass
  // sees bare refs and the property descriptions are put back afterwards.
  const refDocs = new Map<string, Map<string, string>>();
  const stripped = new Map<string, Schema>();
  for (const { file, schema } of models) {
    const docs = new Map<string, string>();
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [name, prop] of Object.entries(props)) {
      if (typeof prop.$ref === "string" && typeof prop.description === "string") docs.set(name, prop.description);
    }
    refDocs.set(String(schema.title), docs);
    stripped.set(
      file,
      mapSchema(schema, (node) => {
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
  const text = await compile(root, rootName, {
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

  const project = new Project({ useInMemoryFileSystem: true, manipulationSettings: { quoteKind: QuoteKind.Double } });
  const sf = project.createSourceFile("types.ts", text);
  sf.getInterface(rootName)?.remove();
  for (const iface of sf.getInterfaces()) restoreDocs(iface, refDocs.get(iface.getName()));
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true });
  return `${banner(sourceName)}\n${sf.getFullText().trimStart()}`;
}

function restoreDocs(iface: InterfaceDeclaration, docs: Map<string, string> | undefined): void {
  if (!docs) return;
  for (const prop of iface.getProperties()) {
    const doc = docs.get(prop.getName());
    if (doc !== undefined && prop.getJsDocs().length === 0) prop.addJsDoc({ description: doc });
  }
}
