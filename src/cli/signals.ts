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
