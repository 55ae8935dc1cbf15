/**
 * Store calls that stay synchronous when the store is. A {@link HubStore} may answer with a value
 * or a promise; awaiting a plain value still gives up the turn, and every turn given up in the
 * middle of a dispatch decision (look at a queue, claim, assign, hand over) lets concurrent polls
 * and offers race for the same task or the same parked poll. A dispatch step is therefore written
 * as a generator that yields store answers: {@link runFlow} resumes it at once with plain values
 * and only switches to awaiting when a real promise comes back. With the in-memory store a whole
 * dispatch step runs as one uninterrupted piece; with a remote store it behaves like async code
 * (and the hub's claim loops handle the races, as they must anyway).
 */
import type { Awaitable } from "./store.js";

/** A dispatch step: yields store answers (values or promises), returns `T`. */
export type Flow<T> = Generator<unknown, T, unknown>;

/** True for promises and other thenables. */
export function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

/** Use as `const x = yield* wait(store.get(...))` inside a {@link Flow}: typed result, no await for plain values. */
export function* wait<T>(value: Awaitable<T>): Generator<Awaitable<T>, T, unknown> {
  return (yield value) as T;
}

/** Runs a flow: synchronously to the end when every yielded answer is a plain value, else as a promise. */
export function runFlow<T>(flow: Flow<T>): Awaitable<T> {
  let step = flow.next();
  for (;;) {
    if (step.done === true) return step.value;
    const value = step.value;
    if (isPromise(value)) return finishAsync(flow, value);
    step = flow.next(value);
  }
}

async function finishAsync<T>(flow: Flow<T>, pending: Promise<unknown>): Promise<T> {
  let step: IteratorResult<unknown, T>;
  let next: unknown = pending;
  for (;;) {
    let value: unknown;
    let failed = false;
    try {
      value = isPromise(next) ? await next : next;
    } catch (err) {
      failed = true;
      value = err;
    }
    step = failed ? flow.throw(value) : flow.next(value);
    if (step.done === true) return step.value;
    next = step.value;
  }
}
