/**
 * `rxon conformance --url <orchestrator>`: checks a live orchestrator's worker routes one by one
 * (status codes, bodies against the schemas, headers, size of error answers) the way an rxon or
 * Python worker depends on them. For implementers of orchestrators in other languages; the
 * project's own hub passes it. It registers a worker (default id `rxon-conformance`), sends one
 * heartbeat, polls once with a short timeout, sends a result and an event for a job that does not
 * exist, and opens the WebSocket: run it against a test instance, not a busy production one.
 */
import WebSocket from "ws";
import { Endpoint, Header, Limit, ProtocolVersion } from "../../generated/constants.js";
import { signHmac } from "../security/hmac.js";
import { check, type ModelName } from "../wire/codec.js";
import { ExitCode, intOption, parse, readText, UsageError, type CliIo } from "./io.js";

export const conformanceHelp = `Usage: rxon conformance --url <orchestrator> [options]

Checks a live orchestrator route by route: each check prints PASS or FAIL with the reason, then a
summary. Exit code 0 when every check passes, 1 when one fails, 2 for a usage error.

Options:
  --url <url>              base URL of the orchestrator (http:// or https://)
  --worker-id <id>         worker id to register (default rxon-conformance)
  --token <t>              X-Worker-Token (prefer --token-file or RXON_TOKEN: argv is visible)
  --token-file <file>      read the token from a file
  --secret <s>             HMAC signing secret (default: the token; or RXON_SECRET)
  --protocol-version <v>   X-RXON-Version to send (default ${ProtocolVersion.CURRENT})
  --poll-timeout <s>       timeout asked for on the poll (default 1; a Python orchestrator holds 30 s anyway)
  --json                   print the results as one JSON object instead of lines
  -h, --help               show this help
`;

/** One check's outcome. */
export interface CheckResult {
  /** Short name, e.g. `register`. */
  name: string;
  /** Whether the orchestrator answered as the protocol says. */
  ok: boolean;
  /** What was seen (PASS) or what was wrong (FAIL), one line. */
  detail: string;
}

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /** Base URL of the orchestrator. */
  url: string;
  /** Worker id to register. Default `rxon-conformance`. */
  workerId?: string;
  /** X-Worker-Token; empty for an open orchestrator. */
  token?: string;
  /** HMAC secret for signing messages (default: the token; unsigned when both are empty). */
  secret?: string;
  /** X-RXON-Version sent. Default the current protocol version. */
  protocolVersion?: string;
  /** `timeout` query value of the poll, in seconds. Default 1. */
  pollTimeoutSeconds?: number;
  /** Time allowed for one request, in ms. Default poll timeout + 35 s (a Python orchestrator holds polls 30 s). */
  requestTimeoutMs?: number;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** A check's failure: the message is the reason shown after FAIL. */
class Mismatch extends Error {}

/** An error answer may not be much larger than the request that caused it (and never large). */
const ERROR_BODY_SLACK = 4096;

