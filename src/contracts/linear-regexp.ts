/**
 * A linear-time engine for the `pattern` and `patternProperties` keywords of contract schemas.
 * Schemas arrive over the wire (a worker's input/output/event schemas), so their patterns are
 * attacker-chosen: with a backtracking engine `^(a+)+$` against `'a' × 30 + '!'` takes seconds,
 * each further character doubling it. RE2 (here its pure-JavaScript port, no native build)
 * matches in time linear in the input, and refuses what it cannot match that way.
 *
 * ECMAScript syntax is translated to RE2's; refused with a clear error: backreferences (`\1`,
 * `\k<name>`) and lookarounds (`(?=`, `(?!`, `(?<=`, `(?<!`). `.` and `\s` keep their
 * ECMAScript meaning (RE2's `.` would match `\r`, its `\s` would miss the Unicode spaces).
 */
import { RE2JS } from "re2js";

/** What ajv needs of a compiled pattern. */
export interface LinearPattern {
  /** Whether the pattern matches somewhere in `text` (ECMAScript `RegExp.prototype.test`). */
  test(text: string): boolean;
  /** `/pattern/flags`, which ajv uses as the cache key of the compiled pattern. */
  toString(): string;
}

/** A pattern the linear-time engine cannot run (its message says why). */
export class UnsafePatternError extends Error {
  constructor(pattern: string, why: string) {
    super(`pattern ${JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern)} is not supported: ${why}`);
    this.name = "UnsafePatternError";
  }
}

/** ECMAScript's `.`: anything but a line terminator. */
const DOT = "[^\\n\\r\\x{2028}\\x{2029}]";
/** ECMAScript's `\s` members, written for use inside a class. */
const SPACE_MEMBERS = "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

/** Refuses named backreferences, which RE2's translation would otherwise turn into literal text. */
function refuseUnsupported(pattern: string): void {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === "k") throw new UnsafePatternError(pattern, "backreferences cannot be matched in linear time");
      if (next !== undefined && next >= "1" && next <= "9") throw new UnsafePatternError(pattern, "backreferences cannot be matched in linear time");
      i++;
    } else if (c === "(" && pattern[i + 1] === "?") {
      const kind = pattern.slice(i + 2, i + 4);
      if (kind.startsWith("=") || kind.startsWith("!") || kind === "<=" || kind === "<!") {
        throw new UnsafePatternError(pattern, "lookarounds cannot be matched in linear time");
      }
    }
  }
}

/** Rewrites `.`, `\s` and `\S` (in RE2 syntax) to their ECMAScript meaning. */
function ecmaClasses(re2: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < re2.length; i++) {
    const c = re2[i]!;
    if (c === "\\" && i + 1 < re2.length) {
      const next = re2[i + 1]!;
      i++;
      if (next === "s") out += inClass ? SPACE_MEMBERS : `[${SPACE_MEMBERS}]`;
      else if (next === "S" && !inClass) out += `[^${SPACE_MEMBERS}]`;
      else out += c + next;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
    } else if (c === "[") {
      inClass = true;
      out += c;
      // A leading `]` (or `^]`) is a literal member, not the end of the class.
      if (re2[i + 1] === "^") out += re2[++i];
      if (re2[i + 1] === "]") out += re2[++i];
    } else out += c === "." ? DOT : c;
  }
  return out;
}

/**
 * Compiles an ECMAScript pattern for linear-time matching; `flags` as ajv passes them (`u` or
 * empty; only `i`, `m` and `s` change matching and are honoured). Throws
 * {@link UnsafePatternError} for patterns RE2 cannot run.
 */
export function linearRegExp(pattern: string, flags = ""): LinearPattern {
  refuseUnsupported(pattern);
  let compiled: RE2JS;
  try {
    let re2Flags = 0;
    if (flags.includes("i")) re2Flags |= RE2JS.CASE_INSENSITIVE;
    if (flags.includes("m")) re2Flags |= RE2JS.MULTILINE;
    if (flags.includes("s")) re2Flags |= RE2JS.DOTALL;
    const translated = RE2JS.translateRegExp(pattern);
    compiled = RE2JS.compile(flags.includes("s") ? translated : ecmaClasses(translated), re2Flags);
  } catch (err) {
    throw new UnsafePatternError(pattern, String((err as Error).message).slice(0, 200));
  }
  const key = `/${pattern}/${flags}`;
  return { test: (text) => compiled.test(text), toString: () => key };
}
/** Name under which ajv's standalone code would refer to the engine. */
linearRegExp.code = "linearRegExp";
