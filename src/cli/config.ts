/**
 * Configuration of long-running commands (`rxon hub`, `rxon worker`) from one table of options.
 * Each option is one declaration (type, default, environment variable, secret or not, help line);
 * its value comes from the command line, else the environment, else `--config file.json`, else
 * the default. Adding an option is adding one entry to a command's table.
 */
import { parseArgs } from "node:util";
import { parseJson } from "../wire/json.js";
import { readText, UsageError, type CliIo } from "./io.js";

/** Value kinds an option can have. */
export type OptionType = "string" | "int" | "boolean";

/** One option of a command. */
export interface OptionSpec {
  /** Value kind; `int` values are checked against `min`/`max`. */
  readonly type: OptionType;
  /** One line of help. */
  readonly help: string;
  /** Argument placeholder in the help, e.g. `<n>` (not for booleans). */
  readonly arg?: string;
  /** Value when no source gives one. */
  readonly default?: string | number | boolean;
  /**
   * Environment variable; default `RXON_<COMMAND>_<OPTION>` (e.g. `RXON_HUB_PORT`); `false` for
   * none (options that only make sense on a command line).
   */
  readonly env?: string | false;
  /** Never printed: `--print-config` shows `***`, and the CLI logger redacts the value. */
  readonly secret?: boolean;
  /**
   * A URL that may hold a password (`redis://user:pass@host`): `--print-config` shows the password
   * as `***`, and the CLI logger redacts it.
   */
  readonly urlWithPassword?: boolean;
  /** Smallest allowed `int`. */
  readonly min?: number;
  /** Largest allowed `int`. */
  readonly max?: number;
  /** Allowed `string` values. */
  readonly choices?: readonly string[];
  /** Older names still accepted on the command line and in files, not shown in the help. */
  readonly aliases?: readonly string[];
  /** Kept out of `--config` files and `--print-config` (e.g. `--config` itself). */
  readonly commandLineOnly?: boolean;
  /** Single-letter short form. */
  readonly short?: string;
}

/** A command's options by name (kebab-case, as on the command line). */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S["type"] extends "int" ? number : S["type"] extends "boolean" ? boolean : string;

/** Effective values: options with a default are always set, the others may be undefined. */
export type ConfigValues<T extends OptionTable> = {
  readonly [K in keyof T]: T[K] extends { default: string | number | boolean } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

/** Where an effective value came from. */
export type ConfigSource = "flag" | "env" | "file" | "default";

/** What {@link loadConfig} returns. */
export interface ResolvedConfig<T extends OptionTable> {
  /** Effective values. */
  readonly values: ConfigValues<T>;
  /** Source of each value that is set. */
  readonly sources: Readonly<Partial<Record<keyof T, ConfigSource>>>;
  /** Values of secret options that are set (for log redaction). */
  readonly secrets: readonly string[];
  /** `--help` was given. */
  readonly help: boolean;
  /** `--print-config` was given. */
  readonly printConfig: boolean;
}

/** Environment variable of an option. */
export function envName(command: string, name: string, spec: OptionSpec): string | undefined {
  if (spec.env === false) return undefined;
  return spec.env ?? `RXON_${command}_${name}`.toUpperCase().replace(/-/g, "_");
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off", ""]);

/** Converts a raw value; `what` names the option and its source in the error message. */
function convert(spec: OptionSpec, raw: unknown, what: string, typed = false): string | number | boolean {
  // A JSON file says what type a value is: "8443" for a port is a mistake there, not in the environment.
  if (typed && typeof raw !== (spec.type === "int" ? "number" : spec.type)) {
    throw new UsageError(`${what} must be ${spec.type === "int" ? "an integer" : spec.type === "boolean" ? "true or false" : "a string"}, not ${JSON.stringify(raw)?.slice(0, 64)}`);
  }
  if (spec.type === "boolean") {
    if (typeof raw === "boolean") return raw;
    const text = String(raw).trim().toLowerCase();
    if (TRUE.has(text)) return true;
    if (FALSE.has(text)) return false;
    throw new UsageError(`${what} must be true or false`);
  }
  if (spec.type === "int") {
    const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
    const min = spec.min ?? 0;
    if (!Number.isSafeInteger(n) || n < min || (spec.max !== undefined && n > spec.max)) {
      throw new UsageError(`${what} must be an integer >= ${min}${spec.max !== undefined ? ` and <= ${spec.max}` : ""}`);
    }
    return n;
  }
  if (typeof raw !== "string") throw new UsageError(`${what} must be a string`);
  if (spec.choices !== undefined && !spec.choices.includes(raw)) throw new UsageError(`${what} must be one of ${spec.choices.join(", ")}`);
  return raw;
}

/**
 * Reads `--config <file.json>`: a JSON object keyed by option names. Unknown keys are refused.
 * The file is part of the invocation, so every problem with it is a usage error (exit 2).
 */
function readConfigFile(io: CliIo, path: string, table: OptionTable): Map<string, unknown> {
  let text: string;
  try {
    text = readText(io, path);
  } catch (err) {
    throw new UsageError(`--config: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseJson(text, { maxBytes: 1 << 20 });
  } catch (err) {
    throw new UsageError(`--config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`--config ${path} must hold a JSON object`);
  const byName = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) {
    if (spec.commandLineOnly) continue;
    byName.set(name, name);
    byName.set(camel(name), name);
    for (const alias of spec.aliases ?? []) byName.set(alias, name);
  }
  const out = new Map<string, unknown>();
  for (const [key, v] of Object.entries(value)) {
    const name = byName.get(key);
    if (name === undefined) throw new UsageError(`--config ${path}: unknown option '${key}'`);
    if (v === null) continue;
    out.set(name, typeof v === "bigint" ? Number(v) : v);
  }
  return out;
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Parses `argv` against `table` (plus `--help`, `--config` and `--print-config`) and merges the
 * environment and the config file: flag > env > file > default. Malformed values from any source
 * are usage errors naming their source.
 */
export function loadConfig<T extends OptionTable>(command: string, table: T, argv: readonly string[], io: CliIo): ResolvedConfig<T> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    config: { type: "string" },
    "print-config": { type: "boolean" },
  };
  const aliasOf = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) {
    const type = spec.type === "boolean" ? "boolean" : "string";
    options[name] = spec.short !== undefined ? { type, short: spec.short } : { type };
    for (const alias of spec.aliases ?? []) {
      options[alias] = { type };
      aliasOf.set(alias, name);
    }
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    // allowNegative: `--no-insecure` turns off a boolean that the environment or the file set.
    parsed = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true, allowNegative: true }) as typeof parsed;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const flags = new Map<string, string | boolean>();
  for (const [key, value] of Object.entries(parsed.values)) {
    if (value === undefined || key === "help" || key === "config" || key === "print-config") continue;
    const name = aliasOf.get(key) ?? key;
    if (flags.has(name) && aliasOf.has(key)) continue; // the current name wins over an alias
    flags.set(name, value);
  }
  const help = parsed.values.help === true;
  const configPath = (parsed.values.config as string | undefined) ?? io.env[`RXON_${command}_CONFIG`.toUpperCase()];
  const file = help || configPath === undefined || configPath === "" ? new Map<string, unknown>() : readConfigFile(io, configPath, table);

  const values: Record<string, string | number | boolean | undefined> = {};
  const sources: Partial<Record<string, ConfigSource>> = {};
  const secrets: string[] = [];
  for (const [name, spec] of Object.entries(table)) {
    const env = envName(command, name, spec);
    const envValue = env !== undefined ? io.env[env] : undefined;
    let value: string | number | boolean | undefined;
    if (flags.has(name)) {
      value = convert(spec, flags.get(name), `--${name}`);
      sources[name] = "flag";
    } else if (envValue !== undefined && envValue !== "") {
      value = convert(spec, envValue, `${env} (--${name})`);
      sources[name] = "env";
    } else if (file.has(name)) {
      value = convert(spec, file.get(name), `--config ${configPath}: ${name}`, true);
      sources[name] = "file";
    } else if (spec.default !== undefined) {
      value = spec.default;
      sources[name] = "default";
    }
    values[name] = value;
    if (spec.secret && typeof value === "string" && value !== "") secrets.push(value);
    if (spec.urlWithPassword && typeof value === "string") secrets.push(...urlPasswords(value));
  }
  return { values: values as ConfigValues<T>, sources: sources as ResolvedConfig<T>["sources"], secrets, help, printConfig: parsed.values["print-config"] === true };
}

