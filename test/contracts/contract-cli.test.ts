import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { SkillInfo } from "../../generated/types.js";
import { contractCommand } from "../../src/cli/contract.js";
import { ContractValidator } from "../../src/contracts/index.js";

const fixture = fileURLToPath(new URL("../fixtures/contract/skills.ts", import.meta.url));
const examples = JSON.parse(readFileSync(new URL("../fixtures/contract/examples.json", import.meta.url), "utf8")) as Record<
  string,
  { good: unknown[]; bad: unknown[]; goodResults?: unknown[]; badResults?: unknown[] }
>;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await contractCommand(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

describe("rxon contract", () => {
  let skills: SkillInfo[];
  beforeAll(async () => {
    const r = await run(fixture);
    expect(r.code, r.err).toBe(0);
    skills = JSON.parse(r.out) as SkillInfo[];
  }, 30_000);

  it("describes every exported function, in file order", () => {
    expect(skills.map((s) => s.name)).toEqual(["summarize", "countNodes", "ping"]);
    expect(skills[0]).toMatchObject({ description: "Summarizes a text.", schema_dialect: "json-schema" });
    expect(skills[2]).toEqual({ name: "ping", schema_dialect: "json-schema" });
  });

  it("infers the shapes: optional fields, enums, literals, unions with null, Date, records, tuples", () => {
    const input = skills[0]!.input_schema as { properties: Record<string, unknown>; required: string[]; additionalProperties: unknown };
    expect(input.required).toEqual(["text", "format", "style", "tags", "source", "weights", "pair", "strict", "seed"]);
    expect(input.additionalProperties).toBe(false);
    expect(input.properties.text).toEqual({ type: "string", description: "Text to summarize." });
    expect(input.properties.format).toEqual({ type: "string", enum: ["text", "markdown"] });
    expect(input.properties.level).toEqual({ type: "integer", enum: [1, 2] });
    expect(input.properties.style).toEqual({ type: "string", enum: ["short", "long"] });
    expect(input.properties.since).toEqual({ type: "string", format: "date-time" });
    expect(input.properties.weights).toEqual({ type: "object", additionalProperties: { type: "number" } });
    expect(input.properties.seed).toEqual({ type: "integer", const: 42 });
    expect(input.properties.strict).toEqual({ type: "boolean" });
  });

  it("printed schemas accept the fixture's good examples and reject the bad ones", () => {
    const v = new ContractValidator();
    for (const skill of skills) {
      const ex = examples[skill.name];
      if (!ex) continue;
      for (const good of ex.good) expect(v.validateParams(skill, good), JSON.stringify(good)).toEqual({ ok: true });
      for (const bad of ex.bad) expect(v.validateParams(skill, bad).ok, JSON.stringify(bad)).toBe(false);
      for (const good of ex.goodResults ?? []) expect(v.validateResult(skill, good)).toEqual({ ok: true });
      for (const bad of ex.badResults ?? []) expect(v.validateResult(skill, bad).ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it("recursive types go through $defs", () => {
    const input = skills[1]!.input_schema as { $defs?: Record<string, unknown> };
    expect(Object.keys(input.$defs ?? {})).toEqual(["Tree"]);
  });

  it("--export, --name and --version select and label one skill", async () => {
    const r = await run(fixture, "--export", "summarize", "--name", "summarize-v2", "--version=2.0.0");
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out) as SkillInfo;
    expect(s).toMatchObject({ name: "summarize-v2", version: "2.0.0" });
    const t = await run(fixture, "--export", "Source", "--name", "source");
    expect(t.code, t.err).toBe(0);
    expect((JSON.parse(t.out) as SkillInfo).input_schema).toMatchObject({ type: "object", required: ["uri"] });
  });

  it("accepts write()-style sinks and resolves the file against io.cwd", async () => {
    let out = "";
    const sink = { write: (s: string) => (out += s) };
    const code = await contractCommand(["skills.ts", "--export", "countNodes"], { stdout: sink, stderr: sink, cwd: fileURLToPath(new URL("../fixtures/contract/", import.meta.url)) });
    expect(code, out).toBe(0);
    expect((JSON.parse(out) as SkillInfo).name).toBe("countNodes");
  }, 30_000);

  it("usage and failures give exit codes 2 and 1 with a message", async () => {
    expect((await run()).code).toBe(2);
    expect((await run(fixture, "--bogus")).code).toBe(2);
    expect((await run(fixture, "--name")).code).toBe(2);
    expect((await run("--help")).code).toBe(0);
    const missing = await run(fixture, "--export", "nope");
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no export named 'nope'");
    const ambiguous = await run(fixture, "--name", "x");
    expect(ambiguous.code).toBe(1);
    const badName = await run(fixture, "--export", "summarize", "--name", "bad name");
    expect(badName.code).toBe(1);
    expect(badName.err).toContain("Invalid skill name");
    const noFile = await run("/nonexistent/file.ts");
    expect(noFile.code).toBe(1);
  }, 30_000);
});
