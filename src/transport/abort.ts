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
