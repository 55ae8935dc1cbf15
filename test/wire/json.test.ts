import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { parseJson } from "../../src/wire/json.js";

function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).details.reason;
  }
  throw new Error("expected a ValidationError");
}

describe("parseJson", () => {
  it("parses ordinary JSON like JSON.parse", () => {
    const text = '{"a":[1,2.5,-0,"x\\u00e9",true,null,{}],"b":{"c":"d"}}';
    expect(parseJson(text)).toEqual(JSON.parse(text));
  });

  it("keeps integers beyond 2^53 exact as bigint, everywhere in the document", () => {
    const v = parseJson('{"a":9007199254740993,"b":[-9007199254740993,{"c":18446744073709551615}],"d":9007199254740991}') as Record<string, unknown>;
    expect(v.a).toBe(9007199254740993n);
    expect(v.b).toEqual([-9007199254740993n, { c: 18446744073709551615n }]);
    expect(v.d).toBe(9007199254740991);
  });

  it("reads integer literals outside the 64-bit range as doubles, as the reference does", () => {
    const v = parseJson('[18446744073709551616,-9223372036854775809,1e400]') as unknown[];
    expect(v[0]).toBe(18446744073709551616);
    expect(v[1]).toBe(-9223372036854775808);
    expect(v[2]).toBe(Infinity);
  });

  it("keeps big integers exact next to strings with escapes and floats", () => {
    const v = parseJson('{"s":"q\\"\\\\u","f":1.5e3,"i":12345678901234567890}') as Record<string, unknown>;
    expect(v).toEqual({ s: 'q"\\u', f: 1500, i: 12345678901234567890n });
  });

  it("parses UTF-8 bytes and refuses invalid UTF-8", () => {
    expect(parseJson(new TextEncoder().encode('{"k":"ключ"}'))).toEqual({ k: "ключ" });
    expect(reasonOf(() => parseJson(new Uint8Array([0x22, 0xff, 0x22])))).toBe("syntax");
  });

  it("refuses malformed JSON with a syntax error", () => {
    for (const bad of ["", "{", '{"a":}', "[1,]", "nul", "{'a':1}", '{"a":1}x']) {
      expect(reasonOf(() => parseJson(bad))).toBe("syntax");
    }
  });

  it("refuses __proto__ keys at any depth and leaves Object.prototype untouched", () => {
    for (const text of ['{"__proto__":{"polluted":1}}', '{"a":[{"__proto__":{"polluted":1}}]}', '{"\\u005f_proto__":{"polluted":1}}']) {
      let caught: ValidationError | undefined;
      try {
        parseJson(text);
      } catch (e) {
        caught = e as ValidationError;
      }
      expect(caught?.details.reason).toBe("forbidden_key");
      expect(caught?.errors[0]?.path.endsWith("/__proto__")).toBe(true);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("accepts constructor and prototype keys as ordinary data", () => {
    const v = parseJson('{"constructor":{"prototype":{"x":1}}}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(["constructor"]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  describe("depth, counted as the canonical form counts it (root = 0, limit 100)", () => {
    const nest = (n: number, inner: string): string => '{"n":'.repeat(n) + inner + "}".repeat(n);
    it("accepts 100 nested objects with a scalar innermost", () => {
      expect(() => parseJson(nest(100, "1"))).not.toThrow();
    });
    it("refuses 101 nested objects with a scalar innermost, pointing at the value", () => {
      let caught: ValidationError | undefined;
      try {
        parseJson(nest(101, "1"));
      } catch (e) {
        caught = e as ValidationError;
      }
      expect(caught?.details.reason).toBe("depth");
      expect(caught?.errors[0]?.path).toBe("/n".repeat(101));
    });
    it("accepts an empty container or null members one level below the limit", () => {
      expect(() => parseJson(nest(100, "{}"))).not.toThrow();
      expect(() => parseJson(nest(100, '{"x":null}'))).not.toThrow();
      expect(reasonOf(() => parseJson(nest(100, "[null]")))).toBe("depth");
    });
    it("refuses 10,000 nested arrays without overflowing the stack", () => {
      expect(reasonOf(() => parseJson("[".repeat(10_000) + "]".repeat(10_000)))).toBe("depth");
    });
    it("honours a configured depth", () => {
      expect(reasonOf(() => parseJson("[[[1]]]", { maxDepth: 2 }))).toBe("depth");
      expect(() => parseJson("[[1]]", { maxDepth: 2 })).not.toThrow();
    });
  });

  describe("size", () => {
    it("refuses texts over the limit before parsing, with status 413", () => {
      let caught: ValidationError | undefined;
      try {
        parseJson(`"${"x".repeat(100)}"`, { maxBytes: 50 });
      } catch (e) {
        caught = e as ValidationError;
      }
      expect(caught?.details.reason).toBe("size");
      expect(caught?.status).toBe(413);
    });
    it("counts UTF-8 bytes, not UTF-16 units", () => {
      const text = `"${"я".repeat(30)}"`; // 32 units, 62 bytes
      expect(reasonOf(() => parseJson(text, { maxBytes: 40 }))).toBe("size");
      expect(parseJson(text, { maxBytes: 62 })).toBe("я".repeat(30));
    });
    it("defaults to 1 MiB", () => {
      expect(reasonOf(() => parseJson(`"${"x".repeat(1 << 20)}"`))).toBe("size");
    });
  });
});
