/**
 * Contracts from TypeScript types (the analogue of the reference's inference from Python type
 * hints, PROTOCOL.md 9.2): exported functions become skills (first parameter → `input_schema`,
 * awaited return type → `output_schema`), exported interfaces and type aliases become schemas.
 *
 * Loaded only by the `rxon contract` command: ts-morph and the TypeScript checker take hundreds of
 * milliseconds to start, which no runtime path should pay.
 */
import { Node, Project, ts, type Type } from "ts-morph";
import type { SkillInfo } from "../../generated/types.js";
import { ValidationError } from "../errors.js";
import { validateIdentifier } from "./identifiers.js";

/** A JSON Schema under construction. */
export type JsonSchema = Record<string, unknown>;

/** Options of {@link contractsFromFile}. */
export interface ContractsFromTypesOptions {
  /** Only this export (a function, interface or type alias); default: every exported function. */
  export?: string;
  /** Skill name to use instead of the function's name (only when one skill results). */
  name?: string;
  /** Skill version to record. */
  version?: string;
}

/** What was read from a file. */
export interface ContractsFromTypes {
  /** One SkillInfo per selected export. */
  skills: SkillInfo[];
  /** Types that could not be expressed exactly (functions, symbols…), with where they were. */
  warnings: string[];
}

const MAX_DEPTH = 64;

/** Converts checker types to JSON Schema, collecting `$defs` for recursive named types. */
class SchemaBuilder {
  readonly warnings: string[] = [];
  private readonly stack = new Set<ts.Type>();
  private readonly recursive = new Map<ts.Type, { name: string; type: Type }>();
  private readonly defs: Record<string, JsonSchema> = {};
  private readonly usedNames = new Set<string>();

  constructor(private readonly where: Node) {}

  /** Schema of `type` with the `$defs` its recursive parts need. */
  root(type: Type, label: string): JsonSchema {
    const schema = this.convert(type, label, 0);
    // Recursive named types were referenced by name; define each (their own inner references stay $refs).
    for (let guard = 0; guard < 1000; guard++) {
      const pending = [...this.recursive.values()].find(({ name }) => !(name in this.defs));
      if (!pending) break;
      const { name, type: t } = pending;
      this.defs[name] = {};
      this.stack.add(t.compilerType);
      this.defs[name] = this.object(t, `${label}/$defs/${name}`, 1);
      this.stack.delete(t.compilerType);
    }
    if (Object.keys(this.defs).length > 0) schema.$defs = this.defs;
    return schema;
  }

  private warn(label: string, text: string): JsonSchema {
    this.warnings.push(`${label}: ${text}; left unconstrained`);
    return {};
  }

  private convert(type: Type, label: string, depth: number): JsonSchema {
    if (depth > MAX_DEPTH) return this.warn(label, "type nested too deeply");
    if (type.isAny() || type.isUnknown()) return {};
    if (type.isNever()) return { not: {} };
    if (type.isString() || type.isTemplateLiteral()) return { type: "string" };
    if (type.isNumber()) return { type: "number" };
    if (type.isBoolean()) return { type: "boolean" };
    if (type.isNull()) return { type: "null" };
    if (type.isBigInt()) return { type: "integer" };
    if (type.isUndefined() || type.isVoid()) return this.warn(label, "undefined has no JSON form");
    if (type.isBooleanLiteral()) return { type: "boolean", const: type.getText() === "true" };
    if (type.isStringLiteral() || type.isNumberLiteral() || type.isEnumLiteral()) return literalSchema([type]) ?? this.warn(label, "unsupported literal");
    if (type.isEnum() || type.isUnion()) return this.union(type, label, depth);
    const symbolName = type.getSymbol()?.getName();
    if (symbolName === "Date") return { type: "string", format: "date-time" };
    if (type.isArray() || symbolName === "ReadonlyArray") {
      const element = type.isArray() ? type.getArrayElementTypeOrThrow() : type.getTypeArguments()[0];
      return element ? { type: "array", items: this.convert(element, `${label}[]`, depth + 1) } : { type: "array" };
    }
    if (type.isTuple()) {
      const items = type.getTupleElements().map((t, i) => this.convert(t, `${label}[${i}]`, depth + 1));
      return { type: "array", prefixItems: items, minItems: items.length, maxItems: items.length };
    }
    if (symbolName === "Promise" || symbolName === "PromiseLike") {
      const inner = type.getTypeArguments()[0];
      return inner ? this.convert(inner, label, depth) : {};
    }
    if (type.getCallSignatures().length > 0 && type.getProperties().length === 0) return this.warn(label, "a function has no JSON form");
    if (type.isObject() || type.isIntersection()) {
      const ct = type.compilerType;
      if (this.stack.has(ct)) return { $ref: `#/$defs/${this.defName(type)}` };
      this.stack.add(ct);
      try {
        return this.object(type, label, depth);
      } finally {
        this.stack.delete(ct);
      }
    }
    return this.warn(label, `type '${type.getText().slice(0, 80)}' is not supported`);
  }

