import { describe, expect, it } from "vitest";
import { matchProperties, propertySatisfies, valuesEqual } from "../../src/matching/index.js";

const ref = { parity: "reference" as const };

describe("8.1 property comparison", () => {
  it("missing or null worker value never matches", () => {
    expect(matchProperties({}, { vram_gb: 8 })).toBe(false);
    expect(matchProperties({ vram_gb: null }, { vram_gb: 8 })).toBe(false);
    expect(matchProperties(undefined, { vram_gb: 8 })).toBe(false);
    expect(matchProperties({}, { os: "linux" }, ref)).toBe(false);
  });

  it("numbers: worker >= requirement", () => {
    expect(propertySatisfies(16, 8)).toBe(true);
    expect(propertySatisfies(8, 8)).toBe(true);
    expect(propertySatisfies(7.5, 8)).toBe(false);
    expect(propertySatisfies(8.5, 8)).toBe(true);
    expect(propertySatisfies(-1, 0)).toBe(false);
  });

  it("numbers: bigint and number compare by value", () => {
    expect(propertySatisfies(2n ** 60n, 8)).toBe(true);
    expect(propertySatisfies(8, 2n ** 60n)).toBe(false);
    expect(propertySatisfies(2n ** 60n + 1n, 2n ** 60n)).toBe(true);
    expect(propertySatisfies(9, 8n)).toBe(true);
    expect(propertySatisfies(8.5, 9n)).toBe(false);
    expect(propertySatisfies(9n, 8.5)).toBe(true);
    expect(valuesEqual(1n, 1)).toBe(true);
    expect(valuesEqual(1n, 1.5)).toBe(false);
    expect(valuesEqual(1, 1.0)).toBe(true);
  });

  it("a string never meets or equals a number", () => {
    expect(propertySatisfies("16GB", 8)).toBe(false);
    expect(propertySatisfies("16", 16)).toBe(false);
    expect(propertySatisfies(16, "16")).toBe(false);
    expect(valuesEqual("1", 1)).toBe(false);
    expect(propertySatisfies("16GB", 8, "reference")).toBe(false);
  });

  it("requirement array: intersection with a worker array, membership of a scalar", () => {
    expect(propertySatisfies(["cuda", "rocm"], ["rocm", "metal"])).toBe(true);
    expect(propertySatisfies(["cuda"], ["rocm", "metal"])).toBe(false);
    expect(propertySatisfies("linux", ["linux", "darwin"])).toBe(true);
    expect(propertySatisfies("windows", ["linux", "darwin"])).toBe(false);
    expect(propertySatisfies(16, [8, 16])).toBe(true);
  });

  it("an empty requirement array never matches", () => {
    expect(propertySatisfies(["a"], [])).toBe(false);
    expect(propertySatisfies("a", [])).toBe(false);
    expect(propertySatisfies([], [])).toBe(false);
  });

  it("worker array, scalar requirement: inclusion, not >=", () => {
    expect(propertySatisfies([16, 32], 8)).toBe(false);
    expect(propertySatisfies([16, 32], 16)).toBe(true);
    expect(propertySatisfies(["a", "b"], "b")).toBe(true);
  });

  it("otherwise deep equality (objects by keys, not order)", () => {
    expect(propertySatisfies({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(propertySatisfies({ a: 1, b: [1, 2] }, { b: [2, 1], a: 1 })).toBe(false);
    expect(propertySatisfies({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(propertySatisfies({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(propertySatisfies("linux", "linux")).toBe(true);
    expect(propertySatisfies("Linux", "linux")).toBe(false);
    expect(propertySatisfies({ a: 1.0 }, { a: 1 })).toBe(true);
  });

  it("all keys must match; absent or empty requirement matches", () => {
    expect(matchProperties({ a: 2, b: "x" }, { a: 1, b: "x" })).toBe(true);
    expect(matchProperties({ a: 2, b: "x" }, { a: 1, b: "y" })).toBe(false);
    expect(matchProperties({ a: 2 }, {})).toBe(true);
    expect(matchProperties({ a: 2 }, undefined)).toBe(true);
    expect(matchProperties(undefined, {})).toBe(true);
  });

  it("a null requirement value is never met", () => {
    expect(matchProperties({ a: 1 }, { a: null })).toBe(false);
  });

  it("inherited members are not worker properties", () => {
    expect(matchProperties({}, { constructor: { name: "Object" } })).toBe(false);
    expect(matchProperties({}, { toString: [] })).toBe(false);
    const req = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
    expect(matchProperties({}, req)).toBe(false);
    expect(matchProperties(JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>, req)).toBe(true);
  });

  describe("booleans (rxon: not numbers)", () => {
    it("a boolean requirement needs the same boolean", () => {
      expect(propertySatisfies(true, true)).toBe(true);
      expect(propertySatisfies(false, false)).toBe(true);
      expect(propertySatisfies(true, false)).toBe(false);
      expect(propertySatisfies(5, true)).toBe(false);
      expect(propertySatisfies(1, true)).toBe(false);
      expect(propertySatisfies(0, false)).toBe(false);
    });
    it("a number requirement is not met by a boolean", () => {
      expect(propertySatisfies(true, 1)).toBe(false);
      expect(propertySatisfies(false, 0)).toBe(false);
      expect(propertySatisfies([1, 2], true)).toBe(false);
      expect(valuesEqual(true, 1)).toBe(false);
      expect(valuesEqual([true], [1])).toBe(false);
    });
  });

  describe("booleans (reference parity: Python semantics)", () => {
    it("requirement false is met by true, 0 and 5", () => {
      for (const w of [true, 0, 5, false]) expect(propertySatisfies(w, false, "reference")).toBe(true);
    });
    it("requirement true is met by true, 1, 5 but not false or 0", () => {
      for (const w of [true, 1, 5]) expect(propertySatisfies(w, true, "reference")).toBe(true);
      for (const w of [false, 0]) expect(propertySatisfies(w, true, "reference")).toBe(false);
    });
    it("requirement 1 is met by true", () => {
      expect(propertySatisfies(true, 1, "reference")).toBe(true);
      expect(propertySatisfies(false, 1, "reference")).toBe(false);
    });
    it("worker [1, 2] meets requirement true; equality treats true as 1 deep inside", () => {
      expect(propertySatisfies([1, 2], true, "reference")).toBe(true);
      expect(valuesEqual({ a: [true] }, { a: [1] }, "reference")).toBe(true);
      expect(valuesEqual(false, 0, "reference")).toBe(true);
      expect(valuesEqual("1", true, "reference")).toBe(false);
    });
    it("matchProperties honours the option", () => {
      expect(matchProperties({ gpu: 1 }, { gpu: true }, ref)).toBe(true);
      expect(matchProperties({ gpu: 1 }, { gpu: true })).toBe(false);
    });
  });
});
