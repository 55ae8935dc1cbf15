/** Skills several suites run on real workers. */
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";

/** Doubles `n`. */
export const double = defineSkill({
  name: "double",
  version: "1.0.0",
  input: Type.Object({ n: Type.Number() }),
  output: Type.Object({ n: Type.Number() }),
  handler: (p) => ({ n: p.n * 2 }),
});

/** A skill named `hang` whose tasks run until cancelled (or 60 s); `onStart` hears each start. */
export function hangSkill(onStart: () => void = () => {}): ReturnType<typeof defineSkill> {
  return defineSkill({
    name: "hang",
    version: "1.0.0",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: (_p, ctx) =>
      new Promise((resolve, reject) => {
        onStart();
        const t = setTimeout(() => resolve({}), 60_000);
        ctx.signal.addEventListener("abort", () => (clearTimeout(t), reject(ctx.signal.reason ?? new Error("cancelled"))), { once: true });
      }),
  });
}

/** A skill whose tasks wait for `release()`; `runs` lists the worker of each run, in order. */
export function heldSkill(): { held: ReturnType<typeof defineSkill>; runs: string[]; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const runs: string[] = [];
  const held = defineSkill({
    name: "held",
    version: "1.0.0",
    input: Type.Object({}),
    output: Type.Object({ by: Type.String() }),
    handler: async (_p, ctx) => {
      runs.push(ctx.workerId);
      await released;
      return { by: ctx.workerId };
    },
  });
  return { held, runs, release };
}
