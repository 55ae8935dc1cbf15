/**
 * Worker credentials for `rxon hub`: a JSON file and/or environment variables.
 *
 * File: either a plain map `{"worker-1": "secret", ...}` or
 * `{"tokens": {...}, "globalToken": "...", "ed25519Keys": {"worker-1": "<hex or PEM>"}}`.
 * Env: RXON_TOKENS (the same JSON, or `id=secret,id=secret`), RXON_GLOBAL_TOKEN.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { HubAuthOptions } from "../hub/index.js";
import { CliFailure, UsageError, readText, type CliIo } from "./io.js";

/** A file's content is wrong: exit 1. A flag's or variable's value is wrong: exit 2. */
function problem(what: string, message: string, fromFile: boolean): Error {
  return fromFile ? new CliFailure(`${what} ${message}`) : new UsageError(`${what} ${message}`);
}

function asStringMap(value: unknown, what: string, fromFile: boolean): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw problem(what, "must be a JSON object of strings", fromFile);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string" || v === "") throw problem(`${what}:`, `the value for '${k}' must be a non-empty string`, fromFile);
    out[k] = v;
  }
  return out;
}

function fromJson(text: string, what: string, fromFile: boolean): HubAuthOptions {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw problem(what, `is not valid JSON: ${(err as Error).message}`, fromFile);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw problem(what, "must be a JSON object", fromFile);
  const v = value as Record<string, unknown>;
  if ("tokens" in v || "globalToken" in v || "ed25519Keys" in v) {
    const auth: HubAuthOptions = {};
    if (v.tokens !== undefined) auth.tokens = asStringMap(v.tokens, `${what}.tokens`, fromFile);
    if (typeof v.globalToken === "string" && v.globalToken !== "") auth.globalToken = v.globalToken;
    if (v.ed25519Keys !== undefined) auth.ed25519Keys = asStringMap(v.ed25519Keys, `${what}.ed25519Keys`, fromFile);
    return auth;
  }
  return { tokens: asStringMap(v, what, fromFile) };
}

/** Credentials from `--tokens <file>`, RXON_TOKENS and RXON_GLOBAL_TOKEN (file first, env adds). */
export function loadCredentials(io: CliIo, file: string | undefined): HubAuthOptions {
  const auth: HubAuthOptions = file !== undefined ? fromJson(readText(io, file), file, true) : {};
  const envTokens = io.env.RXON_TOKENS;
  if (envTokens !== undefined && envTokens.trim() !== "") {
    const fromEnv = envTokens.trim().startsWith("{")
      ? fromJson(envTokens, "RXON_TOKENS", false)
      : {
          tokens: Object.fromEntries(
            envTokens.split(",").map((pair) => {
              const i = pair.indexOf("=");
              if (i <= 0 || i === pair.length - 1) throw new UsageError("RXON_TOKENS must be JSON or id=secret,id=secret");
              return [pair.slice(0, i).trim(), pair.slice(i + 1).trim()];
            }),
          ),
        };
    auth.tokens = { ...(auth.tokens as Record<string, string> | undefined), ...(fromEnv.tokens as Record<string, string> | undefined) };
    if (fromEnv.globalToken !== undefined) auth.globalToken = fromEnv.globalToken;
    if (fromEnv.ed25519Keys !== undefined) auth.ed25519Keys = { ...auth.ed25519Keys, ...fromEnv.ed25519Keys };
  }
  const global = io.env.RXON_GLOBAL_TOKEN;
  if (global !== undefined && global !== "") auth.globalToken = global;
  return auth;
}

function tokenList(text: string, what: string, fromFile: boolean): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw problem(what, `is not valid JSON: ${(err as Error).message}`, fromFile);
    }
    if (!Array.isArray(value) || !value.every((t) => typeof t === "string" && t.trim() !== "")) throw problem(what, "must be a JSON array of non-empty strings", fromFile);
    return value.map((t: string) => t.trim());
  }
  return trimmed
    .split(/[\n,]/)
    .map((t) => t.trim())
    .filter((t) => t !== "" && !t.startsWith("#"));
}

/**
 * Client API tokens for `rxon hub`: the effective `--client-tokens` value (flag, else
 * RXON_CLIENT_TOKENS, else the config file) names a file (one token a line, `#` comments, or a
 * JSON array) when such a file exists, else it is a comma list or a JSON array.
 */
export function loadClientTokens(io: CliIo, option: string | undefined): string[] {
  if (option === undefined) return [];
  if (option.trim() === "") throw new UsageError("--client-tokens names no token");
  const path = resolve(io.cwd, option);
  const isFile = option === "-" || (existsSync(path) && statSync(path).isFile());
  const tokens = tokenList(isFile ? readText(io, option) : option, isFile ? option : "--client-tokens", isFile);
  if (tokens.length === 0) throw new UsageError("--client-tokens names no token");
  return [...new Set(tokens)];
}
