/**
 * CLI logs as an operator sees them: a hub and a worker as real processes, a task, refused
 * requests (one carrying a real secret in the wrong place); every stderr line must be a JSON object
 * with snake_case keys, each refusal logged once with its reason and worker id, and no configured
 * secret anywhere.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliLogger, prettyLine, snakeCase } from "../../src/cli/log.js";
import { hubUrl, registered, start, stop, type Proc } from "../e2e/procs.js";

const WORKER_SECRET = "worker-secret-4c1d9e7a";
const OTHER_SECRET = "other-secret-b83f0a52";
const GLOBAL_TOKEN = "global-token-0e9d1c3f";
const CLIENT_TOKEN = "client-token-7a6b5c4d";
const SECRETS = [WORKER_SECRET, OTHER_SECRET, GLOBAL_TOKEN, CLIENT_TOKEN];
const dir = mkdtempSync(join(tmpdir(), "rxon-logs-"));
let hub: Proc | undefined;
let worker: Proc | undefined;
let url = "";

function entries(p: Proc): Record<string, unknown>[] {
  return p.stderr.map((line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON line: ${line}`);
    }
    // JSON.parse keeps the last of two equal keys; a collector may keep either, or refuse the line.
    const keys = topLevelKeys(line);
    expect(keys.length, `duplicate keys in ${line}`).toBe(new Set(keys).size);
    return entry;
  });
}

/** The top-level member names of a JSON object's text, repeats included, in order. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = c === "{" && depth === 1;
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return keys;
}

beforeAll(async () => {
  writeFileSync(join(dir, "clients.txt"), `${CLIENT_TOKEN}\n`);
  writeFileSync(join(dir, "tokens.json"), JSON.stringify({ tokens: { w1: WORKER_SECRET, w2: OTHER_SECRET }, globalToken: GLOBAL_TOKEN }));
  hub = start(["src/cli/main.ts", "hub", "--port", "0", "--tokens", join(dir, "tokens.json"), "--log-level", "debug"], { RXON_CLIENT_TOKENS: join(dir, "clients.txt") });
  url = await hubUrl(hub);
  worker = start(["src/cli/main.ts", "worker", "--url", url, "--id", "w1", "--skills", "examples/skills.ts", "--log-level", "debug"], { RXON_TOKEN: WORKER_SECRET });
  await registered(worker);
}, 60_000);

afterAll(async () => {
  await stop(worker);
  await stop(hub);
  rmSync(dir, { recursive: true, force: true });
});

describe("CLI logs", () => {
  it("are JSON lines with snake_case keys, log each refusal once with reason and worker id, and never show a secret", async () => {
    // A worker presenting another worker's real secret: refused, and the secret must not be logged.
    const refused = await fetch(`${url}/_worker/workers/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Worker-ID": "w2", "X-Worker-Token": WORKER_SECRET, "X-RXON-Version": "1.0b15" },
      body: JSON.stringify({ worker_id: "w2", token: WORKER_SECRET, supported_skills: [] }),
    });
    expect(refused.status).toBe(403);
    const badClient = await fetch(`${url}/_client/tasks`, { method: "POST", headers: { "Content-Type": "application/json", "X-Client-Token": OTHER_SECRET }, body: "{}" });
    expect(badClient.status).toBe(403);
    const submitted = await fetch(`${url}/_client/tasks`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Client-Token": CLIENT_TOKEN },
      body: JSON.stringify({ type: "echo", params: { message: `hello ${CLIENT_TOKEN.slice(0, 4)}` } }),
    });
    const { job_id } = (await submitted.json()) as { job_id: string };
    const done = await fetch(`${url}/_client/tasks/${job_id}?wait=30`, { headers: { "X-Client-Token": CLIENT_TOKEN } });
    expect(((await done.json()) as { outcome: { status: string } }).outcome.status).toBe("success");

    hub!.child.kill("SIGTERM");
    worker!.child.kill("SIGTERM");
    expect(await hub!.exited).toBe(0);
    expect(await worker!.exited).toBe(0);

    for (const [name, p] of [["hub", hub!], ["worker", worker!]] as const) {
      const lines = entries(p);
      expect(lines.length, name).toBeGreaterThan(1);
      for (const e of lines) {
        expect(typeof e.msg, JSON.stringify(e)).toBe("string");
        expect(typeof e.time).toBe("string");
        expect(["trace", "debug", "info", "warn", "error", "fatal"]).toContain(e.level);
        for (const key of Object.keys(e)) expect(key, `${name}: ${JSON.stringify(e)}`).toMatch(/^[a-z0-9_]+$/);
      }
      const text = p.stderr.join("\n") + p.lines.join("\n");
      for (const secret of SECRETS) expect(text.includes(secret), `${name} logged a secret`).toBe(false);
    }
    const hubLines = entries(hub!);
    // At info and above, one line per refusal, with its reason and the worker id.
    const registerRefusals = hubLines.filter((e) => e.level !== "debug" && e.worker_id === "w2");
    expect(registerRefusals).toHaveLength(1);
    expect(registerRefusals[0]).toMatchObject({ level: "warn", reason: "bad_token", action: "register" });
    const clientRefusals = hubLines.filter((e) => e.level !== "debug" && e.reason === "bad_client_token");
    expect(clientRefusals).toHaveLength(1);
    expect(hubLines.some((e) => e.msg === "hub: listening" && e.url === url)).toBe(true);
    expect(entries(worker!).every((e) => e.worker_id === "w1")).toBe(true);
  }, 60_000);
});

describe("cliLogger", () => {
  it("redacts secret keys and configured secret values, converts keys to snake_case, and has a pretty form", () => {
    let out = "";
    const logger = cliLogger({ level: "info", format: "json", stream: { write: (s: string) => (out += s) }, secrets: ["s3cr3t-value\"quoted"] });
    logger.info({ workerId: "w1", token: "abc", headers: { authorization: "Bearer x" }, note: 'the s3cr3t-value"quoted leaked', clientTokens: ["c1"] }, "hello");
    logger.debug({ hidden: true }, "below the level");
    const line = JSON.parse(out) as Record<string, unknown>;
    expect(line).toMatchObject({ level: "info", msg: "hello", worker_id: "w1", token: "[redacted]", headers: { authorization: "[redacted]" }, note: "the [redacted] leaked", client_tokens: "[redacted]" });
    expect(out.split("\n").filter(Boolean)).toHaveLength(1);
    expect(snakeCase("jobId")).toBe("job_id");
    expect(snakeCase("HTTPStatus")).toBe("http_status");
    expect(snakeCase("already_snake")).toBe("already_snake");
    expect(prettyLine(out)).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  hello worker_id=w1 token=\[redacted\]/);
  });
});
