/**
 * Contract validation (PROTOCOL.md 9): task params against a skill's `input_schema`, result data
 * against its `output_schema`, event payloads against `events_schema`, with full JSON Schema
 * 2020-12 through ajv instead of the reference's small subset.
 *
 * Compiling costs milliseconds and validating under a microsecond, so compiled validators are
 * cached twice: by schema object identity (a WeakMap, no hashing on the hot path) in front of a
 * bounded LRU keyed by a content hash (equal schemas parsed from different messages share one).
 *
 * Schemas come from workers over the wire, so their `pattern`s run on a linear-time engine
 * (see linear-regexp.ts): a hostile pattern cannot stall the process.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { ErrorCode } from "../../generated/constants.js";
import type { SkillInfo } from "../../generated/types.js";
import { ValidationError, type ValidationIssue } from "../errors.js";
import { jsonPointer } from "../wire/pointer.js";
import { linearRegExp } from "./linear-regexp.js";
import { Lru } from "./lru.js";
import { schemaKey } from "./schema-key.js";

/** Why a contract check did not pass. */
export type ContractFailureReason =
  /** The value does not satisfy the schema. */
  | "invalid"
  /** The schema itself cannot be compiled (malformed, unresolvable `$ref`, too large or deep). */
  | "invalid_schema"
  /** The skill's `schema_dialect` is not `json-schema`; nothing was validated. */
  | "unsupported_dialect";

/** Outcome of a contract check. */
export type ContractResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: ContractFailureReason; readonly errors: readonly ValidationIssue[] };

/** Options of a {@link ContractValidator}. */
export interface ContractValidatorOptions {
  /** Compiled validators kept by content hash. Default 512. */
  cacheSize?: number;
  /** Largest schema accepted, in characters of its stable JSON text. Default 256 KiB. */
  maxSchemaChars?: number;
  /** Deepest schema accepted. Default 100 (the wire depth limit). */
  maxSchemaDepth?: number;
  /**
   * Engine of `pattern` and `patternProperties`. Default `"linear"`: RE2 semantics, linear time in
   * the input, backreferences and lookarounds refused (the schema then fails as `invalid_schema`).
   * `"native"` uses JavaScript's backtracking RegExp: only for schemas you wrote yourself, never
   * for schemas that arrive over the wire (a pattern such as `^(a+)+$` can stall the process).
   */
  patterns?: "linear" | "native";
}

type Check = (data: unknown) => ContractResult;

const OK: ContractResult = Object.freeze({ ok: true as const });
/** `$schema` values of older drafts: compiled with 2020-12 semantics rather than refused. */
const DRAFT_URI = /^https?:\/\/json-schema\.org\/(draft-0[4-7]|draft\/2019-09)\/schema#?$/;
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

function failure(reason: ContractFailureReason, message: string, path = ""): ContractResult {
  return { ok: false, reason, errors: [{ path, message }] };
}

function issue(e: ErrorObject): ValidationIssue {
  const p = e.params as Record<string, unknown>;
  let path = e.instancePath;
  // Point at the member concerned, not at its parent object.
  if (e.keyword === "required" && typeof p.missingProperty === "string") path += jsonPointer([p.missingProperty]);
  else if (e.keyword === "additionalProperties" && typeof p.additionalProperty === "string") path += jsonPointer([p.additionalProperty]);
  else if (e.keyword === "unevaluatedProperties" && typeof p.unevaluatedProperty === "string") path += jsonPointer([p.unevaluatedProperty]);
  return { path, message: e.message ?? `fails ${e.keyword}` };
}

function hasBigInt(v: unknown, depth: number): boolean {
  if (typeof v === "bigint") return true;
  if (v === null || typeof v !== "object" || depth > 100) return false;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (hasBigInt(x, depth + 1)) return true;
  return false;
}

/** Keywords whose error is reported above the value that caused it. */
const COMPOSITE = new Set(["anyOf", "oneOf", "allOf", "not", "if", "then", "else", "contains", "uniqueItems", "dependentSchemas", "unevaluatedItems", "unevaluatedProperties", "$ref", "$dynamicRef"]);

/**
 * Could the first error be due to a bigint (which ajv does not treat as a number)? Only then is
 * the value converted and checked again; the usual invalid value costs no walk of the data.
 */
