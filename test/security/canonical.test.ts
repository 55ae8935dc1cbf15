import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { canonicalize, compareCodePoints, hashPayload, signingText } from "../../src/wire/canonical.js";

/** `depth` nested objects `{"n": …}` around `inner`. */
function nest(depth: number, inner: unknown): unknown {
  let value = inner;
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
}

function refusal(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected a refusal");
}

describe("canonicalize: depth (PROTOCOL.md 6.1 step 1)", () => {
  it("accepts a scalar at depth 100 and refuses one at depth 101, with a path", () => {
    expect(() => canonicalize(nest(100, 1))).not.toThrow();
    const error = refusal(() => canonicalize(nest(101, 1)));
    expect(error.details.reason).toBe("depth");
    expect(error.errors[0]!.path).toBe("/n".repeat(101));
  });

  it("accepts 101 containers when the innermost is empty or holds only null members", () => {
    expect(canonicalize(nest(100, {}))).toBe('{"n":'.repeat(100) + "{}" + "}".repeat(100));
    expect(() => canonicalize(nest(100, { x: null }))).not.toThrow();
    expect(() => canonicalize(nest(100, { a: [] }))).toThrow(ValidationError);
    expect(() => canonicalize(nest(101, {}))).toThrow(ValidationError);
  });

  it("counts nulls inside arrays but not null members", () => {
    expect(() => canonicalize(nest(100, { a: null }))).not.toThrow();
    expect(() => canonicalize(nest(100, [null]))).toThrow(ValidationError);
  });

  it("checks depth inside security even though security is not signed", () => {
    expect(() => signingText({ a: 1, security: nest(100, 1) })).toThrow(ValidationError);
    expect(signingText({ a: 1, security: nest(99, 1) })).toBe('{"a":1}');
  });

  it("turns a cycle into a depth refusal, not a stack overflow", () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(refusal(() => canonicalize(a)).details.reason).toBe("depth");
  });
});

describe("canonicalize: numbers", () => {
  it("writes integral doubles exactly and checks the 64-bit range", () => {
    expect(canonicalize([1.0, -0.0, 1e17, 1.2345678901234567e19, -(2 ** 63)])).toBe(
      "[1,0,100000000000000000,12345678901234567168,-9223372036854775808]",
    );
    expect(refusal(() => canonicalize([2 ** 64])).details.reason).toBe("integer_range");
    expect(refusal(() => canonicalize([-(2 ** 63) - 4096])).details.reason).toBe("integer_range");
  });

  it("keeps bigints exact and checks their range", () => {
    expect(canonicalize({ a: 2n ** 64n - 1n, b: -(2n ** 63n) })).toBe('{"a":18446744073709551615,"b":-9223372036854775808}');
    expect(refusal(() => canonicalize({ a: 2n ** 64n })).errors[0]!.path).toBe("/a");
    expect(() => canonicalize({ a: -(2n ** 63n) - 1n })).toThrow(ValidationError);
  });

  it("checks the range only on what is signed, but hashes everything", () => {
    const message = { a: 1, security: { n: 2n ** 70n }, extra: 1e30 };
    expect(signingText(message, { ignoreFields: ["extra"] })).toBe('{"a":1}');
    expect(() => hashPayload(message)).toThrow(ValidationError);
  });

  it("uses exponent form below 1e-5 only", () => {
    expect(canonicalize([0.00001, 0.0000099, 0.000001, -5e-6, 5e-324, 0.1, 1000000000000000.5])).toBe(
      "[0.00001,9.9e-6,1e-6,-5e-6,5e-324,0.1,1000000000000000.5]",
    );
  });

  it("drops NaN and infinities from objects and writes null in arrays", () => {
    expect(canonicalize({ a: Number.NaN, b: Infinity, c: [Number.NaN, -Infinity] })).toBe('{"c":[null,null]}');
    expect(canonicalize(Number.NaN)).toBe("null");
  });
});

