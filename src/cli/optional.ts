/**
 * Packages that only some commands need are optional peer dependencies, loaded on demand with an
 * install hint when absent: the codegen tooling (ts-morph, json-schema-to-typescript) for
 * `rxon codegen` and `rxon contract`, and typebox (which skill authors install anyway) for the
 * demo's skills.
 */
import { CliFailure } from "./io.js";

/** Packages each tooling command needs, with the range rxon is tested with. */
export const TOOLING = {
  codegen: ["json-schema-to-typescript@^16", "ts-morph@^28"],
  contract: ["ts-morph@^28"],
  demo: ["typebox@^1.4.3"],
  redis: ["ioredis@^6.1.0"],
  metrics: ["prom-client@^15.1.3"],
} as const;

/** The package a "cannot find package" error names, if that is what `err` is. */
export function missingPackage(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown };
  if (e?.code !== "ERR_MODULE_NOT_FOUND" && e?.code !== "MODULE_NOT_FOUND") return undefined;
  const m = /Cannot find (?:package|module) '([^']+)'/.exec(String(e.message));
  return m?.[1];
}

/**
 * Imports a module of the tooling; when one of its packages is not installed, throws a
 * CliFailure naming the packages to install.
 */
export async function importTooling<T>(command: keyof typeof TOOLING, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const missing = missingPackage(err);
    const needed = TOOLING[command];
    if (missing !== undefined && needed.some((p) => missing === p.slice(0, p.lastIndexOf("@")) || missing.startsWith(p.slice(0, p.lastIndexOf("@")) + "/"))) {
      const dev = command === "codegen" || command === "contract" ? "--save-dev " : "";
      const which = needed.length > 1 ? "which are not installed (optional peer dependencies of rxon)" : "which is not installed (an optional peer dependency of rxon)";
      const what = command === "redis" ? "--store redis://" : command === "metrics" ? "metrics" : `rxon ${command}`;
      throw new CliFailure(`${what} needs ${needed.join(" and ")}, ${which}: npm install ${dev}${needed.join(" ")}`);
    }
    throw err;
  }
}
