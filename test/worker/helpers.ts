/**
 * Shared pieces of the worker tests: skills, a recording clock, and a worker wired to a MockTransport.
 */
import Type from "typebox";
import { afterEach } from "vitest";
import { defineSkill } from "../../src/contracts/index.js";
import { MockTransport, type MockTransportOptions } from "../../src/testing/index.js";
import { sleep as abortableSleep } from "../../src/transport/backoff.js";
import { Worker, type WorkerClock, type WorkerOptions } from "../../src/worker/index.js";

/** Adds two integers. */
export const add = defineSkill({
  name: "add",
  version: "1.0.0",
  input: Type.Object({ a: Type.Integer(), b: Type.Integer() }),
  output: Type.Object({ sum: Type.Integer() }),
  handler: ({ a, b }) => ({ sum: a + b }),
});

/** A promise whose resolution the test controls. */
export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

/** A closed gate. */
export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Resolves when `signal` aborts (with its reason). */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener("abort", () => resolve(signal.reason), { once: true });
  });
}

/** A clock that records every wait asked for and waits `scale` of it for real. */
export function recordingClock(scale = 0.001): WorkerClock & { readonly waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    now: () => Date.now(),
    sleep: (ms, signal) => {
      waits.push(ms);
      return abortableSleep(ms * scale, signal).then(() => undefined);
    },
  };
}

let counter = 0;

/** A worker on a fresh MockTransport; heartbeats every 50 ms unless told otherwise. */
export function setup(
  options: Partial<WorkerOptions> = {},
  mockOptions: MockTransportOptions = {},
): { worker: Worker; mock: MockTransport } {
  const workerId = options.workerId ?? `w-${++counter}`;
  const mock = new MockTransport({ workerId, ...mockOptions });
  const worker = new Worker({ skills: [add], heartbeatIntervalMs: 50, ...options, workerId, transport: mock });
  return { worker, mock };
}

let taskCounter = 0;

/** A task payload for `type` with fresh ids. */
export function task(type: string, params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): { job_id: string; task_id: string; type: string; params: Record<string, unknown> } & Record<string, unknown> {
  const n = ++taskCounter;
  return { job_id: `job-${n}`, task_id: `task-${n}`, type, params, ...extra };
}

/**
 * A `started` function for a test file: it sets up a worker on a mock transport (see
 * {@link setup}), starts it, and stops every worker it started after each test.
 */
export function startedWorkers(): (...args: Parameters<typeof setup>) => Promise<ReturnType<typeof setup>> {
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 0 })));
  });
  return async (...args) => {
    const value = setup(...args);
    workers.push(value.worker);
    await value.worker.start();
    return value;
  };
}
