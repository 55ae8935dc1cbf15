/** Shared bits of the transport tests. */
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

export const task = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  job_id: `job-${id}`,
  task_id: `task-${id}`,
  type: "echo",
  params: { n: 1 },
  ...extra,
});

export const result = (id: string): { job_id: string; task_id: string; worker_id: string; status: string; data: Record<string, unknown> } => ({
  job_id: `job-${id}`,
  task_id: `task-${id}`,
  worker_id: "w1",
  status: "success",
  data: { id },
});
