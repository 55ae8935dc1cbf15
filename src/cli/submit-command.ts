/**
 * `rxon submit`, `rxon task` and `rxon cancel`: a client of the hub's HTTP client API
 * (`/_client/tasks`). The client token comes from RXON_CLIENT_TOKEN or `--client-token-file`,
 * never from argv, and is never printed.
 */
import { randomUUID } from "node:crypto";
import { Agent, request, type Dispatcher } from "undici";
import { Header } from "../../generated/constants.js";
import { canonicalize } from "../wire/canonical.js";
import { parseJson, type JsonValue } from "../wire/json.js";
import { parseRetryAfter } from "../transport/retry-after.js";
import { ExitCode, intOption, parse, readText, UsageError, type CliIo } from "./io.js";

const COMMON_OPTIONS = `  --url <url>                hub URL (http or https)
  --client-token-file <f>    read the client token from a file (default: RXON_CLIENT_TOKEN)
  --tls-ca <file>            CA that verifies the hub's certificate
  -h, --help                 show this help`;

export const submitHelp = `Usage: rxon submit --url <hub url> --type <skill> [options]

Submits a task to a hub started with --client-tokens and prints its job id; with --wait, waits
for the task to end and prints its outcome as JSON.

Options:
  --type <skill>             task type (the skill that runs it)
  --params <json>            input parameters, a JSON object
  --params-file <file>       the same, from a file (- for stdin)
  --requirements <json>      e.g. '{"resources":{"devices":[{"type":"gpu"}]},"skillVersion":"1.0.0"}'
  --priority <n>             higher runs first (default 0)
  --timeout-ms <n>           the task fails with TIMEOUT_ERROR after this long
  --max-retries <n>          re-runs after transient failures or lost workers
  --wait                     wait for the outcome and print it
${COMMON_OPTIONS}

Exit codes: 0 submitted (with --wait: the outcome's status is success), 1 failure, 2 usage error.
`;

export const taskHelp = `Usage: rxon task <job id> --url <hub url> [--wait]

Prints a task's state as JSON ({job_id, task_id, status, outcome?}); with --wait, waits for it to end.

Options:
  --wait                     wait for the task to end
${COMMON_OPTIONS}

Exit codes: 0 found (with --wait: the outcome's status is success), 1 failure or unknown job, 2 usage error.
`;

export const cancelHelp = `Usage: rxon cancel <job id> --url <hub url>

Cancels a task: a queued one ends at once, a running one is told to stop. Prints its state as JSON.

Options:
${COMMON_OPTIONS}

Exit codes: 0 cancel accepted, 1 failure or unknown job, 2 usage error.
`;

const COMMON = {
  url: { type: "string" },
  "client-token-file": { type: "string" },
  "tls-ca": { type: "string" },
} as const;

/** Longest wait asked of the hub per request; the hub caps it too (60 s by default). */
const WAIT_SECONDS = 55;
const TERMINAL = new Set(["finished", "failed", "cancelled"]);

interface Client {
  call(method: "GET" | "POST" | "DELETE", path: string, body?: string, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> | null; retryAfterMs?: number }>;
  close(): Promise<void>;
}

