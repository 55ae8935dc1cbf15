/**
 * A content key for JSON Schemas, so equal schemas received as different objects (every
 * registration parses fresh objects) share one compiled validator.
 *
 * Canonical JSON (src/wire/canonical.ts) is not used here on purpose: it strips nulls, and in a
 * schema a null is meaningful (`{"const": null}` is not `{}`), so two different schemas would
 * share a validator.
 */
import { createHash } from "node:crypto";

/** Why a schema could not be keyed. */
export class SchemaKeyError extends Error {}

/**
 * SHA-256 hex of a stable text of `schema`: object keys sorted, nulls kept, `undefined` members
 * skipped. Refuses values deeper than `maxDepth`, texts longer than `maxChars`, and non-JSON
 * values (functions, symbols), by throwing {@link SchemaKeyError}.
 */
export function schemaKey(schema: unknown, maxDepth = 100, maxChars = 1 << 20): string {
  const parts: string[] = [];
  let size = 0;
  const push = (s: string): void => {
    size += s.length;
    if (size > maxChars) throw new SchemaKeyError(`schema is larger than ${maxChars} characters`);
    parts.push(s);
  };
  const walk = (v: unknown, depth: number): void => {
    if (depth > maxDepth) throw new SchemaKeyError(`schema is nested deeper than ${maxDepth}`);
    switch (typeof v) {
      case "string":
        push(JSON.stringify(v));
        return;
      case "number":
        push(Number.isFinite(v) ? String(v) : "null");
        return;
      case "bigint":
        push(v.toString());
        return;
      case "boolean":
        push(v ? "true" : "false");
        return;
      case "object":
        break;
      default:
        throw new SchemaKeyError(`schema contains a ${typeof v}`);
    }
    if (v === null) {
      push("null");
      return;
    }
    if (Array.isArray(v)) {
      push("[");
      for (let i = 0; i < v.length; i++) {
        if (i > 0) push(",");
        walk(v[i] === undefined ? null : v[i], depth + 1);
      }
      push("]");
      return;
    }
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    push("{");
    let first = true;
    for (const k of keys) {
      const x = obj[k];
      if (x === undefined) continue;
      if (!first) push(",");
      first = false;
      push(JSON.stringify(k));
      push(":");
      walk(x, depth + 1);
    }
    push("}");
  };
  walk(schema, 0);
  return createHash("sha256").update(parts.join("")).digest("hex");
}
