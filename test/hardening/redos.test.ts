/**
 * Issue 12 item 4: patterns of schemas that arrive over the wire run in linear time. A worker's
 * own `output_schema` with `^(a+)+$` and a result of `'a' × n + '!'` no longer stalls the hub.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ContractValidator, linearRegExp, UnsafePatternError } from "../../src/contracts/index.js";
import { start as startProc, type Proc } from "../e2e/procs.js";
import { call } from "../listener/helpers.js";

const EVIL = "^(a+)+$";

describe("linear-time patterns", () => {
  it("matches an exponential backtracking pattern in linear time, keeping ECMAScript meaning", () => {
    const v = new ContractValidator();
    const schema = { type: "string", pattern: EVIL };
    // 30 characters took a backtracking engine seconds to minutes (each further one doubling it); the
    // process test below shows the hub stays responsive, this one only checks the answers.
    expect(v.validate(schema, "a".repeat(25) + "!")).toMatchObject({ ok: false, reason: "invalid" });
    expect(v.validate(schema, "a".repeat(29) + "b")).toMatchObject({ ok: false, reason: "invalid" });
    expect(v.validate(schema, "a".repeat(30))).toEqual({ ok: true });
    expect(linearRegExp("^a.c$", "u").test("a\rc")).toBe(false);
    expect(linearRegExp("^a\\sc$", "u").test("a\u00a0c")).toBe(true);
    expect(linearRegExp("^[\\d-]+\\u00e9$", "u").test("12-3é")).toBe(true);
    expect(linearRegExp("^\\p{L}+$", "u").test("héllo")).toBe(true);
  });

  it("refuses backreferences and lookarounds with a clear error (the schema is invalid_schema)", () => {
    for (const pattern of ["(a)\\1", "(?<x>a)\\k<x>", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b"]) {
      expect(() => linearRegExp(pattern, "u")).toThrow(UnsafePatternError);
      const result = new ContractValidator().validate({ type: "string", pattern }, "ab");
      expect(result).toMatchObject({ ok: false, reason: "invalid_schema" });
      expect(JSON.stringify(result)).toMatch(/not supported: (backreferences|lookarounds)/);
    }
    // Property names are patterns too.
    expect(new ContractValidator().validate({ type: "object", patternProperties: { [EVIL]: { type: "number" } } }, { ["a".repeat(40) + "!"]: "x" })).toEqual({ ok: true });
  });

  it("`patterns: 'native'` keeps JavaScript's engine for trusted schemas", () => {
    const v = new ContractValidator({ patterns: "native" });
    expect(v.validate({ type: "string", pattern: "a(?=b)" }, "ab")).toEqual({ ok: true });
  });
});

describe("a hub checking a hostile contract", () => {
  let hub: Proc | undefined;
  afterAll(async () => {
    hub?.child.stdin?.end();
    hub?.child.kill("SIGKILL");
    await hub?.exited;
  });

  it("answers another request while it checks a result against ^(a+)+$", async () => {
    hub = startProc(["test/hardening/redos-hub.ts"]);
    const { url } = (await hub.waitFor((e) => e.ev === "listening")) as { url: string };
    const headers = { "x-worker-id": "w-evil" };
    const output_schema = { type: "object", properties: { s: { type: "string", pattern: EVIL } } };
    const reg = await call(url, "POST", "/_worker/workers/register", { worker_id: "w-evil", worker_type: "cpu", supported_skills: [{ name: "echo", version: "1.0.0", output_schema }] }, headers);
    expect(reg.status).toBe(200);
    const other = await call(url, "POST", "/_worker/workers/register", { worker_id: "w-other", worker_type: "cpu", supported_skills: [] }, { "x-worker-id": "w-other" });
    expect(other.status).toBe(200);
    const task = await call(url, "GET", "/_worker/workers/w-evil/tasks/next?timeout=2", undefined, headers);
    expect(task.status).toBe(200);
    const { job_id, task_id } = task.json as { job_id: string; task_id: string };
    // 40 characters: about an hour for a backtracking engine. Both requests are bounded (15 s).
    const data = { s: "a".repeat(40) + "!" };
    const [result, beat] = await Promise.all([
      call(url, "POST", "/_worker/tasks/result", { job_id, task_id, worker_id: "w-evil", status: "success", data }, headers),
      call(url, "PATCH", "/_worker/workers/w-other", undefined, { "x-worker-id": "w-other" }),
    ]);
    expect(beat.status).toBe(200);
    expect(result.status).toBe(200);
    const { outcome } = (await hub.waitFor((e) => e.ev === "outcome")) as { outcome: { status: string; error?: { message: string } } };
    expect(outcome.status).not.toBe("success");
    expect(outcome.error?.message).toMatch(/output_schema/);
  }, 40_000);
});
