/**
 * A tiny typed event emitter. Node's EventEmitter throws on an `error` event without listeners,
 * which would turn an observable hiccup into a crash; here a listener that throws is logged and
 * the others still run.
 */
import type { Logger } from "../logger.js";

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

/** Emits events of the map `E` to listeners registered with `on`. */
export class TypedEmitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<(payload: never) => void>>();

  constructor(private readonly logger: Logger) {}

  /** Calls `listener` for every `event`; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): Unsubscribe {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  /** Removes `listener` from `event`. */
  off<K extends keyof E>(event: K, listener: (payload: E[K]) => void): void {
    this.listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  /** Calls the listeners of `event` synchronously; their exceptions are logged, never thrown. */
  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: E[K]) => void)(payload);
      } catch (err) {
        this.logger.warn({ err, event: String(event) }, "worker event listener threw");
      }
    }
  }
}
