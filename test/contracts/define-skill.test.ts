import Type from "typebox";
import { describe, expect, expectTypeOf, it } from "vitest";
import { defineSkill, type SkillContext } from "../../src/contracts/index.js";
import { ValidationError } from "../../src/errors.js";

const Input = Type.Object({ text: Type.String({ minLength: 1 }), max: Type.Optional(Type.Integer({ minimum: 1 })), mode: Type.Union([Type.Literal("short"), Type.Literal("long")]) });
const Output = Type.Object({ summary: Type.String() });

describe("defineSkill", () => {
  const skill = defineSkill({
    name: "summarize",
    version: "1.0.0",
    description: "Summarizes text",
    input: Input,
    output: Output,
    events: { partial: Type.Object({ chunk: Type.String() }) },
    handler: async (params, ctx) => {
      expectTypeOf(params.text).toEqualTypeOf<string>();
      expectTypeOf(params.max).toEqualTypeOf<number | undefined>();
      expectTypeOf(params.mode).toEqualTypeOf<"short" | "long">();
      expectTypeOf(ctx).toEqualTypeOf<SkillContext>();
      await ctx.progress(0.5);
      return { summary: params.text.slice(0, params.max ?? 10) };
    },
  });

  it("carries SkillInfo with plain JSON Schemas", () => {
    expect(skill.info).toMatchObject({ name: "summarize", type: "summarize", version: "1.0.0", description: "Summarizes text", schema_dialect: "json-schema" });
    expect(skill.info.input_schema).toEqual(JSON.parse(JSON.stringify(Input)));
    expect(Object.getOwnPropertyNames(skill.info.input_schema)).not.toContain("~kind");
    expect(JSON.stringify(skill.info)).toContain('"events_schema":{"partial"');
    expect(Object.isFrozen(skill)).toBe(true);
  });

  it("validates params and results against its schemas", () => {
    expect(skill.validateParams({ text: "hello", mode: "short" })).toEqual({ ok: true });
    expect(skill.validateParams({ text: "", mode: "short" }).ok).toBe(false);
    expect(skill.validateParams({ text: "x", mode: "medium" }).ok).toBe(false);
    expect(skill.validateResult({ summary: "h" })).toEqual({ ok: true });
    expect(skill.validateResult({}).ok).toBe(false);
  });

  it("runs the typed handler", async () => {
    const ctx: SkillContext = { signal: new AbortController().signal, taskId: "t", jobId: "j", progress: () => undefined, workerId: "w", task: { job_id: "j", task_id: "t", type: "summarize" } as SkillContext["task"] };
    expect(await skill.handler({ text: "hello world", mode: "long", max: 5 }, ctx)).toEqual({ summary: "hello" });
  });

  it("refuses bad names, versions and schemas at definition time", () => {
    const base = { version: "1", input: Input, output: Output, handler: () => ({ summary: "" }) };
    expect(() => defineSkill({ ...base, name: "bad name" })).toThrow(ValidationError);
    expect(() => defineSkill({ ...base, name: "ok\n" })).toThrow(/Invalid skill name/);
    expect(() => defineSkill({ ...base, name: "ok", type: "a.b" })).toThrow(/Invalid skill type/);
    expect(() => defineSkill({ ...base, name: "ok", version: "" })).toThrow(/version/);
    expect(() => defineSkill({ ...base, name: "ok", input: Type.Unsafe<string>({ type: "strng" }) })).toThrow(/cannot be compiled/);
  });

  it("handler types are enforced", () => {
    defineSkill({
      name: "typed",
      version: "1",
      input: Input,
      output: Output,
      // @ts-expect-error the output needs `summary: string`
      handler: () => ({ summary: 5 }),
    });
  });
});
