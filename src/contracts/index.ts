/**
 * Contracts (PROTOCOL.md 9): validating params, results and events against a skill's JSON
 * Schemas; declaring skills with TypeBox; the identifier rule.
 */
export {
  ContractValidator,
  contractError,
  defaultContractValidator,
  validateEvent,
  validateParams,
  validateResult,
  validateSchema,
  type ContractFailureReason,
  type ContractResult,
  type ContractValidatorOptions,
} from "./validate.js";
export {
  defineSkill,
  toJsonSchema,
  type Skill,
  type SkillContext,
  type SkillDefinition,
  type SkillHandler,
  type SkillLogger,
} from "./define-skill.js";
export { isValidIdentifier, validateIdentifier } from "./identifiers.js";
export { linearRegExp, UnsafePatternError, type LinearPattern } from "./linear-regexp.js";