function clientOf(io: CliIo, values: { url?: string | undefined; "client-token-file"?: string | undefined; "tls-ca"?: string | undefined }): Client {
  if (values.url === undefined) throw new UsageError("--url is required");
  let base: URL;
  try {
    base = new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${values.url}`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError("--url must be http or https");
  const file = values["client-token-file"];
  const token = (file !== undefined ? readText(io, file) : (io.env.RXON_CLIENT_TOKEN ?? "")).trim();
  if (token === "") throw new UsageError("no client token: set RXON_CLIENT_TOKEN or give --client-token-file");
  const ca = values["tls-ca"];
  const dispatcher: Dispatcher | undefined = ca !== undefined ? new Agent({ connect: { ca: readText(io, ca) } }) : undefined;
  const root = values.url.replace(/\/+$/, "");
  return {
    async call(method, path, body, headers) {
      const res = await request(root + path, {
        method,
        headers: { [Header.CLIENT_TOKEN]: token, ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
        ...(body !== undefined ? { body } : {}),
        ...(dispatcher !== undefined ? { dispatcher } : {}),
        // A held ?wait may take up to a minute.
        headersTimeout: (WAIT_SECONDS + 30) * 1000,
      });
      const text = await boundedText(res.body, MAX_ANSWER_BYTES);
      let parsed: Record<string, unknown> | null = null;
      try {
        const v = text === "" ? null : (JSON.parse(text) as unknown);
        parsed = v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
      } catch {
        parsed = null;
      }
      const header = res.headers["retry-after"];
      const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, Date.now(), RETRY_AFTER_MAX_MS);
      return { status: res.statusCode, body: parsed, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    },
    close: async () => {
      await dispatcher?.close();
    },
  };
}

/** Longest answer read from the hub (an outcome carries result data, which the hub bounds far below). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The text of a body of at most `max` bytes; a longer one is dropped unread and is an error. */
async function boundedText(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new Error(`the hub's answer is larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Text from the hub, fit for a terminal: control characters (escape sequences, line breaks that
 * would fake a line of output) and bidirectional overrides shown as \uXXXX, at most `max` characters.
 */
function printable(value: unknown, max = 2000): string {
  return String(value)
    .slice(0, max)
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Prints a refusal of the hub (status, message, code, and pointers for 400s); returns 1. With the
 * job it was about, a 404 says why the hub may not know it.
 */
function refused(io: CliIo, command: string, status: number, body: Record<string, unknown> | null, jobId?: string): number {
  const error = typeof body?.error === "string" ? printable(body.error) : "request failed";
  const code = typeof body?.code === "string" ? ` (${printable(body.code, 64)})` : "";
  const hint = status === 404 && body === null ? " (is the client API enabled with --client-tokens?)" : "";
  io.stderr.write(`rxon ${command}: hub answered ${status}: ${error}${code}${hint}\n`);
  if (Array.isArray(body?.errors)) {
    for (const e of body.errors as { path?: unknown; message?: unknown }[]) io.stderr.write(`  ${printable(e.path, 200) || "/"}: ${printable(e.message, 500)}\n`);
  }
  if (status === 404 && body?.code === "job_not_found" && jobId !== undefined) {
    io.stderr.write(
      `rxon ${command}: the hub does not know job ${jobId}: it ended longer ago than the hub keeps ended jobs, ` +
        "it was lost when a hub without a shared store (Redis) restarted, or it was submitted with another client token\n",
    );
  }
  return ExitCode.FAILURE;
}

function jsonOption(io: CliIo, name: string, text: string): JsonValue {
  try {
    return parseJson(text);
  } catch (err) {
    throw new UsageError(`--${name} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Longest `Retry-After` a waiting command honours. */
const RETRY_AFTER_MAX_MS = 30_000;
/** Answers that say "try again" rather than "no": the wait (and the submission) goes on through them. */
const RETRYABLE = new Set([429, 502, 503, 504]);
/** Longest run of failed polls (hub unreachable or answering 503) before `--wait` gives up. */
const GIVE_UP_MS = 5 * 60_000;

/** First hold is short, so a task nobody takes is reported within seconds, then long holds. */
const FIRST_WAIT_SECONDS = 2;

/**
 * Polls `GET ?wait` until the job ends; returns the last answer. Says on stderr what it waits for
 * (stdout stays machine-readable): the job and skill, each state change, a task still waiting for a worker
 * after the first hold (no worker has taken it), and any warning the hub gives.
 */
async function waitForEnd(client: Client, jobId: string, io: CliIo, command: string, skill?: string): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const what = skill !== undefined ? `job ${jobId} (skill '${skill}')` : `job ${jobId}`;
  io.stderr.write(`rxon ${command}: waiting for ${what} to end\n`);
  let last = "";
  let warned = false;
  const warnings = new Set<string>();
  // A hub restarting, or its store away for a moment (503, 502, 504, a cut connection), does not
  // end the wait: the job lives on in the store. Only a run of such failures longer than
  // GIVE_UP_MS does, naming the job so the wait can be resumed.
  let troubleSince: number | undefined;
  let delay = 1000;
  for (let round = 0; ; round++) {
    const seconds = round === 0 ? FIRST_WAIT_SECONDS : WAIT_SECONDS;
    let answer: Awaited<ReturnType<Client["call"]>>;
    let trouble: string | undefined;
    try {
      answer = await client.call("GET", `/_client/tasks/${encodeURIComponent(jobId)}?wait=${seconds}`);
      if (RETRYABLE.has(answer.status)) trouble = `hub answered ${answer.status}${typeof answer.body?.error === "string" ? `: ${printable(answer.body.error)}` : ""}`;
    } catch (err) {
      answer = { status: 0, body: null };
      trouble = err instanceof Error ? err.message : String(err);
    }
    if (trouble !== undefined) {
      const now = Date.now();
      if (troubleSince === undefined) {
        troubleSince = now;
        io.stderr.write(`rxon ${command}: ${trouble}; still waiting for ${what} (the task is not affected)\n`);
      }
      if (now - troubleSince >= (Number(io.env.RXON_WAIT_GIVE_UP_MS) || GIVE_UP_MS)) {
        if (answer.status !== 0) return answer;
        throw new Error(`lost the hub while waiting for ${what}: ${trouble}; the task may still run: rxon task ${jobId} --wait`);
      }
      await new Promise((r) => setTimeout(r, Math.max(delay, answer.retryAfterMs ?? 0)));
      delay = Math.min(delay * 2, 10_000);
      continue;
    }
    if (troubleSince !== undefined) io.stderr.write(`rxon ${command}: the hub answers again\n`);
    troubleSince = undefined;
    delay = 1000;
    const state = String(answer.body?.status);
    if (answer.status !== 200 || TERMINAL.has(state)) return answer;
    const warning = answer.body?.warning;
    if (typeof warning === "string" && !warnings.has(warning)) {
      warnings.add(warning);
      io.stderr.write(`rxon ${command}: hub: ${printable(warning)}\n`);
    }
    if (state !== last && round > 0) io.stderr.write(`rxon ${command}: ${what} is ${printable(state, 64)}\n`);
    if ((state === "waiting_for_worker" || state === "queued") && !warned) {
      warned = true;
      io.stderr.write(
        `rxon ${command}: ${what} is still waiting for a worker: no worker has taken it yet` +
          (skill !== undefined ? ` (is a worker offering skill '${skill}', with matching resources, connected to this hub?)` : "") +
          "; still waiting (Ctrl-C stops waiting, the task stays queued)\n",
      );
    }
    last = state;
  }
}

/**
 * Posts the submission, again through answers that say "try again" (429 past the queue limits,
 * 503 while the store is away, a cut connection), after their `Retry-After`, for at most the
 * give-up time. An `Idempotency-Key` names the submission, so a retry of one that was queued
 * after all answers that job instead of queuing a second.
 */
async function submitTask(client: Client, text: string, io: CliIo): Promise<Awaited<ReturnType<Client["call"]>>> {
  const headers = { "Idempotency-Key": `rxon-submit-${randomUUID()}` };
  let troubleSince: number | undefined;
  let delay = 1000;
  for (;;) {
    let answer: Awaited<ReturnType<Client["call"]>>;
    let trouble: string | undefined;
    try {
      answer = await client.call("POST", "/_client/tasks", text, headers);
      if (RETRYABLE.has(answer.status)) trouble = `hub answered ${answer.status}${typeof answer.body?.error === "string" ? `: ${printable(answer.body.error)}` : ""}`;
    } catch (err) {
      answer = { status: 0, body: null };
      trouble = err instanceof Error ? err.message : String(err);
    }
    if (trouble === undefined) return answer;
    const now = Date.now();
    if (troubleSince === undefined) {
      troubleSince = now;
      io.stderr.write(`rxon submit: ${trouble}; trying again${answer.retryAfterMs !== undefined ? ` as the hub asks (Retry-After)` : ""}\n`);
    }
    if (now - troubleSince >= (Number(io.env.RXON_WAIT_GIVE_UP_MS) || GIVE_UP_MS)) {
      if (answer.status !== 0) return answer;
      throw new Error(`could not submit: ${trouble}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(delay, answer.retryAfterMs ?? 0)));
    delay = Math.min(delay * 2, 10_000);
  }
}

function succeeded(view: Record<string, unknown> | null): boolean {
  const outcome = view?.outcome as { status?: unknown } | undefined;
  return outcome?.status === "success";
}

/** `rxon submit`. */
export async function submitCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(
    argv,
    {
      ...COMMON,
      type: { type: "string" },
      params: { type: "string" },
      "params-file": { type: "string" },
      requirements: { type: "string" },
      priority: { type: "string" },
      "timeout-ms": { type: "string" },
      "max-retries": { type: "string" },
      wait: { type: "boolean" },
    },
    false,
  );
  if (values.help) return void io.stdout.write(submitHelp), ExitCode.OK;
  if (values.type === undefined) throw new UsageError("--type is required");
  if (values.params !== undefined && values["params-file"] !== undefined) throw new UsageError("give --params or --params-file, not both");
  const paramsText = values.params ?? (values["params-file"] !== undefined ? readText(io, values["params-file"]) : undefined);
  const priority = values.priority !== undefined ? Number(values.priority) : undefined;
  if (priority !== undefined && !Number.isInteger(priority)) throw new UsageError("--priority must be an integer");
  const body: Record<string, unknown> = {
    type: values.type,
    ...(paramsText !== undefined ? { params: jsonOption(io, "params", paramsText) } : {}),
    ...(values.requirements !== undefined ? { requirements: jsonOption(io, "requirements", values.requirements) } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(values["timeout-ms"] !== undefined ? { timeoutMs: intOption(values["timeout-ms"], "timeout-ms", 0, 1) } : {}),
    ...(values["max-retries"] !== undefined ? { maxRetries: intOption(values["max-retries"], "max-retries", 0) } : {}),
  };
  const client = clientOf(io, values);
  try {
    const submitted = await submitTask(client, canonicalize(body), io);
    if (submitted.status !== 202 || typeof submitted.body?.job_id !== "string") return refused(io, "submit", submitted.status, submitted.body);
    const jobId = submitted.body.job_id;
    io.stdout.write(`${jobId}\n`);
    if (!values.wait) return ExitCode.OK;
    const end = await waitForEnd(client, jobId, io, "submit", values.type);
    if (end.status !== 200) return refused(io, "submit", end.status, end.body, jobId);
    io.stdout.write(`${JSON.stringify(end.body?.outcome ?? null)}\n`);
    return succeeded(end.body) ? ExitCode.OK : ExitCode.FAILURE;
  } finally {
    await client.close();
  }
}

function jobIdOf(positionals: string[], command: string): string {
  if (positionals.length !== 1 || positionals[0] === "") throw new UsageError(`rxon ${command} takes exactly one job id`);
  return positionals[0]!;
}

/** `rxon task <job id>`. */
export async function taskCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON, wait: { type: "boolean" } });
  if (values.help) return void io.stdout.write(taskHelp), ExitCode.OK;
  const jobId = jobIdOf(positionals, "task");
  const client = clientOf(io, values);
  try {
    const answer = values.wait ? await waitForEnd(client, jobId, io, "task") : await client.call("GET", `/_client/tasks/${encodeURIComponent(jobId)}`);
    if (answer.status !== 200) return refused(io, "task", answer.status, answer.body, jobId);
    io.stdout.write(`${JSON.stringify(answer.body)}\n`);
    return !values.wait || succeeded(answer.body) ? ExitCode.OK : ExitCode.FAILURE;
  } finally {
    await client.close();
  }
}

/** `rxon cancel <job id>`. */
export async function cancelCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, COMMON);
  if (values.help) return void io.stdout.write(cancelHelp), ExitCode.OK;
  const jobId = jobIdOf(positionals, "cancel");
  const client = clientOf(io, values);
  try {
    const answer = await client.call("DELETE", `/_client/tasks/${encodeURIComponent(jobId)}`);
    if (answer.status !== 202) return refused(io, "cancel", answer.status, answer.body, jobId);
    io.stdout.write(`${JSON.stringify(answer.body)}\n`);
    return ExitCode.OK;
  } finally {
    await client.close();
  }
}
