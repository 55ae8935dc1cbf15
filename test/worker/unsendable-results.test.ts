/**
 * A handler whose output cannot be sent ends its task with a clear failure, sent once: before, data
 * refused by the orchestrator (too large, or not showable) was lost and its task ran again on every
 * lease expiry, and data the worker could not encode was an INTERNAL_ERROR, which orchestrators
 * re-run, to fail the same way each time.
 */
import Type from "typebox";
import { describe, expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { RxonError } from "../../src/errors.js";
import { realHubs } from "./real-hub.js";

const start = realHubs();

/** A skill `out` returning `make()` with an open output contract; `runs` counts its runs. */
function returning(make: () => unknown): { skill: ReturnType<typeof defineSkill>; runs: () => number } {
  let runs = 0;
  const skill = defineSkill({
    name: "out",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({}, { additionalProperties: true }),
    handler: () => {
      runs++;
      return make() as Record<string, never>;
    },
  });
  return { skill, runs: () => runs };
}

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { x: 1 };
  for (let i = 0; i < levels; i++) value = { o: value };
  return value;
}

/** Runs one task of `make` on a hub that would re-run it once; its outcome, runs and the worker's error lines. */
async function outcomeOf(make: () => unknown) {
  const { skill, runs } = returning(make);
  const { hub, log } = await start([skill], { hub: { maxRetries: 1 } });
  const handle = await hub.submit({ type: "out", params: {} });
  const outcome = await handle.result();
  return { outcome, runs: runs(), errors: log.entries.filter((e) => e.level === "error").map((e) => e.message) };
}

describe("data the worker cannot encode", () => {
  const circular = (): unknown => {
    const value: Record<string, unknown> = {};
    value.self = value;
    return value;
  };
  it.each([
    ["an integer beyond 64 bits", () => ({ v: 2n ** 70n }), "/v Integer exceeds 64-bit range"],
    ["1e21", () => ({ v: 1e21 }), "/v Integer exceeds 64-bit range"],
    ["a function", () => ({ v: () => 1 }), "/v A function is not a JSON value"],
    ["a lone surrogate", () => ({ v: "a\ud800" }), "/v String contains a lone surrogate"],
    ["200 levels of nesting", () => nested(200), "/o/o/o"],
    ["a circular object", circular, "/self/self/self"],
  ])("%s: a CONTRACT_VIOLATION_ERROR failure naming where, and the task is not run again", async (_what, make, why) => {
    const { outcome, runs } = await outcomeOf(make);
    expect(outcome).toMatchObject({ status: "failure", attempts: 1, error: { code: "CONTRACT_VIOLATION_ERROR" } });
    expect(outcome.error!.message).toMatch(/^Local contract violation: output cannot be sent as JSON\. /);
    expect(outcome.error!.message).toContain(why);
    expect(runs).toBe(1);
  });

  class Size {
    constructor(readonly width: number) {}
    get area(): number {
      return this.width * this.width;
    }
  }
  it.each([
    ["a Date", () => ({ at: new Date(0) }), "/at An instance of Date is not a JSON value (convert it first)"],
    ["a Map", () => ({ m: new Map([["a", 1]]) }), "/m An instance of Map is not a JSON value (convert it first)"],
    ["an instance of a class", () => new Size(2), "/ An instance of Size is not a JSON value (convert it first)"],
  ])("%s is refused, not sent as {} (a task that succeeded without its data)", async (_what, make, why) => {
    const { outcome, runs } = await outcomeOf(make);
    expect(outcome).toMatchObject({ status: "failure", attempts: 1, error: { code: "CONTRACT_VIOLATION_ERROR", message: `Local contract violation: output cannot be sent as JSON. ${why}` } });
    expect(runs).toBe(1);
  });

  it("output whose getter throws: a failure that does not carry the exception's text, which is logged", async () => {
    const { outcome, runs, errors } = await outcomeOf(() => {
      const value = {};
      Object.defineProperty(value, "secret", { enumerable: true, get: () => { throw new Error("token=abc"); } });
      return value;
    });
    expect(outcome).toMatchObject({ status: "failure", attempts: 1, error: { code: "CONTRACT_VIOLATION_ERROR", message: "Local contract violation: output cannot be sent as JSON. reading it threw" } });
    expect(runs).toBe(1);
    expect(errors).toEqual(["reading the handler's output threw"]);
  });
});

describe("a failure the worker cannot encode", () => {
  it("an RxonError whose details have no JSON form: a CONTRACT_VIOLATION_ERROR failure naming where, and the task is not run again", async () => {
    const { outcome, runs, errors } = await outcomeOf(() => {
      throw new RxonError("model broke", { code: "TRANSIENT_ERROR", details: { size: 2n ** 70n } });
    });
    expect(outcome).toMatchObject({ status: "failure", attempts: 1, error: { code: "CONTRACT_VIOLATION_ERROR", message: "Local contract violation: result cannot be sent as JSON. /error/details/size Integer exceeds 64-bit range" } });
    expect(runs).toBe(1);
    expect(errors).toEqual(["result cannot be sent; reporting a failure instead"]);
  });
});

describe("data the orchestrator refuses", () => {
  it("a result over the hub's body limit (413): LIMIT_EXCEEDED_ERROR, sent once, and the task is not run again", async () => {
    const { outcome, runs, errors } = await outcomeOf(() => ({ v: "x".repeat(1_100_000) }));
    expect(outcome).toMatchObject({ status: "failure", attempts: 1, error: { code: "LIMIT_EXCEEDED_ERROR", message: "Result is larger than the orchestrator accepts (HTTP 413)" } });
    expect(runs).toBe(1);
    expect(errors).toEqual(["result cannot be sent; reporting a failure instead"]);
  });

  it("data the hub could not show to clients (400 unsendable_result): CONTRACT_VIOLATION_ERROR, sent once, and the task is not run again", async () => {
    // Encodable in a result (depth 100 at most), one level too deep inside a task's view.
    const { outcome, runs } = await outcomeOf(() => nested(98));
    expect(outcome).toMatchObject({ status: "failure", attempts: 1, error: { code: "CONTRACT_VIOLATION_ERROR", message: "Result refused by the orchestrator as invalid (HTTP 400)" } });
    expect(runs).toBe(1);
  });
});
