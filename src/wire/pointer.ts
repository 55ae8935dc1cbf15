/** JSON Pointer (RFC 6901) helpers. */

/** Builds a JSON pointer from path segments: `["a/b", 0]` → `/a~1b/0`; `[]` → `""`. */
export function jsonPointer(segments: readonly (string | number)[]): string {
  let out = "";
  for (const segment of segments) {
    out += "/" + String(segment).replace(/~/g, "~0").replace(/\//g, "~1");
  }
  return out;
}
