/**
 * The body of `POST /_client/tasks`, checked strictly: every problem is reported with its JSON
 * pointer (all of them, not the first), unknown members are refused, and the result is a
 * {@link SubmitOptions} the hub can take as is.
 */
import type { InstalledArtifact, Resources } from "../../generated/types.js";
import { ValidationError, type ValidationIssue } from "../errors.js";
import { decode, MAX_REPORTED_ISSUES } from "../wire/codec.js";
import type { JsonValue } from "../wire/json.js";
import type { SubmitOptions, TaskRequirements } from "./types.js";

/** Longest relative timeout accepted (30 days): anything longer is a mistake, not a plan. */
const MAX_TIMEOUT_MS = 30 * 24 * 3600 * 1000;
/** Most retries a client may ask for. */
const MAX_RETRIES = 100;
/** Longest task type (skill name) accepted. */
const MAX_TYPE_LENGTH = 128;

const SUBMIT_KEYS = new Set(["type", "params", "requirements", "priority", "timeoutMs", "deadline", "maxRetries", "metadata"]);
const REQUIREMENT_KEYS = new Set(["resources", "skillVersion", "skillType", "artifacts", "software", "extra"]);

type Obj = Record<string, JsonValue>;

function isObject(v: JsonValue | undefined): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function escape(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Runs a model decode, re-rooting its issues under `base`. */
function decodeAt<T>(model: "Resources" | "InstalledArtifact", value: JsonValue, base: string, issues: ValidationIssue[]): T | undefined {
  try {
    return decode(model, value) as T;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    for (const e of err.errors) issues.push({ path: base + e.path, message: e.message });
    return undefined;
  }
}

function requirementsOf(value: JsonValue, issues: ValidationIssue[]): TaskRequirements | undefined {
  const base = "/requirements";
  if (!isObject(value)) {
    issues.push({ path: base, message: "must be an object" });
    return undefined;
  }
  const out: TaskRequirements = {};
  for (const key of Object.keys(value)) {
    if (!REQUIREMENT_KEYS.has(key)) issues.push({ path: `${base}/${escape(key)}`, message: "unknown member" });
  }
  if (value.resources !== undefined) {
    const r = decodeAt<Resources>("Resources", value.resources, `${base}/resources`, issues);
    if (r !== undefined) out.resources = r;
  }
  for (const key of ["skillVersion", "skillType"] as const) {
    const v = value[key];
    if (v === undefined) continue;
    if (typeof v !== "string" || v === "" || v.length > MAX_TYPE_LENGTH) issues.push({ path: `${base}/${key}`, message: `must be a non-empty string of at most ${MAX_TYPE_LENGTH} characters` });
    else out[key] = v;
  }
  if (value.artifacts !== undefined) {
    if (!Array.isArray(value.artifacts)) issues.push({ path: `${base}/artifacts`, message: "must be an array" });
    else {
      const list: (InstalledArtifact | string)[] = [];
      value.artifacts.forEach((a, i) => {
        if (typeof a === "string") {
          if (a === "") issues.push({ path: `${base}/artifacts/${i}`, message: "must not be empty" });
          else list.push(a);
        } else {
          const art = decodeAt<InstalledArtifact>("InstalledArtifact", a, `${base}/artifacts/${i}`, issues);
          if (art !== undefined) list.push(art);
        }
      });
      out.artifacts = list;
    }
  }
  if (value.software !== undefined) {
    if (!isObject(value.software)) issues.push({ path: `${base}/software`, message: "must be an object of strings" });
    else {
      const software: Record<string, string> = {};
      for (const [name, version] of Object.entries(value.software)) {
        if (typeof version !== "string" || version === "") issues.push({ path: `${base}/software/${escape(name)}`, message: "must be a non-empty string" });
        else software[name] = version;
      }
      out.software = software;
    }
  }
  if (value.extra !== undefined) {
    if (!isObject(value.extra)) issues.push({ path: `${base}/extra`, message: "must be an object" });
    else out.extra = value.extra;
  }
  return out;
}

function isInteger(v: JsonValue | undefined): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

/**
 * Turns a parsed request body into submit options; throws a {@link ValidationError} (400) listing
 * every problem with its JSON pointer.
 */
export function submitOptionsOf(body: JsonValue): SubmitOptions {
  if (!isObject(body)) throw new ValidationError("Request body must be a JSON object", [{ path: "", message: "must be an object" }]);
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(body)) {
    if (!SUBMIT_KEYS.has(key)) issues.push({ path: `/${escape(key)}`, message: "unknown member" });
  }
  const { type, params, requirements, priority, timeoutMs, deadline, maxRetries, metadata } = body;
  if (type === undefined) issues.push({ path: "/type", message: "required" });
  else if (typeof type !== "string" || !/^[A-Za-z0-9_-]+$/.test(type) || type.length > MAX_TYPE_LENGTH) {
    issues.push({ path: "/type", message: `must be a skill name (letters, digits, _ and -, at most ${MAX_TYPE_LENGTH})` });
  }
  if (params !== undefined && !isObject(params)) issues.push({ path: "/params", message: "must be an object" });
  if (metadata !== undefined && !isObject(metadata)) issues.push({ path: "/metadata", message: "must be an object" });
  const reqs = requirements !== undefined ? requirementsOf(requirements, issues) : undefined;
  if (priority !== undefined && !(isInteger(priority) && Math.abs(priority) <= 1_000_000)) {
    issues.push({ path: "/priority", message: "must be an integer between -1000000 and 1000000" });
  }
  if (timeoutMs !== undefined && !(isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    issues.push({ path: "/timeoutMs", message: `must be an integer between 1 and ${MAX_TIMEOUT_MS}` });
  }
  let deadlineMs: number | undefined;
  if (deadline !== undefined) {
    // Epoch milliseconds, or an ISO 8601 date-time text.
    deadlineMs = isInteger(deadline) && deadline > 0 ? deadline : typeof deadline === "string" && deadline.length <= 64 ? Date.parse(deadline) : NaN;
    if (!Number.isFinite(deadlineMs)) issues.push({ path: "/deadline", message: "must be epoch milliseconds or an ISO 8601 date-time" });
    if (timeoutMs !== undefined) issues.push({ path: "/deadline", message: "give either deadline or timeoutMs, not both" });
  }
  if (maxRetries !== undefined && !(isInteger(maxRetries) && maxRetries >= 0 && maxRetries <= MAX_RETRIES)) {
    issues.push({ path: "/maxRetries", message: `must be an integer between 0 and ${MAX_RETRIES}` });
  }
  if (issues.length > 0) {
    const first = issues[0]!;
    // The first problems are listed, as decode() does: a body of many unknown members is not answered with all of them.
    throw new ValidationError(`Invalid task: ${first.path || "/"} ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`, issues.slice(0, MAX_REPORTED_ISSUES));
  }
  return {
    type: type as string,
    ...(params !== undefined ? { params: params as Obj } : {}),
    ...(reqs !== undefined ? { requirements: reqs } : {}),
    ...(priority !== undefined ? { priority: priority as number } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs: timeoutMs as number } : {}),
    ...(deadlineMs !== undefined ? { deadline: deadlineMs } : {}),
    ...(maxRetries !== undefined ? { maxRetries: maxRetries as number } : {}),
    ...(metadata !== undefined ? { metadata: metadata as Obj } : {}),
  };
}
