/**
 * Workers and skills for the interop tests against the fake Python orchestrator.
 */
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";
import { Worker, type WorkerOptions } from "../../src/worker/index.js";
import { FakePythonOrchestrator, type FakePythonOptions } from "./fake-python-orchestrator.js";

/** Sleeps `ms` (param), then answers `{slept}`. */
export const nap = defineSkill({
  name: "nap",
  version: "1.0.0",
  input: Type.Object({ ms: Type.Integer({ minimum: 0 }) }),
  output: Type.Object({ slept: Type.Integer() }),
  handler: async ({ ms }, ctx) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    ctx.signal.throwIfAborted();
    return { slept: ms };
  },
});

/** Runs until its signal fires (cancel, deadline or shutdown); counts its calls. */
export function hang(calls: { n: number } = { n: 0 }): ReturnType<typeof defineSkill> {
  return defineSkill({
    name: "hang",
    version: "1.0.0",
    input: Type.Object({}),
    output: Type.Object({}),
    handler: async (_params, ctx) => {
      calls.n++;
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      ctx.signal.throwIfAborted();
      return {};
    },
  });
}

/** A skill named `name` that succeeds at once with `{}`. */
export function instant(name: string): ReturnType<typeof defineSkill> {
  return defineSkill({ name, version: "1.0.0", input: Type.Object({}), output: Type.Object({}), handler: () => ({}) });
}

const workers: Worker[] = [];

/**
 * A worker for `url` (token `tok`, no WebSocket: the Python orchestrator never sends commands on
 * it), quick polls, tracked so {@link stopWorkers} stops it.
 */
export function worker(url: string, options: Partial<WorkerOptions> & Pick<WorkerOptions, "workerId" | "skills">): Worker {
  const w = new Worker({
    url,
    token: "tok",
    commands: false,
    pollTimeoutSeconds: 1,
    heartbeatIntervalMs: 60_000,
    heartbeatCooldownMs: 100,
    ...options,
    transportOptions: { serverPollHoldSeconds: 1, pollGraceMs: 2_000, ...options.transportOptions },
  });
  workers.push(w);
  return w;
}

/** Stops every worker made by {@link worker} (for afterEach). */
export async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 0 })));
}

const fakes: FakePythonOrchestrator[] = [];

/** Starts a fake Python orchestrator that {@link stopAll} closes. */
export async function fake(options: FakePythonOptions = {}): Promise<FakePythonOrchestrator> {
  const f = await new FakePythonOrchestrator(options).start();
  fakes.push(f);
  return f;
}

/** Stops the workers and closes the fakes a test started (for `afterEach`). */
export async function stopAll(): Promise<void> {
  await stopWorkers();
  await Promise.all(fakes.splice(0).map((f) => f.close()));
}
