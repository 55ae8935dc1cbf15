/**
 * Type tests, checked by `npm run typecheck` (tsc over tsconfig.json, which includes test/): every
 * `@ts-expect-error` must meet an error, so a typing that gets looser fails the check. Nothing
 * here runs.
 */
import Type from "typebox";
import { asTypeGuard, createDecoder, decode, isModel, type GeneratedValidator, type TaskPayload } from "../../src/index.js";
import { RxonListener } from "../../src/listener/index.js";
import { Hub } from "../../src/hub/index.js";
import { validateTaskPayload } from "../../generated/validators.js";
import { defineSkill } from "../../src/worker/index.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_check?: T): void => undefined;

// defineSkill: the handler context has workerId and the task; params and result are typed.
export const resize = defineSkill({
  name: "resize",
  version: "1.0.0",
  input: Type.Object({ width: Type.Integer(), label: Type.Optional(Type.String()) }),
  output: Type.Object({ width: Type.Integer() }),
  handler: (params, ctx) => {
    expectType<Equal<typeof ctx.workerId, string>>();
    expectType<Equal<typeof ctx.task.job_id, string>>();
    expectType<Equal<typeof params.width, number>>();
    // @ts-expect-error not in the input schema
    void params.height;
    // @ts-expect-error the task is read-only
    ctx.task.job_id = "other";
    return { width: params.width * 2 };
  },
});

defineSkill({
  name: "wrong-output",
  version: "1.0.0",
  input: Type.Object({ width: Type.Integer() }),
  output: Type.Object({ width: Type.Integer() }),
  // @ts-expect-error the result must match the output schema (width is a number)
  handler: (params) => ({ width: String(params.width) }),
});

defineSkill({
  name: "missing-output",
  version: "1.0.0",
  input: Type.Object({ width: Type.Integer() }),
  output: Type.Object({ width: Type.Integer(), height: Type.Integer() }),
  // @ts-expect-error height is required by the output schema
  handler: async (params) => ({ width: params.width }),
});

// Protocol models: decode is typed by name, isModel narrows.
declare const untrusted: unknown;
expectType<Equal<ReturnType<typeof decode<"TaskPayload">>, TaskPayload>>();
// @ts-expect-error not a protocol model
decode("NoSuchModel", untrusted);
if (isModel("TaskPayload", untrusted)) {
  expectType<Equal<typeof untrusted, TaskPayload>>();
}

// A user's own generated models: a decoder bound to their table.
interface MyModels {
  Order: { id: string; quantity: number };
  Customer: { name: string };
}
declare const validate: GeneratedValidator;
const codec = createDecoder<MyModels>({ Order: validate, Customer: validate });
const order = codec.decode("Order", untrusted);
expectType<Equal<typeof order, MyModels["Order"]>>();
// @ts-expect-error not one of the user's models
codec.decode("Invoice", untrusted);
// @ts-expect-error the table must cover every model
createDecoder<MyModels>({ Order: validate });
if (codec.is("Customer", untrusted)) {
  expectType<Equal<typeof untrusted, { name: string }>>();
}
const isOrder = asTypeGuard<MyModels["Order"]>(validate);
if (isOrder(untrusted)) {
  expectType<Equal<typeof untrusted, MyModels["Order"]>>();
}

// `await using` closes the listener when the scope ends.
export async function scoped(): Promise<void> {
  await using listener = new RxonListener();
  expectType<Equal<typeof listener, RxonListener>>();
  // @ts-expect-error a plain object is not AsyncDisposable
  await using notDisposable = { close: async () => undefined };
  void notDisposable;
}

// A hub closes with `await using` too; `result()` takes an AbortSignal.
export async function scopedHub(): Promise<void> {
  await using hub = new Hub();
  expectType<Equal<typeof hub, Hub>>();
  const task = await hub.submit({ type: "echo" });
  const outcome = await task.result({ signal: AbortSignal.timeout(1000) });
  expectType<Equal<typeof outcome.status, string>>();
  // @ts-expect-error submit() resolves with a handle: there is no result() on the promise
  void hub.submit({ type: "echo" }).result();
}

// Generated validators are type guards for their models.
export function guarded(value: unknown): TaskPayload | undefined {
  if (validateTaskPayload(value)) {
    expectType<Equal<typeof value, TaskPayload>>();
    return value;
  }
  // @ts-expect-error not narrowed outside the guard
  const t: TaskPayload = value;
  void t;
  return undefined;
}
