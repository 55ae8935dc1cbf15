/**
 * Item 11: a worker configured with the orchestrator's key runs only tasks whose `sig` verifies,
 * enforces `policy.allowed_skills`, and answers every refused task with a signed failure result.
 */
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { verifyHmac } from "../../src/security/hmac.js";
import { signTask, verifyTaskSignature } from "../../src/security/task-signature.js";
import { canonicalize } from "../../src/wire/canonical.js";
import { nap, fake, stopAll, worker } from "./helpers.js";

const KEY = "orchestrator-secret";
afterEach(stopAll);

describe("signTask / verifyTaskSignature", () => {
  const task = { job_id: "j1", task_id: "t1", type: "nap", params: { ms: 1, note: "é" }, security: { signer_id: "x" } };

  it("is HMAC-SHA256 hex over the canonical task without security, sig and orchestrator_signature", () => {
    const signed = signTask({ ...task, orchestrator_signature: "old" }, KEY);
    const { security: _s, ...core } = task;
    const expected = createHmac("sha256", KEY).update(canonicalize(core), "utf8").digest("hex");
    expect(signed.sig).toBe(expected);
    expect(signed).not.toHaveProperty("orchestrator_signature");
    expect(verifyTaskSignature(signed, KEY)).toBe(true);
    // The alternative member name carries the same value.
    const { sig, ...rest } = signed;
    expect(verifyTaskSignature({ ...rest, orchestrator_signature: sig }, KEY)).toBe(true);
  });

  it("refuses a changed task, another key, a missing, uppercase or non-string signature", () => {
    const signed = signTask(task, KEY);
    expect(verifyTaskSignature({ ...signed, params: { ms: 2, note: "é" } }, KEY)).toBe(false);
    expect(verifyTaskSignature(signed, "other")).toBe(false);
    expect(verifyTaskSignature(task, KEY)).toBe(false);
    expect(verifyTaskSignature({ ...signed, sig: signed.sig.toUpperCase() }, KEY)).toBe(false);
    expect(verifyTaskSignature({ ...signed, sig: 42 }, KEY)).toBe(false);
    expect(verifyTaskSignature(signed, "")).toBe(false);
    expect(verifyTaskSignature(null, KEY)).toBe(false);
    expect(verifyTaskSignature({ ...signed, security: { signature: "changed" } }, KEY)).toBe(true);
  });
});

describe("a worker with orchestratorKey", () => {
  it("runs a task whose sig verifies", async () => {
    const orc = await fake({ signingKey: KEY });
    const w = worker(orc.url, { workerId: "w-sig-ok", skills: [nap], orchestratorKey: KEY });
    await w.start();
    const job = orc.submit("nap", { ms: 1 }, { policy: { allowed_skills: ["nap"] } });
    await orc.waitFor(() => job.status === "finished" || job.status === "failed");
    expect(job.results[0]).toMatchObject({ status: "success" });
  });

  it.each([
    ["a wrong key", { signingKey: "not-the-key" }, {}],
    ["no sig at all", {}, {}],
  ])("refuses a task signed with %s: INTEGRITY_MISMATCH_ERROR, signed, handler never called", async (_what, options, extra) => {
    const orc = await fake(options);
    let called = 0;
    const counted = { ...nap, handler: (...args: Parameters<typeof nap.handler>) => (called++, nap.handler(...args)) };
    const w = worker(orc.url, { workerId: "w-sig-bad", skills: [counted], orchestratorKey: KEY });
    await w.start();
    const job = orc.submit("nap", { ms: 1 }, extra);
    await orc.waitFor(() => job.status === "failed");
    const result = job.results[0]!;
    expect(result).toMatchObject({ status: "failure", error: { code: "INTEGRITY_MISMATCH_ERROR" } });
    // Signed like every result (with the worker token, the transport's default secret).
    expect(verifyHmac(result, (result.security as { signature: string }).signature, "tok")).toBe(true);
    expect(called).toBe(0);
  });

  it("refuses a task whose policy does not allow its skill: PERMANENT_ERROR", async () => {
    const orc = await fake({ signingKey: KEY });
    const w = worker(orc.url, { workerId: "w-policy", skills: [nap], orchestratorKey: KEY });
    await w.start();
    const job = orc.submit("nap", { ms: 1 }, { policy: { allowed_skills: ["something_else"] } });
    await orc.waitFor(() => job.status === "failed");
    expect(job.results[0]).toMatchObject({ status: "failure", error: { code: "PERMANENT_ERROR" } });
  });

  it("without the key, unsigned tasks run as before", async () => {
    const orc = await fake();
    const w = worker(orc.url, { workerId: "w-nokey", skills: [nap] });
    await w.start();
    const job = orc.submit("nap", { ms: 1 });
    await orc.waitFor(() => job.status === "finished");
  });
});
