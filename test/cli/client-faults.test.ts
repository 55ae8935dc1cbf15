/**
 * `rxon submit` and `rxon task --wait` against hubs that push back or fail: 429 with Retry-After
 * past the queue limits (and from a proxy in front of the hub), a connection cut after the hub
 * took the submission, and a hub on the memory store that restarts mid-wait (the job is gone).
 * Real hubs on 127.0.0.1:0 (in process, and `rxon hub` processes), real HTTP.
 */
import { execFile } from "node:child_process";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { CliIo } from "../../src/cli/io.js";
import { Hub } from "../../src/hub/index.js";
import { hubUrl, ROOT, start, stop, until, type Proc } from "../e2e/procs.js";
import { api } from "../hub/client-http.js";

const CLIENT = "client-token-cli-faults-3e9d";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Runs the CLI in process; `err()` shows its stderr so far. */
function run(argv: string[], env: Record<string, string> = {}): { done: Promise<{ code: number; out: string; err: string }>; err: () => string } {
  let out = "";
  let err = "";
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: { RXON_CLIENT_TOKEN: CLIENT, ...env }, cwd: process.cwd() };
  return { done: main(argv, io).then((code) => ({ code, out, err })), err: () => err };
}

async function inProcessHub(options: ConstructorParameters<typeof Hub>[0] = {}): Promise<{ hub: Hub; url: string }> {
  const hub = new Hub({ clientTokens: [CLIENT], ...options });
  const server = await hub.listen({ port: 0 });
  cleanup.push(() => hub.close());
  return { hub, url: server.url };
}

/** A proxy in front of `target`: `mode(req, n)` says what to do with the n-th request. */
async function proxy(target: string, mode: (req: http.IncomingMessage, n: number) => "forward" | "429" | "cut-after-forward"): Promise<string> {
  let n = 0;
  const server = http.createServer(async (req, res) => {
    const what = mode(req, ++n);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (what === "429") {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "1" }).end(JSON.stringify({ error: "Too many requests", code: "RATE_LIMIT_ERROR" }));
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length", "transfer-encoding"].includes(k))) as Record<string, string>;
    const answer = await request(target + req.url, { method: req.method as "GET", headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) });
    const text = await answer.body.text();
    if (what === "cut-after-forward") return void req.socket.destroy();
    res.writeHead(answer.statusCode, { "content-type": "application/json" }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe("rxon submit / task against a hub that pushes back", () => {
  it("submit retries a 429 past the queue limits after its Retry-After, and queues the task once there is room", async () => {
    const { hub, url } = await inProcessHub({ queueLimits: { total: 1 } });
    const first = (await api(url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } }, CLIENT)).body!.job_id as string;
    const cli = run(["submit", "--url", url, "--type", "nobody-runs-this"]);
    await until(() => cli.err().includes("hub answered 429"), () => cli.err(), 15_000);
    expect((await api(url, "DELETE", `/_client/tasks/${first}`, {}, CLIENT)).status).toBe(202);
    const r = await cli.done;
    expect(r.code, r.err).toBe(0);
    const jobId = r.out.trim();
    expect(jobId).toMatch(/^job-/);
    expect((await api(url, "GET", `/_client/tasks/${jobId}`, {}, CLIENT)).body).toMatchObject({ status: "waiting_for_worker" });
    expect((await hub.stats()).throttled).toBeGreaterThan(0);
  }, 30_000);

  it("task --wait waits through a 429 with Retry-After (a proxy in front of the hub) instead of ending", async () => {
    const { url } = await inProcessHub();
    const jobId = (await api(url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } }, CLIENT)).body!.job_id as string;
    const front = await proxy(url, (req, n) => (n === 1 ? "429" : "forward"));
    const cli = run(["task", jobId, "--url", front, "--wait"]);
    await until(() => cli.err().includes("still waiting"), () => cli.err(), 15_000);
    expect((await api(url, "DELETE", `/_client/tasks/${jobId}`, {}, CLIENT)).status).toBe(202);
    const r = await cli.done;
    expect(r.err).toContain("hub answered 429: Too many requests; still waiting for job");
    expect(r.code).toBe(1); // cancelled: not a success, but the wait saw the end
    expect(JSON.parse(r.out.trim())).toMatchObject({ job_id: jobId, status: "cancelled" });
  }, 30_000);

  it("submit whose connection is cut after the hub queued the task retries it without queuing a second", async () => {
    const { hub, url } = await inProcessHub();
    const front = await proxy(url, (req, n) => (n === 1 ? "cut-after-forward" : "forward"));
    const r = await run(["submit", "--url", front, "--type", "nobody-runs-this"]).done;
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toMatch(/^job-/);
    expect((await hub.stats()).submitted).toBe(1);
  }, 30_000);
});

