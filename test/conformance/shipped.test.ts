/** The vectors shipped in the package (conformance/) are the ones the project's own tests run. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), "utf8");

describe("conformance/ in the package", () => {
  it("ships the canonical and signing vectors the tests check", () => {
    expect(read("../../conformance/canonical.json")).toBe(read("./canonical-public.json"));
    const cases = (JSON.parse(read("../../conformance/canonical.json")) as { cases: { hmac_sha256_hex?: string; error?: string }[] }).cases;
    expect(cases.filter((c) => c.hmac_sha256_hex !== undefined).length).toBeGreaterThan(30);
    expect(cases.filter((c) => c.error !== undefined).length).toBeGreaterThan(3);
  });

  it("ships messages.json with accepted and refused cases for every kind of rule", () => {
    const { cases } = JSON.parse(read("../../conformance/messages.json")) as { cases: { valid: boolean; why?: string }[] };
    for (const c of cases.filter((x) => !x.valid)) expect(c.why).toBeTruthy();
  });
});
