/** Waiting for SIGINT/SIGTERM (or an abort signal, for in-process use). */

/** Resolves on the first SIGINT or SIGTERM, or when `stop` aborts. */
export function waitForSignal(stop?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const done = (name: string): void => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      stop?.removeEventListener("abort", onAbort);
      resolve(name);
    };
    const onInt = (): void => done("SIGINT");
    const onTerm = (): void => done("SIGTERM");
    const onAbort = (): void => done("abort");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    if (stop?.aborted) done("abort");
    else stop?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Exit code of a process ended by `signal` (128 + its number, as a shell reports it). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * After the first SIGINT or SIGTERM (a graceful stop under way): a second one ends the process
 * at once, with exit code 130 or 143 as the default action would, after `log(signal)` has said
 * so. Returns the function that removes the handlers (once the graceful stop is over).
 */
export function exitOnSecondSignal(log: (signal: string) => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    log(signal);
    process.exit(SIGNAL_EXIT[signal] ?? 1);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