describe("rxon task --wait and a hub restart on the memory store", () => {
  const dir = mkdtempSync(join(tmpdir(), "rxon-cli-faults-"));
  writeFileSync(join(dir, "clients.txt"), `${CLIENT}\n`);
  let hub: Proc | undefined;
  afterEach(async () => {
    await stop(hub);
    rmSync(dir, { recursive: true, force: true });
  });

  it("says the job is gone, and why it may be, instead of a bare 404", async () => {
    const hubArgs = (port: number): string[] => ["src/cli/main.ts", "hub", "--port", String(port), "--client-tokens", join(dir, "clients.txt"), "--log-level", "warn"];
    hub = start(hubArgs(0), { RXON_TOKENS: "w1=worker-token-cli-faults" });
    const url = await hubUrl(hub);
    const port = Number(new URL(url).port);
    const jobId = (await api(url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } }, CLIENT)).body!.job_id as string;
    let stderr = "";
    const waiting = new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = execFile(process.execPath, ["--import", "tsx", "src/cli/main.ts", "task", jobId, "--url", url, "--wait"], { cwd: ROOT, env: { ...process.env, RXON_CLIENT_TOKEN: CLIENT }, timeout: 60_000 }, (_e, out, err) =>
        resolve({ code: child.exitCode, out, err }),
      );
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    });
    await until(() => stderr.includes("waiting for job"), () => stderr, 30_000);
    await stop(hub);
    hub = start(hubArgs(port), { RXON_TOKENS: "w1=worker-token-cli-faults" });
    await hubUrl(hub);
    const r = await waiting;
    expect(r.code).toBe(1);
    expect(r.err).toContain("hub answered 404: Job not found (job_not_found)");
    expect(r.err).toContain(`the hub does not know job ${jobId}`);
    expect(r.err).toContain("a hub without a shared store (Redis) restarted");
  }, 90_000);
});

describe("what the CLI prints of a hostile hub's answers", () => {
  /** A server answering every request with `status` and `body`. */
  async function answering(status: number, body: string): Promise<string> {
    const server = http.createServer((req, res) => {
      req.resume();
      req.once("end", () => res.writeHead(status, { "content-type": "application/json" }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it("shows control characters in the hub's error text as \\u escapes: no escape sequence or fake line reaches the terminal", async () => {
    const evil = "\u001b]0;owned\u0007\u001b[2J\nrxon submit: submitted job-ok\r\u202e";
    const url = await answering(400, JSON.stringify({ error: evil, code: "X\u001b[31m", errors: [{ path: "/a\u001b[1m", message: `bad\n${evil}` }] }));
    const { code, err } = await run(["submit", "--url", url, "--type", "echo"]).done;
    expect(code).toBe(1);
    expect(err).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(err).toContain("\\u001b]0;owned\\u0007");
    expect(err.split("\n").filter((l) => l.startsWith("rxon submit: submitted"))).toEqual([]);
  });

  it("refuses an answer larger than it reads (16 MiB) instead of holding it all", async () => {
    const url = await answering(400, JSON.stringify({ error: "x".repeat(17 * 1024 * 1024) }));
    const { code, err } = await run(["submit", "--url", url, "--type", "echo"], { RXON_WAIT_GIVE_UP_MS: "1" }).done;
    expect(code).toBe(1);
    expect(err).toMatch(/larger than 16777216 bytes/);
  });
});
