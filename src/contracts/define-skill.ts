/**
 * `defineSkill`: a skill's contract and its handler from one TypeBox declaration, so the JSON
 * Schema the orchestrator sees and the types the handler is checked against cannot drift apart.
 */
import type { Static, TSchema } from "typebox";
import type { SkillInfo, TaskPayload } from "../../generated/types.js";
import { ValidationError } from "../errors.js";
import { validateIdentifier } from "./identifiers.js";
import { defaultContractValidator, type ContractResult } from "./validate.js";

/** Minimal pino-compatible logger. */
export interface SkillLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/**
 * What a running handler gets besides its params. Deliberately small: the worker runtime builds
 * on it (and may pass a subtype with more members).
 */
export interface SkillContext {
  /** Aborted when the task is cancelled, its deadline passes or the worker shuts down. */
  readonly signal: AbortSignal;
  /** The task being run. */
  readonly taskId: string;
  /** The job the task belongs to. */
  readonly jobId: string;
  /** Absolute deadline in Unix milliseconds, if the task has one. */
  readonly deadline?: number;
  /** Reports progress, a fraction from 0 to 1 with an optional message. */
  progress(fraction: number, message?: string): Promise<void> | void;
  /** Logger bound to the task. */
  readonly logger?: SkillLogger;
  /** Id of the worker running the task. */
  readonly workerId: string;
  /** The task as received: metadata, params_metadata, tracing context, priority... */
  readonly task: Readonly<TaskPayload>;
}

/**
 * A handler: params in (typed by the input schema), result data out (typed by the output schema:
 * a result of the wrong shape does not compile, and is also checked at run time before sending).
 */
export type SkillHandler<I extends TSchema, O extends TSchema, C extends SkillContext = SkillContext> = (
  params: Static<I>,
  ctx: C,
) => Promise<Static<O>> | Static<O>;

/** What {@link defineSkill} takes. */
export interface SkillDefinition<I extends TSchema, O extends TSchema, C extends SkillContext = SkillContext> {
  /** Skill name = the task type it serves; letters, digits, `_` and `-`. */
  name: string;
  /** Skill version, compared exactly when a task requires one. */
  version: string;
  /** Skill category; identifier rule as for names. */
  type?: string;
  /** Human-readable description. */
  description?: string;
  /** Schema of the params. */
  input: I;
  /** Schema of the result data. */
  output: O;
  /** Schemas of custom event payloads, by event type. */
  events?: Readonly<Record<string, TSchema>>;
  /** Result statuses the skill may return besides success/failure. */
  outputStatuses?: readonly string[];
  /** Extra skill properties, matched by skill requirements. */
  properties?: Readonly<Record<string, unknown>>;
  /** The code that runs the task. */
  handler: SkillHandler<I, O, C>;
}

/** A defined skill: its wire description, its schemas and its handler. */
export interface Skill<I extends TSchema = TSchema, O extends TSchema = TSchema, C extends SkillContext = SkillContext> {
  /** The SkillInfo to register; schemas are plain JSON Schema. */
  readonly info: SkillInfo;
  /** The TypeBox input schema. */
  readonly input: I;
  /** The TypeBox output schema. */
  readonly output: O;
  /** The handler. */
  readonly handler: SkillHandler<I, O, C>;
  /** Checks params against the input schema. */
  validateParams(params: unknown): ContractResult;
  /** Checks result data against the output schema. */
  validateResult(data: unknown): ContractResult;
}

/**
 * A plain JSON Schema copy of a TypeBox schema: TypeBox marks its values with non-enumerable
 * members, which a JSON round trip leaves behind. Non-JSON schemas (functions, bigint defaults)
 * are refused, since they cannot travel.
 */
export function toJsonSchema(schema: TSchema, what = "schema"): Record<string, unknown> {
  let text: string | undefined;
  try {
    text = JSON.stringify(schema);
  } catch (err) {
    throw new ValidationError(`${what} is not representable as JSON Schema`, [{ path: "", message: String((err as Error).message) }]);
  }
  const plain: unknown = text === undefined ? undefined : JSON.parse(text);
  if (plain === null || typeof plain !== "object" || Array.isArray(plain)) {
    throw new ValidationError(`${what} must be a JSON Schema object`, [{ path: "", message: "must be an object" }]);
  }
  return plain as Record<string, unknown>;
}

/**
 * Declares a skill. The handler's params and result are typed from the schemas; `info` carries
 * them as JSON Schema. Throws a ValidationError for a name or type outside the identifier rule
 * or a schema that ajv cannot compile, at definition time rather than on the first task.
 */
export function defineSkill<I extends TSchema, O extends TSchema, C extends SkillContext = SkillContext>(
  definition: SkillDefinition<I, O, C>,
): Skill<I, O, C> {
  validateIdentifier(definition.name, "skill name");
  if (definition.type !== undefined) validateIdentifier(definition.type, "skill type");
  if (typeof definition.version !== "string" || definition.version === "") {
    throw new ValidationError("skill version must be a non-empty string", [{ path: "/version", message: "must be a non-empty string" }]);
  }
  if (typeof definition.handler !== "function") {
    throw new ValidationError("skill handler must be a function", [{ path: "/handler", message: "must be a function" }]);
  }
  const info: SkillInfo = {
    name: definition.name,
    type: definition.type ?? definition.name,
    version: definition.version,
    input_schema: toJsonSchema(definition.input, "input schema"),
    output_schema: toJsonSchema(definition.output, "output schema"),
    schema_dialect: "json-schema",
  };
  if (definition.description !== undefined) info.description = definition.description;
  if (definition.events) {
    const events: Record<string, Record<string, unknown>> = {};
    for (const [k, v] of Object.entries(definition.events)) {
      Object.defineProperty(events, k, { value: toJsonSchema(v, `event schema '${k}'`), enumerable: true, writable: true, configurable: true });
    }
    info.events_schema = events;
  }
  if (definition.outputStatuses) info.output_statuses = [...definition.outputStatuses];
  if (definition.properties) info.properties = JSON.parse(JSON.stringify(definition.properties)) as Record<string, unknown>;

  const validator = defaultContractValidator();
  // Compile now: a broken schema should fail at startup, not on the first task.
  for (const [path, schema] of [["/input_schema", info.input_schema], ["/output_schema", info.output_schema]] as const) {
    const probe = validator.validate(schema, null);
    if (!probe.ok && probe.reason === "invalid_schema") {
      throw new ValidationError(`skill '${definition.name}': ${probe.errors[0]?.message ?? "invalid schema"}`, [{ path, message: probe.errors[0]?.message ?? "invalid schema" }]);
    }
  }
  const skill: Skill<I, O, C> = {
    info,
    input: definition.input,
    output: definition.output,
    handler: definition.handler,
    validateParams: (params) => validator.validateParams(info, params),
    validateResult: (data) => validator.validateResult(info, data),
  };
  return Object.freeze(skill);
}
