/** A logger for tests that keeps every entry, to assert on what was logged. */
import type { Logger } from "../../src/logger.js";

export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: object;
}

/** A logger that keeps every entry. */
export function memoryLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const method =
    (level: LogEntry["level"]) =>
    (a: object | string, b?: string): void => {
      entries.push(typeof a === "string" ? { level, message: a, fields: {} } : { level, message: b ?? "", fields: a });
    };
  return { entries, debug: method("debug"), info: method("info"), warn: method("warn"), error: method("error") };
}
