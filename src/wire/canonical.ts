/**
 * Canonical JSON (PROTOCOL.md 6.1): the one text that is signed, verified and hashed.
 *
 * Written as a single pass that serializes while it normalizes, without building a normalized
 * copy: signing sits on the hot path of every message. Refusals (too deep, integer out of the
 * 64-bit range, lone surrogate, non-JSON value) are thrown as {@link ValidationError}s; the fast
 * pass carries no path bookkeeping, so on a refusal the value is walked a second time with paths
 * tracked to say where the problem is.
 */
import { createHash } from "node:crypto";
import { Limit } from "../../generated/constants.js";
import { ValidationError } from "../errors.js";
import { jsonPointer } from "./pointer.js";

/** Options of {@link signingText}. */
export interface SigningTextOptions {
  /** Top-level members left out of the signed text besides `security` (e.g. `bubbling_chain` for events). */
  ignoreFields?: readonly string[];
}

/** Why a value cannot be canonicalized; found in `ValidationError.details.reason`. */
export type CanonicalRefusal = "depth" | "integer_range" | "lone_surrogate" | "unsupported_type";

const MAX_DEPTH = Limit.MAX_DEPTH;
const I64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;
const F64_I64_MIN = -9223372036854775808; // -2^63, exact as a double
const F64_2POW64 = 18446744073709551616; // 2^64, exact as a double: integral doubles must stay below it
const NO_IGNORED: readonly string[] = [];

/** Characters that stop the copy-as-is fast path for strings: quote, backslash, controls, surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Only keys with surrogates sort differently by code point than by UTF-16 unit. */
const HAS_SURROGATE = /[\ud800-\udfff]/;

/**
 * Escaped `"key":` texts of recently seen keys. Keys repeat across messages (they are field names),
 * and escaping is a pure function of the key, so caching is safe; size and key length are capped so
 * that hostile inputs cannot grow it. Keys with surrogates are never cached.
 */
const keyCache = new Map<string, string>();
const KEY_CACHE_MAX = 4096;
const KEY_CACHE_MAX_KEY_LENGTH = 128;

type Segment = string | number;

/** Internal refusal of the fast pass; turned into a located ValidationError by the caller. */
class Refusal {
  constructor(
    readonly reason: CanonicalRefusal,
    readonly message: string,
    readonly path: readonly Segment[] | undefined,
  ) {}
}

/** String.prototype.isWellFormed exists from Node 20 on but is typed only from lib ES2024. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * The canonical text of `value` with nothing removed (what the reference hashes in
 * `calculate_dict_hash`). Throws {@link ValidationError} with `details.reason` one of
 * {@link CanonicalRefusal} when the reference would refuse the value.
 */
export function canonicalize(value: unknown): string {
  return run(value, false, NO_IGNORED);
}

/**
 * The text that is signed (PROTOCOL.md 6.1 steps 1–3): the canonical text of `message` with the
 * top-level `security` member and every top-level name in `ignoreFields` removed. Removed members
 * are still checked for depth (the reference normalizes them before removing them), but not for
 * integer range or lone surrogates (the reference checks those only while writing).
 */
export function signingText(message: unknown, options: SigningTextOptions = {}): string {
  return run(message, true, options.ignoreFields ?? NO_IGNORED);
}

/** Lowercase hex SHA-256 of `canonicalize(value)` (the reference's `calculate_dict_hash`). */
export function hashPayload(value: unknown): string {
  return createHash("sha256").update(canonicalize(value), "utf8").digest("hex");
}

/**
 * The signing text of `message` (as {@link signingText} without ignored names) cut where a
 * top-level `security` member sorts: `before` and `after` are the members on either side, each
 * comma-joined without braces. The signing text is `{before,after}`, and the canonical text of the
 * message with `security` attached is `{before,"security":…,after}` (empty parts left out), so a
 * signer serializes the message once for both. Throws like {@link signingText}.
 */