describe("canonicalize: strings and keys", () => {
  it("escapes like the reference and JSON.stringify", () => {
    expect(canonicalize("a\"b\\c/\u0000\u001f\b\f\n\r\t\u007f\u2028é😀")).toBe(
      '"a\\"b\\\\c/\\u0000\\u001f\\b\\f\\n\\r\\t\u007f\u2028é😀"',
    );
  });

  it("refuses lone surrogates in values and in emitted keys", () => {
    const value = refusal(() => canonicalize({ a: ["ok", "x\ud800"] }));
    expect(value.details.reason).toBe("lone_surrogate");
    expect(value.errors[0]!.path).toBe("/a/1");
    expect(refusal(() => canonicalize({ ["k\udc00"]: 1 })).details.reason).toBe("lone_surrogate");
    // A key whose member is dropped is not written, so it is not refused either.
    expect(canonicalize({ ["k\udc00"]: null, b: 1 })).toBe('{"b":1}');
    // Inside security a lone surrogate is not written, so signing goes on.
    expect(signingText({ a: 1, security: { s: "\ud800" } })).toBe('{"a":1}');
  });

  it("sorts keys by code point, not by UTF-16 unit", () => {
    expect(canonicalize({ "\u{1F600}": 1, "\uff5e": 2, a: 3 })).toBe('{"a":3,"\uff5e":2,"\u{1F600}":1}');
    expect(canonicalize({ "x\u{1F600}": 1, "x\ue000": 2, x: 3 })).toBe('{"x":3,"x\ue000":2,"x\u{1F600}":1}');
    expect(compareCodePoints("\ue000", "\u{10000}")).toBeLessThan(0);
    expect(compareCodePoints("b", "a")).toBeGreaterThan(0);
    expect(compareCodePoints("a", "ab")).toBeLessThan(0);
  });

  it("sorts integer-like and many keys correctly", () => {
    const keys = Array.from({ length: 40 }, (_, i) => `k${(i * 7) % 40}`).concat(["10", "9", "1"]);
    const value = Object.fromEntries(keys.map((k) => [k, 1]));
    const order = [...keys].sort();
    expect(canonicalize(value)).toBe("{" + order.map((k) => `"${k}":1`).join(",") + "}");
  });

  it("gives the same text for objects with the same keys in a row (shape memo) and different ones", () => {
    const rows = [{ b: 1, a: 2 }, { b: 3, a: 4 }, { a: 5, b: 6 }, { b: 7, c: 8 }];
    expect(canonicalize(rows)).toBe('[{"a":2,"b":1},{"a":4,"b":3},{"a":5,"b":6},{"b":7,"c":8}]');
  });
});

describe("canonicalize: JS values", () => {
  it("treats undefined like null", () => {
    expect(canonicalize({ a: undefined, b: [undefined], c: 1 })).toBe('{"b":[null],"c":1}');
  });

  it("accepts null-prototype objects", () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    expect(canonicalize(value)).toBe('{"a":2,"b":1}');
  });

  it("refuses functions, symbols and class instances with a clear reason", () => {
    for (const bad of [() => 1, Symbol("s"), new Date(0), new Map(), new Uint8Array(2), new (class Point {})()]) {
      const error = refusal(() => canonicalize({ x: bad }));
      expect(error.details.reason).toBe("unsupported_type");
      expect(error.errors[0]!.path).toBe("/x");
    }
    expect(refusal(() => signingText({ a: 1, security: { d: new Date(0) } })).details.reason).toBe("unsupported_type");
  });

  it("removes only the top-level security and ignored fields", () => {
    const message = { a: { security: 1, extra: 2 }, security: { signature: "x" }, extra: 3 };
    expect(signingText(message, { ignoreFields: ["extra"] })).toBe('{"a":{"extra":2,"security":1}}');
    expect(signingText([{ security: 1 }])).toBe('[{"security":1}]');
    expect(canonicalize(message)).toBe('{"a":{"extra":2,"security":1},"extra":3,"security":{"signature":"x"}}');
  });
});

/** What the canonical form means as a value: nulls and NaN dropped from objects, integral floats as numbers. */
function normalize(value: unknown): unknown {
  if (typeof value === "number") return Number.isFinite(value) ? (Object.is(value, -0) ? 0 : value) : null;
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const n = normalize(v);
      if (n !== null && v !== undefined) out[k] = n;
    }
    return out;
  }
  return value;
}

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double({ min: -1e18, max: 1e18 }),
    fc.double({ min: -1e-4, max: 1e-4 }),
    fc.integer(),
    fc.string({ unit: "grapheme" }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: "grapheme", maxLength: 6 }), tie("value"), { maxKeys: 6 }),
  ),
})).value;

describe("canonicalize: properties", () => {
  it("is stable under key reordering", () => {
    fc.assert(
      fc.property(jsonValue, fc.integer(), (value, seed) => {
        expect(canonicalize(shuffleKeys(value, seed))).toBe(canonicalize(value));
      }),
      { numRuns: 300 },
    );
  });

  it("orders keys as their UTF-8 bytes", () => {
    const key = fc.string({ unit: "binary", maxLength: 4 });
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 30 }), (keys) => {
        const text = canonicalize(Object.fromEntries(keys.map((k) => [k, 0])));
        const order = Object.keys(JSON.parse(text) as object);
        const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
        // JSON.parse puts integer-like keys first, so compare the texts instead of the parsed order.
        expect(text).toBe("{" + expected.map((k) => `${JSON.stringify(k)}:0`).join(",") + "}");
        expect(order.length).toBe(keys.length);
      }),
      { numRuns: 300 },
    );
  });

  it("parses back to the normalized value", () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(JSON.parse(canonicalize(value))).toStrictEqual(JSON.parse(JSON.stringify(normalize(value))));
      }),
      { numRuns: 300 },
    );
  });
});

/** A deep copy with every object's keys inserted in a seed-dependent order. */
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  let s = seed >>> 0;
  for (let i = entries.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[k] = shuffleKeys(v, seed + 1);
  return out;
}
