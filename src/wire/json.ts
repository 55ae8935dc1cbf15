/**
 * Lossless, bounded JSON parsing for untrusted input.
 *
 * The native parser does the work; a bounded walk of its result then enforces the depth limit,
 * refuses `__proto__` keys and spots integers that a double cannot hold. Only texts that contain
 * such integers are parsed a second time by the exact parser below, which yields `bigint` for
 * them, so signatures over received messages match what the sender signed.
 */
import { Limit } from "../../generated/constants.js";
import { ValidationError } from "../errors.js";
import { jsonPointer } from "./pointer.js";

/** A JSON value as rxon handles it: integers beyond 2^53 may be `bigint`. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Limits applied by {@link parseJson} before and while parsing. */
export interface ParseOptions {
  /** Maximum nesting depth (root = 0), counted as the canonical form counts it. Default 100. */
  maxDepth?: number;
  /** Maximum size of the text in UTF-8 bytes. Default 1 MiB. */
  maxBytes?: number;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const I64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses JSON text (a string or UTF-8 bytes) into a {@link JsonValue}.
 *
 * Integer literals beyond ±(2^53 − 1) come back as exact `bigint`s when they fit the 64-bit range
 * the reference accepts ([-2^63, 2^64 − 1]); larger literals become doubles, as the reference reads
 * them. Throws {@link ValidationError} (details.reason `size`, `syntax`, `depth` or `forbidden_key`)
 * with a JSON pointer to the problem; never a stack overflow, whatever the nesting.
 */
export function parseJson(input: string | Uint8Array, options: ParseOptions = {}): JsonValue {
  const maxBytes = options.maxBytes ?? Limit.MAX_BODY_BYTES;
  const maxDepth = options.maxDepth ?? Limit.MAX_DEPTH;
  let text: string;
  if (typeof input === "string") {
    // UTF-8 needs at least one byte per UTF-16 unit and at most three, so most texts are decided without counting.
    if (input.length > maxBytes || (input.length * 3 > maxBytes && Buffer.byteLength(input, "utf8") > maxBytes)) {
      throw sizeError(maxBytes);
    }
    text = input;
  } else {
    if (input.byteLength > maxBytes) throw sizeError(maxBytes);
    try {
      text = utf8.decode(input);
    } catch (cause) {
      throw new ValidationError("Invalid JSON: input is not valid UTF-8", [{ path: "", message: "not valid UTF-8" }], {
        cause,
        details: { reason: "syntax" },
      });
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new ValidationError(`Invalid JSON: ${message}`, [{ path: "", message }], { cause, details: { reason: "syntax" } });
  }
  const walk = new Walk(maxDepth);
  walk.visit(value, 0);
  if (walk.inexact) value = new ExactParser(text).parseDocument();
  return value as JsonValue;
}

function sizeError(maxBytes: number): ValidationError {
  return new ValidationError(`JSON text exceeds ${maxBytes} bytes`, [{ path: "", message: `larger than ${maxBytes} bytes` }], {
    status: 413,
    details: { reason: "size", maxBytes },
  });
}

/** Depth and key checks over a parsed value; records whether any integer lost precision. */
class Walk {
  inexact = false;
  private readonly path: (string | number)[] = [];

  constructor(private readonly maxDepth: number) {}

  visit(value: unknown, depth: number): void {
    if (typeof value === "number") {
      if (depth > this.maxDepth) this.tooDeep();
      if ((value > MAX_SAFE || value < -MAX_SAFE) && Number.isInteger(value)) this.inexact = true;
      return;
    }
    if (value === null || typeof value !== "object") {
      if (depth > this.maxDepth) this.tooDeep();
      return;
    }
    if (Array.isArray(value)) {
      // An empty container one level below the limit is accepted, as in the canonical form.
      if (depth > this.maxDepth && value.length > 0) this.tooDeep();
      for (let i = 0; i < value.length; i++) {
        this.path.push(i);
        this.visit(value[i], depth + 1);
        this.path.pop();
      }
      return;
    }
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (key === "__proto__") {
        this.path.push(key);
        throw new ValidationError("Forbidden key \"__proto__\" in JSON object", [{ path: jsonPointer(this.path), message: "forbidden key" }], {
          details: { reason: "forbidden_key" },
        });
      }
      const member = record[key];
      // Null members disappear from the canonical form, so they do not count towards depth.
      if (member === null) continue;
      this.path.push(key);
      if (depth > this.maxDepth) this.tooDeep();
      this.visit(member, depth + 1);
      this.path.pop();
    }
  }

  private tooDeep(): never {
    throw new ValidationError(
      `JSON nesting exceeds the maximum depth of ${this.maxDepth}`,
      [{ path: jsonPointer(this.path), message: `deeper than ${this.maxDepth}` }],
      { details: { reason: "depth", maxDepth: this.maxDepth } },
    );
  }
}

/**
 * Exact recursive-descent parser, used only for texts the native parser has already accepted and
 * whose depth the walk has bounded, so it needs no error reporting of its own beyond sanity.
 */
class ExactParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    const value = this.value();
    this.ws();
    if (this.pos !== this.text.length) throw new Error("trailing characters");
    return value;
  }

  private ws(): void {
    const t = this.text;
    let c = t.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = t.charCodeAt(++this.pos);
  }

  private value(): JsonValue {
    this.ws();
    const t = this.text;
    const c = t.charCodeAt(this.pos);
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return this.string();
    if (c === 0x74) return this.literal("true", true);
    if (c === 0x66) return this.literal("false", false);
    if (c === 0x6e) return this.literal("null", null);
    return this.number();
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    this.pos += word.length;
    return value;
  }

  private object(): JsonObject {
    const out: JsonObject = {};
    this.pos++;
    this.ws();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      const key = this.string();
      this.ws();
      this.pos++; // ':'
      out[key] = this.value();
      this.ws();
      if (this.text.charCodeAt(this.pos++) === 0x7d) return out;
    }
  }

  private array(): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.ws();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      if (this.text.charCodeAt(this.pos++) === 0x5d) return out;
    }
  }

  private string(): string {
    const t = this.text;
    const start = this.pos;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else i++;
    }
    this.pos = i + 1;
    return escaped ? (JSON.parse(t.slice(start, i + 1)) as string) : t.slice(start + 1, i);
  }

  private number(): number | bigint {
    const t = this.text;
    const start = this.pos;
    let integral = true;
    for (;;) {
      const c = t.charCodeAt(this.pos);
      if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b) this.pos++;
      else if (c === 0x2e || c === 0x65 || c === 0x45) {
        integral = false;
        this.pos++;
      } else break;
    }
    const literal = t.slice(start, this.pos);
    const double = Number(literal);
    if (!integral || Number.isSafeInteger(double)) return double;
    const exact = BigInt(literal);
    // The reference reads integer literals outside the 64-bit range as doubles.
    return exact < I64_MIN || exact > U64_MAX ? double : exact;
  }
}
