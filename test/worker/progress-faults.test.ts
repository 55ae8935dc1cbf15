/**
 * `ctx.progress()` never throws into the handler, whatever it is given: a handler calling it from a
 * timer would otherwise crash the process with an uncaught exception.
 */
import Type from "typebox";
import { expect, it } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { realHubs } from "./real-hub.js";

const start = realHubs();

it("a progress message whose toString throws is sent without its text, and progress() does not throw", async () => {
  const thrown: unknown[] = [];
  const skill = defineSkill({
    name: "odd-progress",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: (_p, ctx) =>
      new Promise((resolve) => {
        setTimeout(() => {
          try {
            const message = { toString: (): string => { throw new Error("no text"); } };
            ctx.progress(0.5, message as unknown as string);
          } catch (err) {
            thrown.push(err);
          }
          resolve({});
        }, 10);
      }),
  });
  const { hub } = await start([skill]);
  const progress: { progress: number; message: string }[] = [];
  hub.on("task:progress", (e) => progress.push({ progress: e.progress, message: e.message }));
  const handle = await hub.submit({ type: "odd-progress", params: {} });
  expect(await handle.result()).toMatchObject({ status: "success", attempts: 1 });
  expect(thrown).toEqual([]);
  expect(progress).toEqual([{ progress: 0.5, message: "" }]);
});

it("progress() after the handler ended is dropped without an error", async () => {
  let late: (() => void) | undefined;
  const skill = defineSkill({
    name: "late-progress",
    version: "1",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: (_p, ctx) => {
      late = () => ctx.progress(0.9, "late");
      return {};
    },
  });
  const { hub } = await start([skill]);
  const progress: number[] = [];
  hub.on("task:progress", (e) => progress.push(e.progress));
  const handle = await hub.submit({ type: "late-progress", params: {} });
  expect(await handle.result()).toMatchObject({ status: "success" });
  expect(() => late!()).not.toThrow();
  expect(progress).toEqual([]);
});
