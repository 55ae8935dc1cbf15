/**
 * Emits generated/constants.ts from schemas/constants.schema.json: every `$defs` group (a oneOf of
 * `{const, title, description}`) becomes a frozen constant table plus a union type of its values.
 */
import { banner, docComment } from "./format.js";

interface ConstBranch {
  const: string | number;
  title: string;
  description?: string;
}

interface ConstGroup {
  description?: string;
  oneOf: ConstBranch[];
}

/** Returns the TypeScript source for the constants schema. */
export function emitConstants(schema: { $defs: Record<string, ConstGroup> }, sourceName: string): string {
  const out: string[] = [banner(sourceName)];
  for (const [group, def] of Object.entries(schema.$defs)) {
    if (!Array.isArray(def.oneOf)) throw new Error(`constants group ${group} has no oneOf`);
    out.push(docComment(def.description ?? group, ""));
    out.push(`export const ${group} = Object.freeze({`);
    for (const branch of def.oneOf) {
      if (!/^[A-Z][A-Z0-9_]*$/.test(branch.title)) throw new Error(`constant ${group}.${branch.title} must be UPPER_SNAKE_CASE`);
      out.push(docComment(branch.description ?? branch.title, "  "));
      out.push(`  ${branch.title}: ${JSON.stringify(branch.const)},`);
    }
    out.push(`} as const);`);
    out.push(docComment(`One of the values of {@link ${group}}.`, ""));
    out.push(`export type ${group} = (typeof ${group})[keyof typeof ${group}];`);
    out.push("");
  }
  return out.join("\n");
}
