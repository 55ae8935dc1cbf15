import { describe, expect, it } from "vitest";
import { isValidIdentifier, validateIdentifier } from "../../src/contracts/index.js";
import { ValidationError } from "../../src/errors.js";

describe("10.3 identifiers", () => {
  it("letters, digits, underscore and hyphen", () => {
    for (const v of ["worker-1", "a", "A_b-9", "_", "-", "0"]) expect(isValidIdentifier(v), v).toBe(true);
  });
  it("empty, other characters and non-strings are invalid", () => {
    for (const v of ["", "a b", "a.b", "ä", "a/b", "a:b", "𝒳"]) expect(isValidIdentifier(v), v).toBe(false);
    for (const v of [null, undefined, 5, ["a"]]) expect(isValidIdentifier(v)).toBe(false);
  });
  it("no trailing-newline hole (stricter than the reference on purpose)", () => {
    expect(isValidIdentifier("worker-1\n")).toBe(false);
    expect(isValidIdentifier("w\n\n")).toBe(false);
    expect(isValidIdentifier("x\r")).toBe(false);
    expect(isValidIdentifier("\nx")).toBe(false);
    expect(isValidIdentifier("a\nb")).toBe(false);
  });
  it("validateIdentifier throws the reference's message", () => {
    expect(() => validateIdentifier("ok-1", "worker id")).not.toThrow();
    try {
      validateIdentifier("bad id", "worker id");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).message).toBe("Invalid worker id: 'bad id'. Must be alphanumeric, underscores, or hyphens only.");
      expect((err as ValidationError).code).toBe("INVALID_INPUT_ERROR");
    }
    expect(() => validateIdentifier("x".repeat(1000) + "!")).toThrow(/^Invalid identifier: 'x{128}…'/);
  });
});