export function splitSigningText(message: Record<string, unknown>): { readonly before: string; readonly after: string } {
  if (!isPlainObject(message)) throw new TypeError("splitSigningText needs a plain object");
  return located((path) => writeRootSplit(message, path));
}

/** Joins comma-separated member lists into an object text, leaving out empty ones. */
export function joinMembers(...parts: string[]): string {
  let out = "{";
  for (const part of parts) {
    if (part === "") continue;
    out += out.length === 1 ? part : "," + part;
  }
  return out + "}";
}

function run(value: unknown, signing: boolean, ignored: readonly string[]): string {
  return located((path) => (signing && isPlainObject(value) ? writeRoot(value, ignored, path) : writeValue(value, 0, path)));
}

/** Runs `walk` without path bookkeeping; on a refusal runs it again with paths, to say where. */
function located<T>(walk: (path: Segment[] | undefined) => T): T {
  try {
    return walk(undefined);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
  }
  // Second walk with paths, only to report where the first one failed.
  let refusal: Refusal | undefined;
  try {
    walk([]);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    refusal = error;
  }
  // Both walks see the same value unless a getter changes its answer between them.
  refusal ??= new Refusal("unsupported_type", "Value changed while being canonicalized", []);
  const pointer = jsonPointer(refusal.path ?? []);
  return throwRefusal(refusal, pointer);
}

function throwRefusal(refusal: Refusal, pointer: string): never {
  const details: Record<string, unknown> = { reason: refusal.reason, path: pointer };
  if (refusal.reason === "depth") details.maxDepth = MAX_DEPTH;
  throw new ValidationError(`Cannot canonicalize value: ${refusal.message}`, [{ path: pointer, message: refusal.message }], {
    details,
  });
}

function refuse(reason: CanonicalRefusal, message: string, path: Segment[] | undefined): never {
  throw new Refusal(reason, message, path === undefined ? undefined : [...path]);
}