/** Runs every check against `options.url`; never throws for an orchestrator's misbehaviour. */
export async function runConformance(options: ConformanceOptions): Promise<CheckResult[]> {
  const base = options.url.replace(/\/+$/, "");
  const workerId = options.workerId ?? "rxon-conformance";
  const token = options.token ?? "";
  const secret = options.secret ?? token;
  const version = options.protocolVersion ?? ProtocolVersion.CURRENT;
  const pollTimeout = options.pollTimeoutSeconds ?? 1;
  const timeoutMs = options.requestTimeoutMs ?? (pollTimeout + 35) * 1000;
  const results: CheckResult[] = [];

  const headers = (auth: boolean, json: boolean): Record<string, string> => ({
    [Header.WORKER_ID]: workerId,
    [Header.VERSION]: version,
    ...(auth && token !== "" ? { [Header.WORKER_TOKEN]: token } : {}),
    ...(json ? { "Content-Type": "application/json" } : {}),
  });

  async function send(method: string, path: string, body?: string, auth = true): Promise<Answer> {
    let res: Response;
    try {
      res = await fetch(base + path, { method, headers: headers(auth, body !== undefined), body, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new Mismatch(`no answer (${(err as Error).name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : cause ?? (err as Error).message})`);
    }
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** A message as a worker sends it: stamped with the time and, when there is a secret, signed. */
  function signed(message: Record<string, unknown>, ignoreFields: string[] = []): string {
    const stamped = { ...message, timestamp: Math.floor(Date.now() / 1000) };
    if (secret === "") return JSON.stringify(stamped);
    return JSON.stringify({ ...stamped, security: { signature: signHmac(stamped, secret, { ignoreFields }), signer_id: workerId } });
  }

  const statusIs = (a: Answer, ...expected: number[]): void => {
    if (!expected.includes(a.status)) throw new Mismatch(`expected HTTP ${expected.join(" or ")}, got ${a.status}${a.text ? `: ${oneLine(a.text)}` : ""}`);
  };
  const jsonOf = (a: Answer): unknown => {
    const type = a.headers.get("content-type") ?? "";
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) throw new Mismatch(`expected a JSON body, got Content-Type "${type}"`);
    try {
      return JSON.parse(a.text);
    } catch {
      throw new Mismatch(`body is not valid JSON: ${oneLine(a.text)}`);
    }
  };
  const model = (a: Answer, name: ModelName): Record<string, unknown> => {
    const value = jsonOf(a);
    const issues = check(name, value);
    if (issues.length > 0) throw new Mismatch(`body is not a valid ${name}: ${issues[0]!.path || "/"} ${issues[0]!.message}`);
    return value as Record<string, unknown>;
  };
  const versionHeader = (a: Answer): void => {
    if (!a.headers.get(Header.VERSION)) throw new Mismatch(`answer has no ${Header.VERSION} header`);
  };
  const errorAnswer = (a: Answer, requestBytes: number): void => {
    if (a.text.length > requestBytes + ERROR_BODY_SLACK) throw new Mismatch(`error body of ${a.text.length} bytes for a request of ${requestBytes} (leaks or amplifies)`);
    model(a, "ErrorResponse");
  };

  async function run(name: string, body: () => Promise<string>): Promise<void> {
    try {
      results.push({ name, ok: true, detail: await body() });
    } catch (err) {
      results.push({ name, ok: false, detail: err instanceof Mismatch ? err.message : `check crashed: ${(err as Error).message}` });
    }
  }

  const registration = { worker_id: workerId, worker_type: "generic", supported_skills: [{ name: "conformance-probe", type: "conformance-probe" }] };
  const heartbeatPath = Endpoint.HEARTBEAT.replace("{worker_id}", workerId);

  await run("unknown route", async () => {
    const a = await send("GET", `${Endpoint.PREFIX}/no-such-route`);
    statusIs(a, 404);
    return "404";
  });
  await run("wrong method", async () => {
    const a = await send("DELETE", Endpoint.REGISTER);
    statusIs(a, 405);
    return "405";
  });
  await run("register without credentials", async () => {
    if (token === "") return "skipped: no token given (the orchestrator may be open)";
    const body = signed(registration);
    const a = await send("POST", Endpoint.REGISTER, body, false);
    statusIs(a, 401, 403);
    errorAnswer(a, body.length);
    return `${a.status} ErrorResponse`;
  });
  await run("register with malformed JSON", async () => {
    const body = '{"worker_id": ';
    const a = await send("POST", Endpoint.REGISTER, body);
    statusIs(a, 400);
    errorAnswer(a, body.length);
    return "400 ErrorResponse";
  });
  await run("register with a forbidden worker id", async () => {
    const body = signed({ ...registration, worker_id: `${workerId}\n` });
    const a = await send("POST", Endpoint.REGISTER, body);
    statusIs(a, 400, 403);
    errorAnswer(a, body.length);
    return `${a.status} ErrorResponse`;
  });
  await run("register with an oversized body", async () => {
    const body = JSON.stringify({ ...registration, metadata: { padding: "x".repeat(Limit.MAX_BODY_BYTES + 1024) } });
    const a = await send("POST", Endpoint.REGISTER, body);
    statusIs(a, 413);
    if (a.text.length > ERROR_BODY_SLACK) throw new Mismatch(`413 body of ${a.text.length} bytes`);
    return "413";
  });
  await run("register", async () => {
    const a = await send("POST", Endpoint.REGISTER, signed(registration));
    statusIs(a, 200);
    versionHeader(a);
    const body = model(a, "RegisterResponse");
    if (body.status !== "registered") throw new Mismatch(`expected status "registered", got ${JSON.stringify(body.status)}`);
    return `200 RegisterResponse${typeof body.version === "string" ? ` (version ${body.version})` : ""}`;
  });
  await run("heartbeat", async () => {
    const a = await send("PATCH", heartbeatPath, signed({ worker_id: workerId, status: "idle", current_tasks: [] }));
    statusIs(a, 200);
    versionHeader(a);
    const body = model(a, "HeartbeatResponse");
    return `200 HeartbeatResponse (status ${String(body.status)})`;
  });
  await run("heartbeat without a body", async () => {
    const a = await send("PATCH", heartbeatPath);
    statusIs(a, 200);
    if (jsonOf(a) !== null) model(a, "HeartbeatResponse");
    return "200";
  });
  await run("heartbeat with a bad signature", async () => {
    if (secret === "") return "skipped: no secret, nothing is signed";
    const message = JSON.parse(signed({ worker_id: workerId, status: "idle" })) as Record<string, unknown>;
    const body = JSON.stringify({ ...message, security: { signature: "0".repeat(64), signer_id: workerId } });
    const a = await send("PATCH", heartbeatPath, body);
    statusIs(a, 401, 403);
    errorAnswer(a, body.length);
    return `${a.status} ErrorResponse`;
  });
  await run("poll", async () => {
    const path = `${Endpoint.NEXT_TASK.replace("{worker_id}", workerId)}?timeout=${pollTimeout.toFixed(1)}`;
    const a = await send("GET", path);
    statusIs(a, 200, 204);
    if (a.status === 204) {
      if (a.text !== "") throw new Mismatch("204 with a body");
      return "204 (no task)";
    }
    versionHeader(a);
    model(a, "TaskPayload");
    return "200 TaskPayload";
  });
  await run("result for an unknown job", async () => {
    const a = await send("POST", Endpoint.RESULT, signed({ job_id: "conformance-no-such-job", task_id: "conformance-no-such-task", worker_id: workerId, status: "success", data: {} }));
    statusIs(a, 200);
    versionHeader(a);
    const body = model(a, "ResultResponse");
    if (body.status !== "ignored" || body.reason !== "job_not_found") throw new Mismatch(`expected {"status":"ignored","reason":"job_not_found"}, got ${oneLine(a.text)}`);
    return "200 ignored job_not_found";
  });
  await run("event", async () => {
    const event = { event_id: `conformance-${Date.now()}`, worker_id: workerId, origin_worker_id: workerId, event_type: "progress", payload: { progress: 0.5, message: "conformance" }, bubbling_chain: [], priority: 0 };
    const a = await send("POST", Endpoint.EVENTS, signed(event, ["bubbling_chain"]));
    statusIs(a, 200);
    versionHeader(a);
    const body = model(a, "EventResponse");
    return `200 EventResponse (status ${String(body.status)})`;
  });
  await run("STS token", async () => {
    const a = await send("POST", Endpoint.STS_TOKEN);
    if (a.status === 404 || a.status === 405) return `skipped: STS not offered (${a.status})`;
    statusIs(a, 200);
    const body = model(a, "TokenResponse");
    if (body.worker_id !== workerId) throw new Mismatch(`token issued to ${JSON.stringify(body.worker_id)}, not ${workerId}`);
    return `200 TokenResponse (expires_in ${String(body.expires_in)})`;
  });
  await run("WebSocket without credentials", async () => {
    if (token === "") return "skipped: no token given";
    const status = await upgrade(false);
    if (status !== 401 && status !== 403) throw new Mismatch(`expected the upgrade to be refused with 401 or 403, got ${status}`);
    return String(status);
  });
  await run("WebSocket", async () => {
    const status = await upgrade(true);
    if (status !== 101) throw new Mismatch(`expected 101 Switching Protocols, got ${status}`);
    return "101";
  });
  return results;

  /** Opens the command channel and closes it at once; resolves with the HTTP status of the handshake. */
  function upgrade(auth: boolean): Promise<number> {
    const url = base.replace(/^http/, "ws") + Endpoint.WEBSOCKET.replace("{worker_id}", workerId);
    return new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: headers(auth, false), handshakeTimeout: Math.min(timeoutMs, 10_000) });
      ws.on("open", () => {
        ws.close(1000);
        resolve(101);
      });
      ws.on("unexpected-response", (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on("error", (err) => reject(new Mismatch(`no WebSocket answer (${err.message})`)));
    });
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}...` : flat;
}

/** Runs the command; returns the exit code. */
export async function conformanceCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(
    argv,
    {
      url: { type: "string" },
      "worker-id": { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      secret: { type: "string" },
      "protocol-version": { type: "string" },
      "poll-timeout": { type: "string" },
      json: { type: "boolean" },
    },
    false,
  );
  if (values.help) return void io.stdout.write(conformanceHelp), ExitCode.OK;
  if (values.url === undefined) throw new UsageError("--url is required");
  if (!/^https?:\/\/[^/]/.test(values.url)) throw new UsageError(`--url must start with http:// or https:// (got ${values.url})`);
  const workerId = values["worker-id"] ?? "rxon-conformance";
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(workerId)) throw new UsageError("--worker-id must be 1 to 128 letters, digits, _ or -");
  const token = values.token ?? (values["token-file"] !== undefined ? readText(io, values["token-file"]).trim() : io.env.RXON_TOKEN) ?? "";
  const secret = values.secret ?? io.env.RXON_SECRET ?? token;
  const pollTimeoutSeconds = intOption(values["poll-timeout"], "poll-timeout", 1, 0);
  const results = await runConformance({
    url: values.url,
    workerId,
    token,
    secret,
    pollTimeoutSeconds,
    ...(values["protocol-version"] !== undefined ? { protocolVersion: values["protocol-version"] } : {}),
  });
  const failed = results.filter((r) => !r.ok).length;
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ url: values.url, passed: results.length - failed, failed, checks: results })}\n`);
  } else {
    for (const r of results) io.stdout.write(`${r.ok ? "PASS" : "FAIL"} ${r.name}: ${r.detail}\n`);
    io.stdout.write(`conformance: ${results.length - failed} passed, ${failed} failed against ${values.url}\n`);
  }
  return failed === 0 ? ExitCode.OK : ExitCode.FAILURE;
}
