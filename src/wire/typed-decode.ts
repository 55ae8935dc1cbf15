/**
 * Typed decoding for models generated from your own schemas (`rxon codegen --schemas my-schemas
 * --out src/generated`), and validators as type guards. The protocol's own models go through
 * `decode("TaskPayload", value)`; a user's models through a decoder bound to their model table:
 *
 * ```ts
 * import { validators, strictValidators, type Models } from "./generated/models.js";
 * const codec = createDecoder<Models>(validators, strictValidators);
 * const order = codec.decode("Order", JSON.parse(text)); // typed Order, defaults applied
 * if (codec.is("Order", value)) value.id;                // type guard
 * ```
 */
import type { GeneratedValidator } from "../../generated/validators.js";
import { type ModelName, type Models, strictValidators as protocolStrict, validators as protocolValidators } from "../../generated/models.js";
import { ValidationError, type ValidationIssue } from "../errors.js";
import { checkWith, decodeWith, type DecodeOptions } from "./codec.js";
import { parseJson, type ParseOptions } from "./json.js";

export type { GeneratedValidator };

/** A validator that narrows: `if (isTask(value)) value.job_id`. */
export type TypeGuard<T> = ((value: unknown) => value is T) & { readonly errors?: GeneratedValidator["errors"] };

/**
 * The generated validator `validate` as a type guard for `T`. Like the validator itself it does
 * not apply the null-means-absent rule or defaults: use a decoder for untrusted input.
 */
export function asTypeGuard<T>(validate: GeneratedValidator): TypeGuard<T> {
  return validate as unknown as TypeGuard<T>;
}

/** Whether `value` is a valid protocol model `model` (null members count as absent). */
export function isModel<M extends ModelName>(model: M, value: unknown, options: { strict?: boolean } = {}): value is Models[M] {
  const validate = (options.strict === true ? protocolStrict : protocolValidators)[model];
  return validate !== undefined && checkWith(validate, value).length === 0;
}

/** A validator table: model name to generated validator (as `rxon codegen` writes in models.ts). */
export type ValidatorTable<TModels> = { readonly [K in keyof TModels]: GeneratedValidator };

/** Decoding functions bound to one model table; see {@link createDecoder}. */
export interface TypedDecoder<TModels> {
  /** Validates `value` as `model`, applies defaults, drops null members; throws ValidationError. */
  decode<M extends keyof TModels & string>(model: M, value: unknown, options?: DecodeOptions): TModels[M];
  /** Parses JSON text (lossless, bounded) and decodes it. */
  decodeJson<M extends keyof TModels & string>(model: M, text: string | Uint8Array, options?: ParseOptions & Omit<DecodeOptions, "copy">): TModels[M];
  /** Type guard: whether `value` is a valid `model` (null members count as absent). */
  is<M extends keyof TModels & string>(model: M, value: unknown, options?: { strict?: boolean }): value is TModels[M];
  /** The problems `value` has as `model` (empty when valid), without changing it. */
  check(model: keyof TModels & string, value: unknown, options?: { strict?: boolean }): ValidationIssue[];
}

/**
 * A decoder for your own generated models: `TModels` is the generated `Models` interface,
 * `validators` (and optionally `strictValidators`) the generated tables.
 */
export function createDecoder<TModels>(validators: ValidatorTable<TModels>, strictValidators?: ValidatorTable<TModels>): TypedDecoder<TModels> {
  const pick = (model: string, strict: boolean): GeneratedValidator => {
    const table = (strict ? strictValidators : validators) as Record<string, GeneratedValidator> | undefined;
    if (strict && table === undefined) throw new ValidationError("No strict validators were given to createDecoder", [{ path: "", message: "strict validators missing" }]);
    const validate = Object.hasOwn(table!, model) ? table![model] : undefined;
    if (validate === undefined) throw new ValidationError(`Unknown model "${model}"`, [{ path: "", message: "unknown model" }]);
    return validate;
  };
  return {
    decode: (model, value, options = {}) => decodeWith(model, pick(model, options.strict === true), value, options),
    decodeJson: (model, text, options = {}) => decodeWith(model, pick(model, options.strict === true), parseJson(text, options), { copy: false }),
    is: <M extends keyof TModels & string>(model: M, value: unknown, options: { strict?: boolean } = {}): value is TModels[M] =>
      checkWith(pick(model, options.strict === true), value).length === 0,
    check: (model, value, options = {}) => checkWith(pick(model, options.strict === true), value),
  };
}