function tooDeep(path: Segment[] | undefined): never {
  return refuse("depth", `Maximum recursion depth (${MAX_DEPTH}) exceeded`, path);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Writes the root object of a signed message, skipping `security` and the ignored names. */
function writeRoot(obj: Record<string, unknown>, ignored: readonly string[], path: Segment[] | undefined): string {
  const { sorted, texts, commaTexts } = shapeOf(obj, 0);
  let out = "{";
  for (let i = 0; i < sorted.length; i++) {
    const key = sorted[i]!;
    const member = obj[key];
    if (member === null || member === undefined) continue;
    if (path) path.push(key);
    if (key === "security" || ignored.includes(key)) checkOnly(member, 1, path);
    else {
      const text = writeMember(member, 1, path);
      if (text !== undefined) out += emittedKey(out.length === 1 ? texts[i] : commaTexts[i], path) + text;
    }
    if (path) path.pop();
  }
  return out + "}";
}

/** {@link writeRoot} without ignored names, its members split at where `security` sorts. */
function writeRootSplit(obj: Record<string, unknown>, path: Segment[] | undefined): { before: string; after: string } {
  const { sorted, texts, commaTexts } = shapeOf(obj, 0);
  let before = "";
  let after = "";
  for (let i = 0; i < sorted.length; i++) {
    const key = sorted[i]!;
    const member = obj[key];
    if (member === null || member === undefined) continue;
    if (path) path.push(key);
    if (key === "security") checkOnly(member, 1, path);
    else {
      const text = writeMember(member, 1, path);
      // "security" is ASCII: UTF-16 order and code point order agree on which side a key falls.
      if (text !== undefined) {
        if (key < "security") before += emittedKey(before === "" ? texts[i] : commaTexts[i], path) + text;
        else after += emittedKey(after === "" ? texts[i] : commaTexts[i], path) + text;
      }
    }
    if (path) path.pop();
  }
  return { before, after };
}

/** Canonical text of any value at `depth`; a dropped value (NaN) writes as `null`, as in arrays. */
function writeValue(value: unknown, depth: number, path: Segment[] | undefined): string {
  if (depth > MAX_DEPTH) tooDeep(path);
  switch (typeof value) {
    case "string":
      return writeString(value, path);
    case "number":
      return writeNumber(value, path);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      if (value < I64_MIN || value > U64_MAX) refuse("integer_range", "Integer exceeds 64-bit range", path);
      return value.toString();
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return writeArray(value, depth, path);
      return writeObject(value as Record<string, unknown>, depth, path);
    case "undefined":
      return "null";
    default:
      return refuse("unsupported_type", `A ${typeof value} is not a JSON value`, path);
  }
}

/** Canonical text of an object member, or undefined when the member disappears (NaN, ±Infinity). */
function writeMember(member: unknown, depth: number, path: Segment[] | undefined): string | undefined {
  if (typeof member === "number" && !Number.isFinite(member)) {
    // The reference normalizes the member (depth check included) before it drops the resulting null.
    if (depth > MAX_DEPTH) tooDeep(path);
    return undefined;
  }
  return writeValue(member, depth, path);
}

function writeObject(obj: Record<string, unknown>, depth: number, path: Segment[] | undefined): string {
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) refuseInstance(obj, path);
  const { sorted, texts, commaTexts } = shapeOf(obj, depth);
  let out = "{";
  const next = depth + 1;
  for (let i = 0; i < sorted.length; i++) {
    const key = sorted[i]!;
    const member = obj[key];
    if (member === null || member === undefined) continue;
    if (path) path.push(key);
    if (typeof member !== "number" || member - member === 0) {
      out += emittedKey(out.length === 1 ? texts[i] : commaTexts[i], path) + writeValue(member, next, path);
    } else if (next > MAX_DEPTH) {
      // NaN and ±Infinity members disappear, but the reference checks their depth first.
      tooDeep(path);
    }
    if (path) path.pop();
  }
  return out + "}";
}

function refuseInstance(obj: object, path: Segment[] | undefined): never {
  const name = (obj as { constructor?: { name?: unknown } }).constructor?.name;
  const what = typeof name === "string" && name !== "" ? name : "a class";
  return refuse("unsupported_type", `An instance of ${what} is not a JSON value (convert it first)`, path);
}

function writeArray(arr: readonly unknown[], depth: number, path: Segment[] | undefined): string {
  const n = arr.length;
  if (n === 0) return "[]";
  const next = depth + 1;
  if (path) path.push(0);
  let out = "[" + writeValue(arr[0], next, path);
  for (let i = 1; i < n; i++) {
    if (path) path[path.length - 1] = i;
    out += "," + writeValue(arr[i], next, path);
  }
  if (path) path.pop();
  return out + "]";
}

function writeString(s: string, path: Segment[] | undefined): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  if (!isWellFormed(s)) refuse("lone_surrogate", "String contains a lone surrogate (not valid UTF-8)", path);
  // For well-formed strings JSON.stringify escapes exactly as the reference does (PROTOCOL.md 6.1).
  return JSON.stringify(s);
}

function writeNumber(x: number, path: Segment[] | undefined): string {
  if (Number.isInteger(x)) {
    // String(-0) is "0", as the reference writes it; beyond 2^53 only BigInt prints every digit.
    if (x <= Number.MAX_SAFE_INTEGER && x >= -Number.MAX_SAFE_INTEGER) return "" + x;
    if (x < F64_I64_MIN || x >= F64_2POW64) refuse("integer_range", "Integer exceeds 64-bit range", path);
    return BigInt(x).toString();
  }
  if (x !== x || x === Infinity || x === -Infinity) return "null";
  // Non-integral doubles are below 2^53, so the default text is plain decimal down to 1e-6;
  // the reference switches to exponent form below 1e-5 already.
  if (x >= 1e-5 || x <= -1e-5) return "" + x;
  return x.toExponential();
}

