/**
 * The schemas say what the protocol says: every message of conformance/messages.json is accepted
 * or refused by `decode` (the generated ajv validators) exactly as the file states. The same file
 * is checked with Python's jsonschema by scripts/check-schemas-python.sh.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { check, decode, modelNames, type ModelName } from "../../src/wire/codec.js";

interface MessageCase {
  name: string;
  model: ModelName;
  valid: boolean;
  message: unknown;
  why?: string;
}

const file = JSON.parse(readFileSync(new URL("../../conformance/messages.json", import.meta.url), "utf8")) as { cases: MessageCase[] };

describe("conformance/messages.json with decode", () => {
  it("names only known models and has both kinds of case", () => {
    for (const c of file.cases) expect(modelNames).toContain(c.model);
    expect(file.cases.filter((c) => c.valid).length).toBeGreaterThan(10);
    expect(file.cases.filter((c) => !c.valid).length).toBeGreaterThan(10);
  });

  for (const c of file.cases) {
    it(`${c.valid ? "accepts" : "refuses"} ${c.name}`, () => {
      if (c.valid) {
        expect(check(c.model, c.message)).toEqual([]);
        expect(() => decode(c.model, c.message)).not.toThrow();
      } else {
        expect(check(c.model, c.message).length).toBeGreaterThan(0);
        expect(() => decode(c.model, c.message)).toThrow(ValidationError);
      }
    });
  }
});

describe("the values the protocol forbids", () => {
  const heartbeat = { worker_id: "worker-1", status: "idle", timestamp: 1700000000 };

  it("refuses a worker id with a trailing line feed, naming the member", () => {
    const issues = check("Heartbeat", { ...heartbeat, worker_id: "worker-1\n" });
    expect(issues.map((i) => i.path)).toContain("/worker_id");
  });

  it("refuses the status bogus with the list of statuses", () => {
    const issues = check("Heartbeat", { ...heartbeat, status: "bogus" });
    expect(issues).toEqual([{ path: "/status", message: "must be one of: \"idle\", \"busy\", \"full\", \"offline\", \"active\", \"draining\"" }]);
  });

  it("refuses the signature XYZ", () => {
    const issues = check("Heartbeat", { ...heartbeat, security: { signature: "XYZ" } });
    expect(issues.map((i) => i.path)).toContain("/security/signature");
  });

  it("takes integer timestamps in worker messages but fractional ones in tasks (the Python orchestrator sends floats)", () => {
    expect(check("Heartbeat", { ...heartbeat, timestamp: 1700000000.5 }).map((i) => i.path)).toEqual(["/timestamp"]);
    expect(check("TaskPayload", { job_id: "j", task_id: "t", type: "s", timestamp: 1700000000.5, deadline: 1700000060.25 })).toEqual([]);
  });

  it("keeps a line feed inside an open map legal (params are the skill's business)", () => {
    expect(check("TaskPayload", { job_id: "j", task_id: "t", type: "s", params: { text: "a\nb\n" } })).toEqual([]);
  });
});