function mayBeBigIntFailure(data: unknown, e: ErrorObject | undefined): boolean {
  if (e === undefined) return false;
  const keyword = e.keyword;
  if (COMPOSITE.has(keyword)) return hasBigInt(data, 0);
  // Other keywords either ignore non-numbers (minimum…) or cannot involve a number at all.
  if (keyword !== "type" && keyword !== "const" && keyword !== "enum") return false;
  if (keyword === "type") {
    // Only an expected number can be failed by a bigint.
    const expected = String((e.params as { type?: unknown }).type);
    if (!expected.includes("integer") && !expected.includes("number")) return false;
  }
  const path = e.instancePath;
  let v: unknown = data;
  let start = 1;
  while (start <= path.length && path !== "") {
    if (v === null || typeof v !== "object") return false;
    let end = path.indexOf("/", start);
    if (end < 0) end = path.length;
    let key = path.slice(start, end);
    if (key.includes("~")) key = key.replace(/~1/g, "/").replace(/~0/g, "~");
    v = Object.prototype.hasOwnProperty.call(v, key) ? (v as Record<string, unknown>)[key] : undefined;
    start = end + 1;
  }
  return typeof v === "bigint" || (keyword !== "type" && hasBigInt(v, 0));
}

/** Lossless parsing yields bigint for integers beyond 2^53; ajv only knows numbers. */
function withoutBigInt(v: unknown, depth: number): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v === null || typeof v !== "object" || depth > 100) return v;
  if (Array.isArray(v)) return v.map((x) => withoutBigInt(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: withoutBigInt(x, depth + 1), enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * Validates values against JSON Schemas with a private ajv instance and bounded caches. Most code
 * uses the module-level {@link validateParams} and friends, which share one instance.
 */
export class ContractValidator {
  private ajv: Ajv2020 | undefined;
  private readonly byIdentity = new WeakMap<object, Check>();
  private readonly byHash: Lru<string, { check: Check; compiled: object | undefined }>;
  private readonly maxChars: number;
  private readonly maxDepth: number;
  private readonly patterns: "linear" | "native";

  constructor(options: ContractValidatorOptions = {}) {
    this.patterns = options.patterns ?? "linear";
    this.maxChars = options.maxSchemaChars ?? 256 * 1024;
    this.maxDepth = options.maxSchemaDepth ?? 100;
    // Evicted schemas leave ajv's own cache too, so memory stays bounded.
    this.byHash = new Lru(options.cacheSize ?? 512, (_k, v) => {
      if (v.compiled !== undefined) this.ajv?.removeSchema(v.compiled);
    });
  }

  /** Validates `data` against `schema`; an absent schema accepts everything. */
  validate(schema: unknown, data: unknown): ContractResult {
    if (schema === undefined || schema === null) return OK;
    if (typeof schema === "object") {
      const check = this.byIdentity.get(schema);
      if (check !== undefined) return check(data);
    }
    return this.checkFor(schema)(data);
  }

  /** Task params against the skill's `input_schema` (absent params are `{}`). */
  validateParams(skill: SkillInfo, params: unknown): ContractResult {
    const schema = skill.input_schema;
    if (schema === undefined || schema === null) return OK;
    const dialect = skill.schema_dialect;
    if (dialect !== undefined && dialect !== null && dialect !== "json-schema") return unsupported(dialect);
    const check = this.byIdentity.get(schema);
    return (check ?? this.checkFor(schema))(params === undefined ? {} : params);
  }

  /** Result data against the skill's `output_schema`. */
  validateResult(skill: SkillInfo, data: unknown): ContractResult {
    const schema = skill.output_schema;
    if (schema === undefined || schema === null) return OK;
    const dialect = skill.schema_dialect;
    if (dialect !== undefined && dialect !== null && dialect !== "json-schema") return unsupported(dialect);
    const check = this.byIdentity.get(schema);
    return (check ?? this.checkFor(schema))(data);
  }

  /** An event payload against `events_schema[eventType]`; undeclared event types pass. */
  validateEvent(skill: SkillInfo, eventType: string, payload: unknown): ContractResult {
    const schemas = skill.events_schema;
    if (!schemas || !Object.prototype.hasOwnProperty.call(schemas, eventType)) return OK;
    const dialect = skill.schema_dialect;
    if (dialect !== undefined && dialect !== null && dialect !== "json-schema") return unsupported(dialect);
    return this.validate(schemas[eventType], payload);
  }

  /** Compiles (or finds) the check for a schema; never throws. */
  private checkFor(schema: unknown): Check {
    if (typeof schema === "boolean") return schema ? () => OK : () => failure("invalid", "the schema `false` accepts nothing");
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      return () => failure("invalid_schema", "a schema must be an object or a boolean");
    }
    let key: string;
    try {
      key = schemaKey(schema, this.maxDepth, this.maxChars);
    } catch (err) {
      const check: Check = () => failure("invalid_schema", `schema refused: ${(err as Error).message}`);
      this.byIdentity.set(schema, check);
      return check;
    }
    let entry = this.byHash.get(key);
    if (entry === undefined) {
      entry = this.compile(schema as Record<string, unknown>);
      this.byHash.set(key, entry);
    }
    this.byIdentity.set(schema, entry.check);
    return entry.check;
  }

  private compile(schema: Record<string, unknown>): { check: Check; compiled: object | undefined } {
    const ajv = (this.ajv ??= createAjv(this.patterns));
    let target = schema;
    const declared = schema.$schema;
    if (typeof declared === "string" && DRAFT_URI.test(declared)) {
      const { $schema: _dropped, ...rest } = schema;
      target = rest;
    }
    let fn: ValidateFunction;
    try {
      fn = ajv.compile(target);
    } catch (err) {
      ajv.removeSchema(target);
      // ajv's messages describe the schema, not our internals, so they are safe to pass on.
      const message = `schema cannot be compiled: ${String((err as Error).message).slice(0, 300)}`;
      return { check: () => failure("invalid_schema", message), compiled: undefined };
    }
    const check: Check = (data) => {
      try {
        if (fn(data)) return OK;
        const errors = fn.errors ?? [];
        if (mayBeBigIntFailure(data, errors[0]) && fn(withoutBigInt(data, 0))) return OK;
        return { ok: false, reason: "invalid", errors: errors.map(issue) };
      } catch {
        // A recursive schema over absurdly deep data can exhaust the stack; refuse, do not crash.
        return failure("invalid", "value is too deeply nested to validate");
      }
    };
    return { check, compiled: target };
  }
}

function unsupported(dialect: string): ContractResult {
  return failure("unsupported_dialect", `schema dialect '${dialect.slice(0, 64)}' is not supported; only 'json-schema' is validated`);
}

function createAjv(patterns: "linear" | "native"): Ajv2020 {
  const ajv = new Ajv2020({
    // Patterns of schemas received over the wire must not backtrack (ReDoS).
    ...(patterns === "linear" ? { code: { regExp: linearRegExp } } : {}),
    // Real-world schemas (Pydantic, zod-to-json-schema) carry keywords ajv does not know.
    strict: false,
    logger: false,
    // One error is enough to refuse, and collecting all of them is a known slow path.
    allErrors: false,
    // `required: ["constructor"]` must not be met by Object.prototype.
    ownProperties: true,
    // Several skills may declare the same `$id`; each schema stays private to its validator.
    addUsedSchema: false,
    validateSchema: true,
  });
  addFormats(ajv);
  return ajv;
}

let shared: ContractValidator | undefined;

/** The process-wide validator behind the module-level functions. */
export function defaultContractValidator(): ContractValidator {
  return (shared ??= new ContractValidator());
}

/** Validates task params against `skill.input_schema` (see {@link ContractValidator.validateParams}). */
export function validateParams(skill: SkillInfo, params: unknown): ContractResult {
  return (shared ??= new ContractValidator()).validateParams(skill, params);
}

/** Validates result data against `skill.output_schema` (see {@link ContractValidator.validateResult}). */
export function validateResult(skill: SkillInfo, data: unknown): ContractResult {
  return (shared ??= new ContractValidator()).validateResult(skill, data);
}

/** Validates an event payload against `skill.events_schema[eventType]`. */
export function validateEvent(skill: SkillInfo, eventType: string, payload: unknown): ContractResult {
  return (shared ??= new ContractValidator()).validateEvent(skill, eventType, payload);
}

/** Validates `data` against any JSON Schema with the shared cache. */
export function validateSchema(schema: unknown, data: unknown): ContractResult {
  return (shared ??= new ContractValidator()).validate(schema, data);
}

/**
 * Turns a failed result into a throwable {@link ValidationError}: `INVALID_INPUT_ERROR` for params
 * by default, `CONTRACT_VIOLATION_ERROR` when `code` says so (results). A passing result gives
 * `undefined`.
 */
export function contractError(result: ContractResult, message = "contract violation", code: string = ErrorCode.INVALID_INPUT_ERROR): ValidationError | undefined {
  if (result.ok) return undefined;
  const first = result.errors[0];
  const text = first ? `${message}: ${first.path || "/"} ${first.message}` : message;
  return new ValidationError(text, result.errors, { code, details: { reason: result.reason } });
}
