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

/** Something in flight that a {@link SignalLinks} source aborts (a request). */
export interface AbortTarget {
  /** Called once when the source or the close signal fires, with that signal's reason. */
  onSignalAbort(reason: unknown): void;
}

/**
 * A caller's signal and the transport's close signal as one abort source for the requests in
 * flight. Listening on an AbortSignal (an EventTarget) costs more than the rest of a small
 * request's bookkeeping, so the requests sit in a Set here and the signal gets one listener of
 * ours.
 *
 * That listener stays for the source's lifetime once the source was used for a second request
 * (a worker's intake or life signal, passed on call after call): removing and adding it per
 * request is the cost this avoids. A source used once (a per-call signal) has it only while its
 * request is in flight, so that a composite signal (`AbortSignal.any`, which Node keeps alive
 * while it has listeners) is not held for longer than its call.
 */
class SignalFanout {
  readonly #targets = new Set<AbortTarget>();
  #attached = false;
  #uses = 0;
  #fired = false;

  constructor(
    private readonly source: AbortSignal | undefined,
    private readonly owner: SignalLinks,
  ) {}

  /** Aborts `target` when the source or the close signal fires, until {@link delete}. */
  add(target: AbortTarget): void {
    if (this.#targets.size === 0) {
      this.#uses++;
      this.owner.active.add(this);
      if (!this.#attached && this.source !== undefined) {
        this.#attached = true;
        this.source.addEventListener("abort", this.#onSourceAbort, { once: true });
      }
    }
    this.#targets.add(target);
  }

  /** Forgets `target` (its request ended). */
  delete(target: AbortTarget): void {
    if (!this.#targets.delete(target) || this.#targets.size > 0) return;
    this.owner.active.delete(this);
    if (this.#attached && this.#uses < 2) {
      this.#attached = false;
      this.source?.removeEventListener("abort", this.#onSourceAbort);
    }
  }

  /** Aborts every target once, with `reason`. */
  fire(reason: unknown): void {
    if (this.#fired) return;
    this.#fired = true;
    this.#attached = false;
    this.source?.removeEventListener("abort", this.#onSourceAbort);
    this.owner.active.delete(this);
    const targets = [...this.#targets];
    this.#targets.clear();
    for (const target of targets) target.onSignalAbort(reason);
  }

  readonly #onSourceAbort = (): void => {
    this.fire(this.source?.reason);
  };
}

/** The abort source of one caller signal linked with the close signal (see {@link SignalLinks}). */
export type LinkedAbort = SignalFanout;

/**
 * The abort sources of requests: for each caller signal one source that also fires when the
 * transport closes. The source of a signal is remembered for as long as the signal lives (a
 * WeakMap), so a call made with the same signal again costs one lookup.
 */
export class SignalLinks {
  readonly #links = new WeakMap<AbortSignal, SignalFanout>();
  readonly #none: SignalFanout;
  /** Sources with requests in flight: the ones a close must reach. */
  readonly active = new Set<SignalFanout>();

  constructor(readonly closed: AbortSignal) {
    this.#none = new SignalFanout(undefined, this);
    closed.addEventListener(
      "abort",
      () => {
        for (const fanout of [...this.active]) fanout.fire(closed.reason);
      },
      { once: true },
    );
  }

  /** The abort source for calls made with `source` (only the close signal without one). */
  of(source: AbortSignal | undefined): LinkedAbort {
    if (source === undefined) return this.#none;
    let linked = this.#links.get(source);
    if (linked === undefined) {
      linked = new SignalFanout(source, this);
      this.#links.set(source, linked);
    }
    return linked;
  }
}
