/**
 * The CLI's logger: pino, one JSON object a line (or a short human line with `--log-format
 * pretty`), snake_case keys throughout, secrets redacted twice over (known key names by pino's
 * redaction, and every configured secret value wherever it appears in a line). Only the CLI
 * loads pino; library users pass their own logger.
 */
import { pino } from "pino";
import type { Logger } from "../logger.js";

/** Output formats of the CLI log. */
export const LOG_FORMATS = ["json", "pretty"] as const;
/** A CLI log format. */
export type LogFormat = (typeof LOG_FORMATS)[number];
/** CLI log levels, most verbose first. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** A CLI log level. */
export type CliLogLevel = (typeof LOG_LEVELS)[number];

/** What {@link cliLogger} needs. */
export interface CliLoggerOptions {
  /** Least severe level written. */
  level: CliLogLevel;
  /** `json` (default: one object a line, for collectors) or `pretty` (for people). */
  format: LogFormat;
  /** Where lines go (the command's stderr). */
  stream: { write(text: string): unknown };
  /** Configured secret values; never written, whatever a log call passes. */
  secrets?: readonly string[];
}

/** Key names whose values are never logged, at the top level and one level down. */
const REDACTED_KEYS = ["token", "secret", "password", "authorization", "client_tokens", "global_token", "ed25519_key", "private_key", "tokens"];
const REDACT_PATHS = [
  ...REDACTED_KEYS,
  ...REDACTED_KEYS.map((k) => `*.${k}`),
  'headers["x-worker-token"]',
  'headers["x-client-token"]',
  "headers.authorization",
];
const CENSOR = "[redacted]";

/** `workerId` -> `worker_id`; snake_case keys pass unchanged. */
export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z])([A-Z][a-z])/g, "$1_$2").toLowerCase();
}

/** Secret values as they may appear in a JSON line (raw and JSON-escaped), longest first. */
function secretForms(secrets: readonly string[]): string[] {
  // Very short values would censor ordinary words; nobody configures such a secret for real.
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 6) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  return [...forms].sort((a, b) => b.length - a.length);
}


/** One JSON line as a short human line: `12:00:00.000 INFO message key=value ...`. */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, pid: _pid, hostname: _hostname, ...rest } = entry;
  const clock = typeof time === "string" ? time.slice(11, 23) : "";
  const name = String(level).toUpperCase();
  const fields = Object.entries(rest).map(([k, v]) => {
    if (k === "err" && v !== null && typeof v === "object") return `err=${JSON.stringify((v as { message?: unknown }).message ?? v)}`;
    return `${k}=${typeof v === "string" && /^[\w./:@[\]-]*$/.test(v) ? v : JSON.stringify(v)}`;
  });
  return `${clock} ${name.padEnd(5)} ${String(msg ?? "")}${fields.length > 0 ? " " + fields.join(" ") : ""}\n`;
}

/** A pino logger for a CLI command, shaped as rxon's {@link Logger}. */
export function cliLogger(options: CliLoggerOptions): Logger {
  const forms = secretForms(options.secrets ?? []);
  const scrub = (line: string): string => {
    let out = line;
    for (const f of forms) out = out.split(f).join(CENSOR);
    return out;
  };
  const stream = {
    write: (line: string): void => {
      const clean = scrub(line);
      options.stream.write(options.format === "pretty" ? prettyLine(clean) : clean);
    },
  };
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: {
        level: (label) => ({ level: label }),
        // One key casing whatever the caller used: library code is free to say `workerId`.
        log: (fields) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [snakeCase(k), v])),
      },
    },
    stream,
  );
}
