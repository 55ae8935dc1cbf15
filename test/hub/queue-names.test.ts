/**
 * Queue names carry a task's skill, requirement class and the verdicts of the input contracts its
 * params were checked against at submission; the dispatcher reads the verdicts back from the name.
 */
import { describe, expect, it } from "vitest";
import { contractKeyOf, queueNameOf, queueVerdicts } from "../../src/hub/dispatch.js";

describe("queue names", () => {
  it("carry contract verdicts in a stable order, read back exactly", () => {
    const a = new Map([
      ["bbbb", false],
      ["aaaa", true],
    ]);
    const b = new Map([
      ["aaaa", true],
      ["bbbb", false],
    ]);
    const name = queueNameOf("echo", { extra: { rack: 7 } }, a);
    expect(name).toBe(queueNameOf("echo", { extra: { rack: 7 } }, b));
    expect(name.startsWith(`${queueNameOf("echo", { extra: { rack: 7 } })}:`)).toBe(true);
    expect([...queueVerdicts(name)].sort()).toEqual([
      ["aaaa", true],
      ["bbbb", false],
    ]);
    expect(queueNameOf("echo", {}, new Map())).toBe("echo:*");
    expect(queueVerdicts("echo:*").size).toBe(0);
    expect(queueVerdicts(queueNameOf("echo", {})).size).toBe(0);
  });

  it("key a contract by its input schema and dialect only", () => {
    const schema = { type: "object", properties: { n: { type: "number" } } };
    const k = contractKeyOf({ name: "echo", input_schema: schema });
    expect(contractKeyOf({ name: "other", version: "2.0.0", input_schema: JSON.parse(JSON.stringify(schema)) as typeof schema })).toBe(k);
    expect(contractKeyOf({ name: "echo", input_schema: schema, schema_dialect: "pydantic" })).not.toBe(k);
    expect(contractKeyOf({ name: "echo", input_schema: { type: "object" } })).not.toBe(k);
    // A schema too deep to key gets no key (its tasks are then checked one by one).
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 200; i++) deep = { not: deep };
    expect(contractKeyOf({ name: "echo", input_schema: deep })).toBeUndefined();
  });
});
