/**
 * Decoding untrusted values into typed models (validated by the generated validators, schema
 * defaults applied) and encoding models into their wire form.
 *
 * On the wire a null member and an absent member mean the same thing (the canonical form drops
 * nulls, Python senders never send them), so decoding treats null members as absent.
 */
import { type GeneratedValidator } from "../../generated/validators.js";
import { type ModelName, type Models, strictValidators, validators } from "../../generated/models.js";
import { Limit } from "../../generated/constants.js";
import { ValidationError, type ValidationIssue } from "../errors.js";
import { parseJson, type ParseOptions } from "./json.js";
import { jsonPointer } from "./pointer.js";

export type { ModelName, Models } from "../../generated/models.js";
export { modelNames, schemaIds, schemaFiles } from "../../generated/models.js";

/** Options of {@link decode}. */
export interface DecodeOptions {
  /**
   * Work on a copy (default), leaving the caller's value untouched. `false` validates and fills
   * defaults in place: use it only on values nobody else holds (e.g. freshly parsed).
   */
  copy?: boolean;
  /** Refuse unknown members of model objects (open maps such as `params` stay open). Default false. */
  strict?: boolean;
}

/**
 * Validates `value` as the model `model` and returns it typed, with schema defaults applied and
 * null members removed. Throws {@link ValidationError} listing the first {@link MAX_REPORTED_ISSUES}
 * problems with their JSON pointers.
 */
export function decode<M extends ModelName>(model: M, value: unknown, options: DecodeOptions = {}): Models[M] {
  return decodeWith<Models[M]>(model, pickValidator(model, options.strict === true), value, options);
}

/**
 * {@link decode} with a given validator; `model` names it in error messages. The typed decoders of
 * `typed-decode.ts` (for models generated from a user's own schemas) are built on it.
 */
export function decodeWith<T>(model: string, validate: GeneratedValidator, value: unknown, options: Pick<DecodeOptions, "copy"> = {}): T {
  if (options.copy === false) {
    if (validate(value)) return value as T;
    // A failure may only be due to null members, which mean "absent": retry without them.
    if (!hasNullMember(value, 0)) throw toValidationError(model, validate);
    value = withoutNulls(value, 0, []);
  } else {
    value = withoutNulls(value, 0, []);
  }
  if (validate(value)) return value as T;
  throw toValidationError(model, validate);
}

/** Parses JSON text (lossless, bounded; see {@link parseJson}) and decodes it as `model`. */
export function decodeJson<M extends ModelName>(
  model: M,
  text: string | Uint8Array,
  options: ParseOptions & Omit<DecodeOptions, "copy"> = {},
): Models[M] {
  return decode(model, parseJson(text, options), { strict: options.strict === true, copy: false });
}

/** Returns the problems `value` has as `model` (empty when valid) without changing it. */
export function check(model: ModelName, value: unknown, options: { strict?: boolean } = {}): ValidationIssue[] {
  return checkWith(pickValidator(model, options.strict === true), value);
}

/** {@link check} with a given validator. */
export function checkWith(validate: GeneratedValidator, value: unknown): ValidationIssue[] {
  return validate(withoutNulls(value, 0, [])) ? [] : issuesOf(validate).issues;
}

/**
 * The wire form of a model or any JSON-like value: a deep copy without null or undefined object
 * members (array elements are kept; undefined ones become null, as in JSON).
 */
export function encode<T>(value: T): T {
  return withoutNulls(value, 0, []) as T;
}

function pickValidator(model: ModelName, strict: boolean): GeneratedValidator {
  const validate = (strict ? strictValidators : validators)[model];
  if (validate === undefined) {
    throw new ValidationError(`Unknown model "${String(model)}"`, [{ path: "", message: "unknown model" }]);
  }
  return validate;
}

function hasNullMember(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== "object" || depth > Limit.MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (hasNullMember(v, depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v === null || hasNullMember(v, depth + 1)) return true;
  }
  return false;
}

/** Deep copy that drops null/undefined members; bounded so cyclic or absurdly deep input fails cleanly. */
function withoutNulls(value: unknown, depth: number, path: (string | number)[]): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > Limit.MAX_DEPTH) {
    throw new ValidationError(`Value nests deeper than ${Limit.MAX_DEPTH}`, [{ path: jsonPointer(path), message: "too deep" }], {
      details: { reason: "depth" },
    });
  }
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      path.push(i);
      out[i] = v === undefined ? null : withoutNulls(v, depth + 1, path);
      path.pop();
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === null || v === undefined) continue;
    path.push(key);
    // defineProperty keeps a "__proto__" key an ordinary member instead of a prototype switch.
    if (key === "__proto__") Object.defineProperty(out, key, { value: withoutNulls(v, depth + 1, path), enumerable: true, writable: true, configurable: true });
    else out[key] = withoutNulls(v, depth + 1, path);
    path.pop();
  }
  return out;
}

/** Most problems reported for one value: enough to fix a message, too few to amplify a hostile one. */
export const MAX_REPORTED_ISSUES = 20;
/** Longest path or message of one reported problem, in characters (member names come from the sender). */
export const MAX_ISSUE_CHARS = 200;

function clip(text: string): string {
  return text.length > MAX_ISSUE_CHARS ? `${text.slice(0, MAX_ISSUE_CHARS)}…` : text;
}

/** The first {@link MAX_REPORTED_ISSUES} distinct problems, and how many ajv reported in all. */
function issuesOf(validate: GeneratedValidator): { issues: ValidationIssue[]; total: number } {
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  const errors = validate.errors ?? [];
  for (const e of errors) {
    if (issues.length >= MAX_REPORTED_ISSUES) break;
    let path = e.instancePath;
    let message = e.message ?? "is invalid";
    if (e.keyword === "required") {
      path += jsonPointer([String(e.params.missingProperty)]);
      message = "is required";
    } else if (e.keyword === "additionalProperties") {
      path += jsonPointer([String(e.params.additionalProperty)]);
      message = "is not allowed";
    } else if (e.keyword === "enum") {
      message = `must be one of: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    }
    path = clip(path);
    message = clip(message);
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push({ path, message });
    }
  }
  return { issues, total: Math.max(errors.length, issues.length) };
}

function toValidationError(model: string, validate: GeneratedValidator): ValidationError {
  const { issues, total } = issuesOf(validate);
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.path || "(root)"} ${i.message}`)
    .join("; ");
  const capped = issues.length >= MAX_REPORTED_ISSUES && total > issues.length;
  const more = issues.length > 5 ? ` (and ${issues.length - 5}${capped ? " listed, further ones not" : ""} more)` : "";
  return new ValidationError(`Invalid ${model}: ${summary}${more}`, issues, { details: { model } });
}
