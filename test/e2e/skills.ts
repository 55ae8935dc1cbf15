/** Skills of the e2e workers: `work` sleeps `ms` and reports start and abort on stdout as JSON lines. */
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";

const say = (ev: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ ...ev, at: Date.now() }) + "\n");

export const work = defineSkill({
  name: "work",
  version: "1.0.0",
  input: Type.Object({ ms: Type.Integer({ minimum: 0 }), tag: Type.Optional(Type.String()) }),
  output: Type.Object({ slept: Type.Integer() }),
  handler: async (p, ctx) => {
    say({ ev: "started", task: ctx.taskId, job: ctx.jobId });
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, p.ms);
      ctx.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          say({ ev: "aborted", task: ctx.taskId, job: ctx.jobId });
          reject(ctx.signal.reason);
        },
        { once: true },
      );
    });
    say({ ev: "finished", task: ctx.taskId, job: ctx.jobId });
    return { slept: Date.now() - t0 };
  },
});
