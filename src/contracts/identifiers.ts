/**
 * The identifier rule (PROTOCOL.md 10.3) for worker ids, skill names and skill types.
 *
 * The reference uses Python's `re.match(r"^[a-zA-Z0-9_-]+$")`, whose `$` also matches before one
 * trailing newline, so `"worker-1\n"` passes there. A JS regular expression without the `m` flag
 * anchors `$` at the end of input only, which closes that hole; rxon is stricter on purpose.
 */
import { ValidationError } from "../errors.js";

const IDENTIFIER = /^[a-zA-Z0-9_-]+$/;
/** Longest value quoted back in an error message, so a huge input does not become a huge log line. */
const MAX_QUOTED = 128;

/**
 * True for a non-empty string of ASCII letters, digits, `_` and `-` (and nothing after it), at
 * most `maxLength` characters when given.
 */
export function isValidIdentifier(value: unknown, maxLength?: number): value is string {
  return typeof value === "string" && (maxLength === undefined || value.length <= maxLength) && IDENTIFIER.test(value);
}

/**
 * Throws a ValidationError (`INVALID_INPUT_ERROR`) unless `value` is a valid identifier. The
 * message is the reference's: `Invalid <what>: '<value>'. Must be alphanumeric, underscores, or
 * hyphens only.` (values longer than 128 characters are cut).
 */
export function validateIdentifier(value: unknown, what = "identifier"): asserts value is string {
  if (isValidIdentifier(value)) return;
  const text = typeof value === "string" ? value : String(value);
  const quoted = text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
  throw new ValidationError(`Invalid ${what}: '${quoted}'. Must be alphanumeric, underscores, or hyphens only.`, [
    { path: "", message: "must match ^[a-zA-Z0-9_-]+$" },
  ]);
}
