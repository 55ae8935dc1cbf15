/**
 * Whatever a handler throws or rejects with, its task ends with one INTERNAL_ERROR failure with a
 * fixed message, the value goes to the log, and the worker goes on serving.
 */
import Type from "typebox";
import { expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { realHubs } from "./real-hub.js";

const start = realHubs();

const hostile = (): object =>
  new Proxy(
    {},
    {
      get: () => {
        throw new Error("get");
      },
      getPrototypeOf: () => {
        throw new Error("getPrototypeOf");
      },
      ownKeys: () => {
        throw new Error("ownKeys");
      },
    },
  );
const throwingGetter = (): object =>
  Object.defineProperty({}, "message", {
    enumerable: true,
    get: () => {
      throw new Error("message");
    },
  });

const throws: Record<string, () => unknown> = {
  string: () => {
    throw "a string";
  },
  null: () => {
    throw null;
  },
  getter: () => {
    throw throwingGetter();
  },
  proxy: () => {
    throw hostile();
  },
  asyncProxy: () => Promise.reject(hostile()),
  // A thenable that fulfils and then rejects: the first settlement counts.
  twice: () => ({
    then(resolve: (v: unknown) => void, reject: (e: unknown) => void) {
      resolve({});
      reject(new Error("late"));
    },
  }),
};

it("a string, null, an object whose getter throws, a Proxy: INTERNAL_ERROR once each, logged, and the worker goes on", async () => {
  const skill = defineSkill({
    name: "thrower",
    version: "1",
    input: Type.Object({ kind: Type.String() }),
    output: Type.Object({}),
    handler: (p) => throws[p.kind]!() as never,
  });
  const { hub, worker, log } = await start([skill], { hub: { maxRetries: 0 } });
  for (const kind of Object.keys(throws)) {
    const outcome = await (await hub.submit({ type: "thrower", params: { kind } })).result();
    if (kind === "twice") expect(outcome).toMatchObject({ status: "success", attempts: 1 });
    else expect(outcome, kind).toMatchObject({ status: "failure", attempts: 1, error: { code: "INTERNAL_ERROR", message: "Skill 'thrower' failed with an unexpected error" } });
  }
  expect(log.entries.filter((e) => e.message === "skill threw an unexpected error")).toHaveLength(Object.keys(throws).length - 1);
  await waitUntil(() => worker.stats.inFlight === 0);
  expect(worker.stats).toMatchObject({ failed: 5, succeeded: 1, lost: 0, inFlight: 0, abandoned: 0 });
});
