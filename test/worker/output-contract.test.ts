/**
 * Output that breaks the skill's output contract ends its task with one CONTRACT_VIOLATION_ERROR
 * failure naming where, against a real hub that would otherwise re-run it: no retry loop.
 */
import Type from "typebox";
import { expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { realHubs } from "./real-hub.js";

const start = realHubs();

it.each([
  ["a member of the wrong type", { n: "x" }, "Local contract violation: output does not match schema. /n must be number"],
  ["a missing member", {}, "Local contract violation: output does not match schema. /n must have required property 'n'"],
  ["an array", [1], "Local contract violation: skill 'count' returned an array, not an object"],
  ["a string", "3", "Local contract violation: skill 'count' returned a string, not an object"],
])("%s: CONTRACT_VIOLATION_ERROR, run once", async (_what, value, message) => {
  let runs = 0;
  const count = defineSkill({
    name: "count",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({ n: Type.Number() }),
    handler: () => {
      runs++;
      return value as never;
    },
  });
  const { hub } = await start([count], { hub: { maxRetries: 2 } });
  const outcome = await (await hub.submit({ type: "count", params: {} })).result();
  expect(outcome).toMatchObject({ status: "failure", attempts: 1, error: { code: "CONTRACT_VIOLATION_ERROR", message } });
  expect(runs).toBe(1);
});
