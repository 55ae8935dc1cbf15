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

/** The part of an EventEmitter that undici uses on a request's `signal`. */
export interface AbortEmitter {
  readonly aborted: boolean;
  readonly reason: unknown;
  on(event: "abort", listener: () => void): this;
  once(event: "abort", listener: () => void): this;
  addListener(event: "abort", listener: () => void): this;
  removeListener(event: "abort", listener: () => void): this;
  off(event: "abort", listener: () => void): this;
}

/**
 * A caller's signal and the transport's close signal as one abort source for undici, which
 * accepts an EventEmitter as well as an AbortSignal. undici adds an abort listener to the signal
 * of every request and removes it when the request ends; on an AbortSignal (an EventTarget) that
 * costs more than the rest of the request's bookkeeping. Here the listeners of the requests in
 * flight sit in a Set, and the signal itself gets one listener of ours.
 *
 * That listener stays for the source's lifetime once the source was used for a second request
 * (a worker's intake or life signal, passed on call after call): removing and adding it per
 * request is the cost this avoids. A source used once (a per-call signal) gets it only while its
 * request is in flight, so that a composite signal (`AbortSignal.any`, which Node keeps alive
 * while it has listeners) is not held for longer than before.
 */
class SignalFanout implements AbortEmitter {
  readonly #listeners = new Set<() => void>();
  #attached = false;
  #uses = 0;
  #reason: unknown = undefined;
  #fired = false;

  constructor(
    private readonly source: AbortSignal | undefined,
    private readonly owner: SignalLinks,
  ) {}

  get aborted(): boolean {
    return this.#fired || this.source?.aborted === true || this.owner.closed.aborted;
  }

  get reason(): unknown {
    if (this.#fired) return this.#reason;
    if (this.source?.aborted === true) return this.source.reason;
    return this.owner.closed.aborted ? this.owner.closed.reason : undefined;
  }

  on(_event: "abort", listener: () => void): this {
    if (this.#listeners.size === 0) {
      this.#uses++;
      this.owner.active.add(this);
      if (!this.#attached && this.source !== undefined) {
        this.#attached = true;
        this.source.addEventListener("abort", this.#onSourceAbort, { once: true });
      }
    }
    this.#listeners.add(listener);
    return this;
  }

  once(event: "abort", listener: () => void): this {
    // Fired listeners are dropped all at once (fire() clears the set): `on` is already once-only.
    return this.on(event, listener);
  }

  addListener(event: "abort", listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: "abort", listener: () => void): this {
    if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return this;
    this.owner.active.delete(this);
    if (this.#attached && this.#uses < 2) {
      this.#attached = false;
      this.source?.removeEventListener("abort", this.#onSourceAbort);
    }
    return this;
  }

  off(event: "abort", listener: () => void): this {
    return this.removeListener(event, listener);
  }

  /** Calls every listener once, with `reason` as the reason they read. */
  fire(reason: unknown): void {
    if (this.#fired) return;
    this.#fired = true;
    this.#reason = reason;
    this.#attached = false;
    this.source?.removeEventListener("abort", this.#onSourceAbort);
    this.owner.active.delete(this);
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) listener();
  }

  readonly #onSourceAbort = (): void => {
    this.fire(this.source?.reason);
  };
}

/**
 * The abort sources handed to undici: for each caller signal one {@link AbortEmitter} that also
 * fires when the transport closes. The emitter of a signal is remembered for as long as the
 * signal lives (a WeakMap), so a call made with the same signal again costs one lookup.
 */
export class SignalLinks {
  readonly #links = new WeakMap<AbortSignal, SignalFanout>();
  readonly #none: SignalFanout;
  /** Emitters with requests in flight: the ones a close must reach. */
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

  /** An abort source that fires when `source` or the close signal does (only the latter without a source). */
  of(source: AbortSignal | undefined): AbortEmitter {
    if (source === undefined) return this.#none;
    let linked = this.#links.get(source);
    if (linked === undefined) {
      linked = new SignalFanout(source, this);
      this.#links.set(source, linked);
    }
    return linked;
  }
}
