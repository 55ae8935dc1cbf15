/**
 * The logger rxon writes to: pino-compatible (`logger.warn({ fields }, "message")` or
 * `logger.warn("message")`), so a pino instance, console, or anything shaped like them fits.
 * Library components log nothing unless given one. Field names are snake_case, as on the wire
 * (`worker_id`, `job_id`, `delay_ms`); the CLI's logger (src/cli/log.ts) converts any other
 * casing, so its output has one casing whatever a call site used.
 */

/** One logging method: structured fields first (optional), then the message. */
export type LogMethod = (fieldsOrMessage: object | string, message?: string) => void;

/** Minimal pino-compatible logger. */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const noop: LogMethod = () => {};

/** A logger that drops everything (the default of library components). */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** A logger writing one line per entry to stderr, at `level` and above. */
export function consoleLogger(level: LogLevel = "info", stream: { write(s: string): unknown } = process.stderr): Logger {
  const method =
    (name: Exclude<LogLevel, "silent">): LogMethod =>
    (fieldsOrMessage, message) => {
      if (order[name] < order[level]) return;
      const fields = typeof fieldsOrMessage === "string" ? undefined : fieldsOrMessage;
      const text = typeof fieldsOrMessage === "string" ? fieldsOrMessage : (message ?? "");
      const extra = fields && Object.keys(fields).length ? " " + safeJson(fields) : "";
      stream.write(`${new Date().toISOString()} ${name.toUpperCase()} ${text}${extra}\n`);
    };
  return { debug: method("debug"), info: method("info"), warn: method("warn"), error: method("error") };
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Error ? v.message : v));
  } catch {
    return "[unserializable]";
  }
}