  private defName(type: Type): string {
    const ct = type.compilerType;
    const known = this.recursive.get(ct);
    if (known) return known.name;
    const base = (type.getAliasSymbol() ?? type.getSymbol())?.getName().replace(/[^A-Za-z0-9_]/g, "") || "Type";
    let name = base;
    for (let i = 2; this.usedNames.has(name); i++) name = `${base}${i}`;
    this.usedNames.add(name);
    this.recursive.set(ct, { name, type });
    return name;
  }

  private union(type: Type, label: string, depth: number): JsonSchema {
    // JSON has no undefined: `x?: T` and `T | undefined` mean "may be absent", said by `required`.
    let members = type.getUnionTypes().filter((t) => !t.isUndefined() && !t.isVoid());
    const hasTrue = members.some((t) => t.isBooleanLiteral() && t.getText() === "true");
    const hasFalse = members.some((t) => t.isBooleanLiteral() && t.getText() === "false");
    const booleanWhole = hasTrue && hasFalse;
    if (booleanWhole) members = members.filter((t) => !t.isBooleanLiteral());
    const hasNull = members.some((t) => t.isNull());
    const rest = members.filter((t) => !t.isNull());
    const parts: JsonSchema[] = [];
    const literals = rest.filter((t) => t.isStringLiteral() || t.isNumberLiteral() || t.isEnumLiteral() || t.isBooleanLiteral());
    if (literals.length > 0 && literals.length === rest.length) {
      const lit = literalSchema(literals);
      if (lit) parts.push(lit);
    } else {
      for (const t of rest) parts.push(this.convert(t, label, depth + 1));
    }
    if (booleanWhole) parts.push({ type: "boolean" });
    if (hasNull) parts.push({ type: "null" });
    if (parts.length === 0) return this.warn(label, "empty union");
    if (parts.length === 1) return parts[0]!;
    // `string | number | null` reads better as a list of types than as anyOf.
    if (parts.every((p) => Object.keys(p).length === 1 && typeof p.type === "string")) return { type: parts.map((p) => p.type) };
    return { anyOf: parts };
  }

  private object(type: Type, label: string, depth: number): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const prop of type.getProperties()) {
      const name = prop.getName();
      const declaration = prop.getDeclarations()[0];
      const propType = prop.getTypeAtLocation(declaration ?? this.where);
      if (propType.getCallSignatures().length > 0 && propType.getProperties().length === 0 && !propType.isUnion()) continue; // methods
      const schema = this.convert(propType, `${label}.${name}`, depth + 1);
      const doc = declaration && Node.isJSDocable(declaration) ? declaration.getJsDocs()[0]?.getDescription().trim() : undefined;
      if (doc) schema.description = doc;
      Object.defineProperty(properties, name, { value: schema, enumerable: true, writable: true, configurable: true });
      if (!(prop.getFlags() & ts.SymbolFlags.Optional) && !propType.isUndefined() && !unionHasUndefined(propType)) required.push(name);
    }
    const index = type.getStringIndexType() ?? type.getNumberIndexType();
    const schema: JsonSchema = { type: "object" };
    // A pure record (`Record<string, T>`) reads better without an empty `properties`.
    if (!index || Object.keys(properties).length > 0) schema.properties = properties;
    if (required.length > 0) schema.required = required;
    schema.additionalProperties = index ? this.convert(index, `${label}[key]`, depth + 1) : false;
    return schema;
  }
}

function unionHasUndefined(t: Type): boolean {
  return t.isUnion() && t.getUnionTypes().some((u) => u.isUndefined() || u.isVoid());
}

