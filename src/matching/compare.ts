/**
 * Property comparison shared by devices, resources and artifacts (PROTOCOL.md 8.1).
 *
 * Two rule sets exist. `"rxon"` (the default) keeps booleans apart from numbers; `"reference"`
 * reproduces the Python orchestrator, where `True == 1` and `False == 0` and booleans compare with
 * `>=` like numbers. Everything else is the same in both.
 */

/** Which rule set matching follows. */
export type MatchParity = "rxon" | "reference";

/** Options accepted by every matching function. */
export interface MatchOptions {
  /**
   * `"rxon"` (default): booleans are not numbers and device assignment is optimal.
   * `"reference"`: route exactly like the Python orchestrator (booleans count as 0/1, greedy
   * first-fit device assignment), for deployments that must agree with it decision for decision.
   */
  parity?: MatchParity;
}

/** A property bag as found on the wire: any JSON values, possibly `undefined` in JS. */
export type PropertyBag = { readonly [key: string]: unknown };

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Reads an own property only: a requirement key such as `constructor` or `__proto__` must not find
 * something inherited from `Object.prototype` on the worker side.
 */
export function ownValue(bag: PropertyBag | null | undefined, key: string): unknown {
  if (bag === null || bag === undefined || typeof bag !== "object") return undefined;
  return hasOwn.call(bag, key) ? bag[key] : undefined;
}

/** A JSON number (or exact big integer); in reference parity also a boolean. */
function numericValue(value: unknown, reference: boolean): number | bigint | undefined {
  const t = typeof value;
  if (t === "number" || t === "bigint") return value as number | bigint;
  if (reference && t === "boolean") return value ? 1 : 0;
  return undefined;
}

/** `a >= b` across number and bigint, exact for integers beyond 2^53. */
function numericAtLeast(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a >= b;
  // Mixed: compare the bigint with the number without losing precision.
  if (typeof a === "bigint") {
    const nb = b as number;
    if (Number.isNaN(nb)) return false;
    if (!Number.isFinite(nb)) return nb < 0;
    return Number.isInteger(nb) ? a >= BigInt(nb) : a >= BigInt(Math.ceil(nb));
  }
  const na = a;
  const bb = b as bigint;
  if (Number.isNaN(na)) return false;
  if (!Number.isFinite(na)) return na > 0;
  return BigInt(Math.floor(na)) >= bb;
}

/** Numeric equality across number and bigint. */
function numericEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a === b;
  const n = (typeof a === "number" ? a : b) as number;
  const big = (typeof a === "bigint" ? a : b) as bigint;
  return Number.isInteger(n) && BigInt(n) === big;
}

/**
 * Python-style `==` over JSON values: numbers by value (bigint and number alike), deep equality
 * for arrays and objects (key order irrelevant), a string never equals a number. In reference
 * parity `true == 1` and `false == 0`, also inside arrays and objects.
 */
export function valuesEqual(a: unknown, b: unknown, parity: MatchParity = "rxon"): boolean {
  return equal(a, b, parity === "reference", 0);
}

const MAX_EQUAL_DEPTH = 100;

function equal(a: unknown, b: unknown, reference: boolean, depth: number): boolean {
  if (a === b) return true;
  const na = numericValue(a, reference);
  if (na !== undefined) {
    const nb = numericValue(b, reference);
    return nb !== undefined && numericEqual(na, nb);
  }
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  // Deeper than any parsed JSON may be: treat as unequal instead of recursing without bound.
  if (depth >= MAX_EQUAL_DEPTH) return false;
  const aArr = Array.isArray(a);
  if (aArr !== Array.isArray(b)) return false;
  if (aArr) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!equal(x[i], y[i], reference, depth + 1)) return false;
    return true;
  }
  const x = a as PropertyBag;
  const y = b as PropertyBag;
  // `undefined` members do not exist on the wire, so they are skipped on both sides.
  let count = 0;
  for (const k in x) {
    if (!hasOwn.call(x, k) || x[k] === undefined) continue;
    count++;
    const yv = ownValue(y, k);
    if (yv === undefined || !equal(x[k], yv, reference, depth + 1)) return false;
  }
  for (const k in y) if (hasOwn.call(y, k) && y[k] !== undefined) count--;
  return count === 0;
}

/**
 * One property rule of 8.1: does worker value `w` satisfy requirement value `r`?
 * Missing or null `w` never does; numbers need `w >= r`; arrays mean inclusion or intersection.
 */
export function propertySatisfies(w: unknown, r: unknown, parity: MatchParity = "rxon"): boolean {
  return satisfies(w, r, parity === "reference");
}

function satisfies(w: unknown, r: unknown, reference: boolean): boolean {
  if (w === null || w === undefined) return false;
  const nr = numericValue(r, reference);
  if (nr !== undefined) {
    const nw = numericValue(w, reference);
    if (nw !== undefined) return numericAtLeast(nw, nr);
  }
  if (Array.isArray(r)) {
    if (Array.isArray(w)) {
      for (const x of w) for (const y of r) if (equal(x, y, reference, 1)) return true;
      return false;
    }
    for (const y of r) if (equal(w, y, reference, 1)) return true;
    return false;
  }
  if (Array.isArray(w)) {
    for (const x of w) if (equal(x, r, reference, 1)) return true;
    return false;
  }
  return equal(w, r, reference, 0);
}

/**
 * Every requirement key must be satisfied by the worker's property of the same name (8.1).
 * An absent or empty requirement matches; requirement members that are `undefined` are skipped
 * because they would not exist on the wire.
 */
export function matchProperties(
  available: PropertyBag | null | undefined,
  required: PropertyBag | null | undefined,
  options: MatchOptions = {},
): boolean {
  if (required === null || required === undefined) return true;
  const reference = options.parity === "reference";
  for (const k in required) {
    if (!hasOwn.call(required, k)) continue;
    const r = required[k];
    if (r === undefined) continue;
    if (!satisfies(ownValue(available, k), r, reference)) return false;
  }
  return true;
}
