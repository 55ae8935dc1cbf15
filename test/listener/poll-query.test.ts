/** Poll query parsing: a query string seen lately is parsed once and its (frozen) fields shared. */
import { describe, expect, it } from "vitest";
import { parsePollQuery } from "../../src/listener/index.js";

describe("parsePollQuery", () => {
  it("shares the frozen fields of a repeated query, and parses every distinct one right", () => {
    const a = parsePollQuery("timeout=30&available_skills=a,%20b,,");
    expect(a).toEqual({ pollTimeout: 30, availableSkills: ["a", "b"] });
    expect(parsePollQuery("timeout=30&available_skills=a,%20b,,")).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.availableSkills)).toBe(true);
    // Past the bound of remembered queries every answer is still the query's own.
    for (let i = 0; i < 600; i++) expect(parsePollQuery(`timeout=${i}&hot_skills=s${i}`)).toEqual({ pollTimeout: i, hotSkills: [`s${i}`] });
    expect(parsePollQuery("timeout=30&available_skills=a,%20b,,")).toEqual(a);
    expect(parsePollQuery(`timeout=1&available_skills=${"x".repeat(600)}`).availableSkills).toEqual(["x".repeat(600)]);
  });
});