/** `"key":` text, cached for plain keys; undefined for a key with a lone surrogate (refused if emitted). */
function keyText(key: string): string | undefined {
  const cached = keyCache.get(key);
  if (cached !== undefined) return cached;
  if (NEEDS_ESCAPE.test(key) && !isWellFormed(key)) return undefined;
  const text = JSON.stringify(key) + ":";
  if (key.length <= KEY_CACHE_MAX_KEY_LENGTH && !HAS_SURROGATE.test(key)) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(key, text);
  }
  return text;
}

function emittedKey(text: string | undefined, path: Segment[] | undefined): string {
  return text ?? refuse("lone_surrogate", "Key contains a lone surrogate (not valid UTF-8)", path);
}

/**
 * An object's keys in canonical order with their `"key":` texts, also with a leading comma so that
 * each member costs one concatenation less (undefined: a key with a lone surrogate).
 */
interface Shape {
  readonly raw: readonly string[];
  readonly sorted: readonly string[];
  readonly texts: readonly (string | undefined)[];
  readonly commaTexts: readonly (string | undefined)[];
}

/**
 * The last shape seen at each depth. Records in an array share their keys, so comparing the key
 * list with the previous one (mostly pointer comparisons of interned strings) saves the sort and
 * the key escaping. Entries are immutable and hold only keys, never values.
 */
const shapes: (Shape | undefined)[] = [];
const SHAPE_MEMO_MAX_KEYS = 64;

function shapeOf(obj: Record<string, unknown>, depth: number): Shape {
  const raw = Object.keys(obj);
  const memo = shapes[depth];
  if (memo !== undefined && sameKeys(memo.raw, raw)) return memo;
  const sorted = sortKeys(raw.slice());
  const texts: (string | undefined)[] = new Array<string | undefined>(sorted.length);
  const commaTexts: (string | undefined)[] = new Array<string | undefined>(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    const text = keyText(sorted[i]!);
    texts[i] = text;
    commaTexts[i] = text === undefined ? undefined : "," + text;
  }
  const shape: Shape = { raw, sorted, texts, commaTexts };
  if (raw.length <= SHAPE_MEMO_MAX_KEYS) shapes[depth] = shape;
  return shape;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Sorts keys in code point order. UTF-16 unit order agrees with it unless a key holds a surrogate;
 * only then is the slower comparator used. Small objects get an insertion sort, which beats the
 * native sort for a handful of keys and is linear on already sorted input (Python's output).
 */
function sortKeys(keys: string[]): string[] {
  const n = keys.length;
  if (n < 2) return keys;
  for (let i = 0; i < n; i++) if (HAS_SURROGATE.test(keys[i]!)) return keys.sort(compareCodePoints);
  if (n > 16) return keys.sort();
  for (let i = 1; i < n; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** Compares by code point: surrogates (U+D800–DFFF, i.e. code points ≥ U+10000) go above U+E000–FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

/**
 * Step 1 for members that step 2 removes (`security`, ignored fields): the reference normalizes
 * them, so depth and JSON types are checked, but nothing is written, so range and strings are not.
 */
function checkOnly(value: unknown, depth: number, path: Segment[] | undefined): void {
  if (depth > MAX_DEPTH) tooDeep(path);
  if (value === null || typeof value !== "object") {
    const t = typeof value;
    if (t === "function" || t === "symbol") refuse("unsupported_type", `A ${t} is not a JSON value`, path);
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (path) path.push(i);
      checkOnly(value[i], depth + 1, path);
      if (path) path.pop();
    }
    return;
  }
  if (!isPlainObject(value)) refuseInstance(value, path);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const member = record[key];
    if (member === null || member === undefined) continue;
    if (path) path.push(key);
    checkOnly(member, depth + 1, path);
    if (path) path.pop();
  }
}