/** The effective configuration as JSON, secrets shown as `***`, each value with its source. */
export function printableConfig<T extends OptionTable>(table: T, resolved: ResolvedConfig<T>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    if (spec.commandLineOnly) continue;
    const value = (resolved.values as Record<string, unknown>)[name];
    out[name] = value === undefined ? null : spec.secret ? "***" : spec.urlWithPassword && typeof value === "string" ? redactUrl(value) : value;
  }
  return out;
}

/** A URL with its password (if any) shown as `***`, for messages and `--print-config`. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "(the given URL)";
  }
  // Without a password the URL is shown as given (no normalisation such as a trailing slash).
  if (u.password === "") return url;
  u.password = "***";
  return u.toString();
}

/** The password of a URL as written and as decoded (both may appear in a log line); none when it has none. */
function urlPasswords(url: string): string[] {
  try {
    const { password } = new URL(url);
    if (password === "") return [];
    const decoded = decodeURIComponent(password);
    return decoded === password ? [password] : [password, decoded];
  } catch {
    return [];
  }
}

/** The options part of a help text, generated from the table (aliases stay hidden). */
export function optionsHelp(command: string, table: OptionTable): string {
  const rows: [string, string][] = [];
  for (const [name, spec] of Object.entries(table)) {
    const env = envName(command, name, spec);
    const left = `${spec.short !== undefined ? `-${spec.short}, ` : ""}--${name}${spec.arg !== undefined ? ` ${spec.arg}` : ""}`;
    const def = spec.default !== undefined && spec.type !== "boolean" ? ` (default ${String(spec.default)})` : "";
    rows.push([left, `${spec.help}${def}${env !== undefined ? ` [${env}]` : ""}`]);
  }
  rows.push(["--config <file.json>", `read options from a JSON object keyed by option name [RXON_${command.toUpperCase()}_CONFIG]`]);
  rows.push(["--print-config", "print the effective configuration (secrets masked) and exit"]);
  rows.push(["-h, --help", "show this help"]);
  const width = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
  const indent = " ".repeat(width + 2);
  return rows
    .map(([l, r]) => {
      const lines = wrap(r, 100 - indent.length);
      const first = l.length + 2 > width ? `  ${l}\n${indent}${lines[0]}` : `  ${l.padEnd(width)}${lines[0]}`;
      return [first, ...lines.slice(1).map((x) => indent + x)].join("\n");
    })
    .join("\n");
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}
