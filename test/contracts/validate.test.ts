import { describe, expect, it } from "vitest";
import { ContractValidator, contractError, validateEvent, validateParams, validateResult, validateSchema } from "../../src/contracts/index.js";
import { ValidationError } from "../../src/errors.js";
import { parseJson } from "../../src/wire/json.js";

const input = {
  type: "object",
  title: "SummarizeInput",
  properties: {
    id: { type: "string", format: "uuid" },
    text: { type: "string", minLength: 1 },
    lang: { enum: ["en", "de"] },
    max: { type: "integer", minimum: 1 },
    when: { type: "string", format: "date-time" },
    tags: { type: "array", items: { type: "string" } },
  },
  required: ["id", "text"],
  additionalProperties: false,
};
const skill = { name: "summarize", input_schema: input, output_schema: { type: "object", properties: { summary: { type: "string" } }, required: ["summary"] } };
const good = { id: "3f0c2b1e-0000-4000-8000-000000000000", text: "hi", lang: "en", max: 3, when: "2024-01-01T00:00:00Z", tags: ["a"] };

describe("validateParams / validateResult", () => {
  it("accepts valid params and results", () => {
    expect(validateParams(skill, good)).toEqual({ ok: true });
    expect(validateResult(skill, { summary: "x" })).toEqual({ ok: true });
  });

  it("refuses with JSON-pointer paths", () => {
    const cases: [unknown, string][] = [
      [{ ...good, id: "nope" }, "/id"],
      [{ ...good, max: 0 }, "/max"],
      [{ ...good, max: 1.5 }, "/max"],
      [{ ...good, lang: "fr" }, "/lang"],
      [{ ...good, when: "yesterday" }, "/when"],
      [{ ...good, tags: ["a", 1] }, "/tags/1"],
      [{ ...good, extra: 1 }, "/extra"],
      [{ text: "hi" }, "/id"],
      ["text", ""],
    ];
    for (const [params, path] of cases) {
      const r = validateParams(skill, params);
      expect(r.ok, JSON.stringify(params)).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe("invalid");
        expect(r.errors[0]?.path).toBe(path);
        expect(r.errors[0]?.message.length).toBeGreaterThan(0);
      }
    }
    expect(validateResult(skill, {}).ok).toBe(false);
  });

  it("an absent schema accepts anything; absent params are {}", () => {
    expect(validateParams({ name: "x" }, { anything: 1 })).toEqual({ ok: true });
    expect(validateResult({ name: "x" }, 5)).toEqual({ ok: true });
    expect(validateParams({ name: "x", input_schema: { type: "object", required: ["a"] } }, undefined).ok).toBe(false);
    expect(validateParams({ name: "x", input_schema: { type: "object" } }, undefined).ok).toBe(true);
  });

  it("required members are own members, never inherited ones", () => {
    const s = { name: "x", input_schema: { type: "object", required: ["constructor", "toString"] } };
    expect(validateParams(s, {}).ok).toBe(false);
    expect(validateParams(s, { constructor: 1, toString: 2 }).ok).toBe(true);
  });

  it("another dialect is reported as unsupported, not accepted", () => {
    const r = validateParams({ name: "x", schema_dialect: "pydantic-v2", input_schema: { type: "string" } }, 5);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe("unsupported_dialect");
      expect(r.errors[0]?.message).toContain("pydantic-v2");
    }
    expect(validateParams({ name: "x", schema_dialect: "json-schema", input_schema: { type: "string" } }, "s").ok).toBe(true);
  });

  it("schemas ajv cannot compile are a clear result, not a throw", () => {
    for (const schema of [{ type: "strng" }, { $ref: "https://example.com/remote.json" }, { $ref: "#/$defs/missing" }, { pattern: "(" }, { minimum: "x" }]) {
      const r = validateSchema(schema, 1);
      expect(r.ok, JSON.stringify(schema)).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe("invalid_schema");
        expect(r.errors[0]?.message).toMatch(/^schema cannot be compiled/);
      }
    }
    expect(validateSchema(7, 1)).toMatchObject({ ok: false, reason: "invalid_schema" });
    expect(validateSchema(true, 1)).toEqual({ ok: true });
    expect(validateSchema(false, 1)).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("real-world schemas with unknown keywords and older $schema compile", () => {
    const pydantic = {
      $schema: "http://json-schema.org/draft-07/schema#",
      title: "Model",
      type: "object",
      properties: { kind: { title: "Kind", type: "string", examples: ["a"], "x-order": 1 }, n: { anyOf: [{ type: "integer" }, { type: "null" }], default: null } },
      required: ["kind"],
      discriminator: { propertyName: "kind" },
    };
    expect(validateSchema(pydantic, { kind: "a", n: null })).toEqual({ ok: true });
    expect(validateSchema(pydantic, { kind: 1 }).ok).toBe(false);
  });

  it("$defs and $ref inside a schema, duplicate $id across skills", () => {
    const a = { $id: "https://x/s.json", $defs: { n: { type: "integer" } }, type: "object", properties: { n: { $ref: "#/$defs/n" } } };
    const b = { $id: "https://x/s.json", type: "string" };
    expect(validateSchema(a, { n: 1 })).toEqual({ ok: true });
    expect(validateSchema(a, { n: "1" }).ok).toBe(false);
    expect(validateSchema(b, "s")).toEqual({ ok: true });
    expect(validateSchema(b, 1).ok).toBe(false);
  });

  it("nulls in schemas are meaningful: {const: null} is not {}", () => {
    expect(validateSchema({}, 1)).toEqual({ ok: true });
    expect(validateSchema({ const: null }, 1).ok).toBe(false);
    expect(validateSchema({ const: null }, null)).toEqual({ ok: true });
  });

  it("integers beyond 2^53 parsed losslessly still validate", () => {
    const data = parseJson('{"n": 12345678901234567890}') as Record<string, unknown>;
    expect(typeof data.n).toBe("bigint");
    expect(validateSchema({ type: "object", properties: { n: { type: "integer", minimum: 0 } } }, data)).toEqual({ ok: true });
    expect(validateSchema({ type: "object", properties: { n: { type: "integer", maximum: 10 } } }, data).ok).toBe(false);
  });

  it("events are checked against events_schema; undeclared types pass", () => {
    const s = { name: "x", events_schema: { progress: { type: "object", required: ["pct"] } } };
    expect(validateEvent(s, "progress", { pct: 1 })).toEqual({ ok: true });
    expect(validateEvent(s, "progress", {}).ok).toBe(false);
    expect(validateEvent(s, "other", {})).toEqual({ ok: true });
    expect(validateEvent(s, "constructor", {})).toEqual({ ok: true });
  });

  it("caches by content: equal schemas from different objects, bounded and still correct after eviction", () => {
    const v = new ContractValidator({ cacheSize: 4 });
    for (let i = 0; i < 20; i++) {
      const schema = JSON.parse(`{"type":"object","properties":{"n":{"type":"integer","maximum":${i}}}}`) as object;
      expect(v.validate(schema, { n: i }).ok).toBe(true);
      expect(v.validate(schema, { n: i + 1 }).ok).toBe(false);
      // A fresh but equal object shares the compiled validator.
      expect(v.validate(JSON.parse(JSON.stringify(schema)) as object, { n: i + 1 }).ok).toBe(false);
    }
  });

  it("refuses over-large and over-deep schemas without compiling", () => {
    const v = new ContractValidator({ maxSchemaChars: 1000 });
    const big = { enum: Array.from({ length: 500 }, (_, i) => `value-${i}`) };
    expect(v.validate(big, "value-1")).toMatchObject({ ok: false, reason: "invalid_schema" });
    let deep: Record<string, unknown> = { type: "object" };
    for (let i = 0; i < 150; i++) deep = { type: "object", properties: { a: deep } };
    expect(v.validate(deep, {})).toMatchObject({ ok: false, reason: "invalid_schema" });
    const cyclic: Record<string, unknown> = { type: "object" };
    cyclic.properties = { self: cyclic };
    expect(v.validate(cyclic, {})).toMatchObject({ ok: false, reason: "invalid_schema" });
  });

  it("recursive schemas over absurdly deep data refuse instead of throwing", () => {
    const tree = { $defs: { t: { type: "object", properties: { c: { $ref: "#/$defs/t" } } } }, $ref: "#/$defs/t" };
    let data: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) data = { c: data };
    expect(validateSchema(tree, { c: { c: {} } })).toEqual({ ok: true });
    expect(validateSchema(tree, data)).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("contractError turns a failure into a ValidationError", () => {
    expect(contractError({ ok: true })).toBeUndefined();
    const err = contractError(validateParams(skill, { text: "hi" }), "bad params");
    expect(err).toBeInstanceOf(ValidationError);
    expect(err?.code).toBe("INVALID_INPUT_ERROR");
    expect(err?.errors[0]?.path).toBe("/id");
    expect(contractError(validateResult(skill, {}), "bad result", "CONTRACT_VIOLATION_ERROR")?.code).toBe("CONTRACT_VIOLATION_ERROR");
  });
});
