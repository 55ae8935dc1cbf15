/**
 * Example worker module for `rxon worker --skills examples/skills.ts`: every exported value made
 * with `defineSkill` becomes a skill of the worker. Params are checked against `input` before a
 * handler runs, results against `output` before they are sent.
 *
 * In your own project import from "rxon/worker" instead of the relative path.
 */
import Type from "typebox";
import { defineSkill } from "../src/worker/index.js";

/** Echoes its params back. */
export const echo = defineSkill({
  name: "echo",
  version: "1.0.0",
  description: "Returns the message it was given",
  input: Type.Object({ message: Type.String() }),
  output: Type.Object({ message: Type.String(), worker: Type.String() }),
  handler: (params, ctx) => ({ message: params.message, worker: ctx.workerId }),
});

/** Computes the scaled size of an image (CPU work stand-in). */
export const resize = defineSkill({
  name: "resize",
  version: "1.0.0",
  input: Type.Object({ width: Type.Integer({ minimum: 1 }), height: Type.Integer({ minimum: 1 }), scale: Type.Number({ exclusiveMinimum: 0 }) }),
  output: Type.Object({ width: Type.Integer(), height: Type.Integer() }),
  handler: (p) => ({ width: Math.max(1, Math.round(p.width * p.scale)), height: Math.max(1, Math.round(p.height * p.scale)) }),
});

/** Sleeps for `ms` milliseconds, reporting progress; stops early when cancelled. */
export const sleep = defineSkill({
  name: "sleep",
  version: "1.0.0",
  input: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 600_000 }) }),
  output: Type.Object({ slept: Type.Integer() }),
  handler: async (p, ctx) => {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, p.ms);
      ctx.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(ctx.signal.reason ?? new Error("cancelled"));
        },
        { once: true },
      );
    });
    await ctx.progress(1, "done");
    return { slept: Date.now() - started };
  },
});
