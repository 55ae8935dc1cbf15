/**
 * Combining cancellation sources without leaks: the transport's own close signal is long-lived,
 * so every listener added to it for one call is removed when the call ends.
 */

/** A signal that aborts when any source aborts, plus a `dispose()` that detaches it from the sources. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  dispose(): void;
}

const NOOP = (): void => {};

/** Links `sources` (undefined entries are skipped); cheap when only one source is given. */
export function linkSignals(...sources: (AbortSignal | undefined)[]): LinkedSignal {
  const present = sources.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 1) return { signal: present[0]!, dispose: NOOP };
  const controller = new AbortController();
  const already = present.find((s) => s.aborted);
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, dispose: NOOP };
  }
  const listeners: [AbortSignal, () => void][] = [];
  const dispose = (): void => {
    for (const [s, l] of listeners) s.removeEventListener("abort", l);
    listeners.length = 0;
  };
  for (const s of present) {
    const onAbort = (): void => {
      dispose();
      controller.abort(s.reason);
    };
    s.addEventListener("abort", onAbort, { once: true });
    listeners.push([s, onAbort]);
  }
  return { signal: controller.signal, dispose };
}

/**
 * The reason given to internal wake-ups (`controller.abort(WAKE)`): an abort without a reason
 * builds a DOMException with a stack trace, which costs more than the whole wake-up.
 */
export const WAKE: unique symbol = Symbol("rxon.wake");

/**
 * Links a long-lived `source` (a worker's intake or life signal, passed on call after call) with
 * `other`, once per source: the link is remembered for as long as the source lives, so a call
 * made with the same source again costs one lookup instead of a new controller and two listeners.
 * Built with `AbortSignal.any`, which holds its sources weakly, so nothing leaks.
 */
export class SignalLinks {
  readonly #links = new WeakMap<AbortSignal, AbortSignal>();

  constructor(private readonly other: AbortSignal) {}

  /** A signal that aborts when `source` or the other signal does (just the other one without a source). */
  of(source: AbortSignal | undefined): AbortSignal {
    if (source === undefined) return this.other;
    let linked = this.#links.get(source);
    if (linked === undefined) {
      linked = AbortSignal.any([source, this.other]);
      this.#links.set(source, linked);
    }
    return linked;
  }
}