/** `{type, enum}` (or `{type, const}` for one value) of literal types; undefined if a value is not JSON. */
function literalSchema(types: readonly Type[]): JsonSchema | undefined {
  const values: (string | number | boolean)[] = [];
  for (const t of types) {
    if (t.isBooleanLiteral()) values.push(t.getText() === "true");
    else {
      const v = t.getLiteralValue();
      if (typeof v !== "string" && typeof v !== "number") return undefined;
      values.push(v);
    }
  }
  const kinds = [...new Set(values.map((v) => (typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v)))];
  const typeName = kinds.includes("number") && kinds.includes("integer") ? [...kinds.filter((k) => k !== "integer")] : kinds;
  const schemaType = typeName.length === 1 ? typeName[0] : typeName;
  return values.length === 1 ? { type: schemaType, const: values[0] } : { type: schemaType, enum: values };
}

function docOf(node: Node): string | undefined {
  const target = Node.isVariableDeclaration(node) ? node.getVariableStatement() : node;
  if (target && Node.isJSDocable(target)) return target.getJsDocs()[0]?.getDescription().trim() || undefined;
  return undefined;
}

/**
 * Reads `file` and returns a SkillInfo per exported function (or for the one export named by
 * `options.export`). Throws a ValidationError when the file has no such export or a name breaks
 * the identifier rule.
 */
export function contractsFromFile(file: string, options: ContractsFromTypesOptions = {}): ContractsFromTypes {
  const project = new Project({
    compilerOptions: { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, noEmit: true },
    skipAddingFilesFromTsConfig: true,
  });
  let source;
  try {
    source = project.addSourceFileAtPath(file);
  } catch {
    throw new ValidationError(`cannot read ${file}`, [{ path: "", message: "file not found or unreadable" }]);
  }
  project.resolveSourceFileDependencies();
  const exported = source.getExportedDeclarations();
  const skills: SkillInfo[] = [];
  const warnings: string[] = [];
  // Declaration order of the file, not the checker's grouping.
  const position = (name: string): number => exported.get(name)?.[0]?.getStart() ?? 0;
  const selected = options.export === undefined ? [...exported.keys()].sort((a, b) => position(a) - position(b)) : [options.export];
  for (const exportName of selected) {
    const node = exported.get(exportName)?.[0];
    if (!node) throw new ValidationError(`${file} has no export named '${exportName}'`, [{ path: "", message: "no such export" }]);
    const builder = new SchemaBuilder(node);
    const info: Partial<SkillInfo> = {};
    if (Node.isInterfaceDeclaration(node) || Node.isTypeAliasDeclaration(node)) {
      if (options.export === undefined) continue;
      info.input_schema = builder.root(node.getType(), exportName);
    } else if (Node.isFunctionDeclaration(node) || Node.isVariableDeclaration(node)) {
      const signature = node.getType().getCallSignatures()[0];
      if (!signature) {
        if (options.export === undefined) continue;
        throw new ValidationError(`export '${exportName}' is neither a function nor a type`, [{ path: "", message: "not a function" }]);
      }
      const param = signature.getParameters()[0];
      if (param) info.input_schema = builder.root(param.getTypeAtLocation(node), `${exportName}(params)`);
      const returned = signature.getReturnType();
      const awaited = returned.getSymbol()?.getName() === "Promise" ? returned.getTypeArguments()[0] : returned;
      if (awaited && !awaited.isVoid() && !awaited.isUndefined()) {
        const out = new SchemaBuilder(node);
        info.output_schema = out.root(awaited, `${exportName}(result)`);
        warnings.push(...out.warnings);
      }
    } else {
      if (options.export === undefined) continue;
      throw new ValidationError(`export '${exportName}' is neither a function nor a type`, [{ path: "", message: "not a function" }]);
    }
    const name = options.name ?? exportName;
    validateIdentifier(name, "skill name");
    const skill: SkillInfo = { name };
    if (options.version !== undefined) skill.version = options.version;
    const description = docOf(node);
    if (description) skill.description = description;
    if (info.input_schema) skill.input_schema = info.input_schema;
    if (info.output_schema) skill.output_schema = info.output_schema;
    skill.schema_dialect = "json-schema";
    skills.push(skill);
    warnings.push(...builder.warnings);
  }
  if (skills.length === 0) throw new ValidationError(`${file} exports no functions`, [{ path: "", message: "nothing to describe; use --export <TypeName>" }]);
  if (options.name !== undefined && skills.length > 1) {
    throw new ValidationError("--name needs a single skill; add --export <name>", [{ path: "", message: "ambiguous name" }]);
  }
  return { skills, warnings };
}
