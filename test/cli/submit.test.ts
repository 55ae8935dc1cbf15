/**
 * `rxon hub --client-tokens`, `rxon worker` and `rxon submit/task/cancel` as a user runs them:
 * hub and worker as real processes, one submit --wait as a real process, the rest in process
 * against the same hub.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { CliIo } from "../../src/cli/io.js";
import { hubUrl, registered, ROOT, start, stop, type Proc } from "../e2e/procs.js";

const CLIENT_TOKEN = "cli-client-token-5f2a9c";
const WORKER_TOKEN = "cli-worker-token-77d1e0";
const dir = mkdtempSync(join(tmpdir(), "rxon-submit-"));
let hub: Proc | undefined;
let worker: Proc | undefined;
let url = "";

async function run(argv: string[], env: Record<string, string> = { RXON_CLIENT_TOKEN: CLIENT_TOKEN }): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env, cwd: dir };
  const code = await main(argv, io);
  return { code, out, err };
}

beforeAll(async () => {
  writeFileSync(join(dir, "clients.txt"), `# client tokens\n${CLIENT_TOKEN}\nother-token\n`);
  hub = start(["src/cli/main.ts", "hub", "--port", "0", "--client-tokens", join(dir, "clients.txt"), "--log-level", "warn"], { RXON_TOKENS: `w1=${WORKER_TOKEN}` });
  url = await hubUrl(hub);
  worker = start(["src/cli/main.ts", "worker", "--url", url, "--id", "w1", "--skills", "examples/skills.ts", "--log-level", "warn"], { RXON_TOKEN: WORKER_TOKEN });
  await registered(worker);
}, 60_000);

afterAll(async () => {
  await stop(worker);
  await stop(hub);
  rmSync(dir, { recursive: true, force: true });
});

describe("rxon submit / task / cancel", () => {
  it("rxon submit --wait as a process: exit 0 and the outcome, without printing the token", async () => {
    const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "submit", "--url", url, "--type", "echo", "--params", '{"message":"hello"}', "--wait"],
        { cwd: ROOT, env: { ...process.env, RXON_CLIENT_TOKEN: CLIENT_TOKEN }, timeout: 60_000 },
        (_err, stdout, stderr) => resolve({ code: child.exitCode, out: stdout, err: stderr }),
      );
    });
    expect(result.code, result.err).toBe(0);
    const [jobLine, outcomeLine] = result.out.trim().split("\n");
    expect(jobLine).toMatch(/^job-/);
    expect(JSON.parse(outcomeLine!)).toMatchObject({ status: "success", data: { message: "hello", worker: "w1" }, worker_id: "w1", job_id: jobLine });
    expect(result.out + result.err).not.toContain(CLIENT_TOKEN);
  }, 90_000);

  it("submit without --wait prints the job id; task --wait shows the outcome", async () => {
    const submitted = await run(["submit", "--url", url, "--type", "resize", "--params", '{"width":100,"height":50,"scale":0.5}', "--priority", "2", "--timeout-ms", "60000"]);
    expect(submitted.code, submitted.err).toBe(0);
    const jobId = submitted.out.trim();
    expect(jobId).toMatch(/^job-/);
    const task = await run(["task", jobId, "--url", url, "--wait"]);
    expect(task.code, task.err).toBe(0);
    expect(JSON.parse(task.out)).toMatchObject({ job_id: jobId, status: "finished", outcome: { status: "success", data: { width: 50, height: 25 } } });
  }, 60_000);

  it("cancel stops a running task; task --wait then exits 1 with the cancelled outcome", async () => {
    const jobId = (await run(["submit", "--url", url, "--type", "sleep", "--params", '{"ms":120000}'])).out.trim();
    expect(jobId).toMatch(/^job-/);
    for (const deadline = Date.now() + 30_000; ; ) {
      const r = await run(["task", jobId, "--url", url]);
      if ((JSON.parse(r.out) as { status: string }).status === "running") break;
      if (Date.now() > deadline) throw new Error(`never ran: ${r.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelled = await run(["cancel", jobId, "--url", url]);
    expect(cancelled.code, cancelled.err).toBe(0);
    const end = await run(["task", jobId, "--url", url, "--wait"]);
    expect(end.code).toBe(1);
    expect(JSON.parse(end.out)).toMatchObject({ status: "cancelled", outcome: { status: "cancelled" } });
  }, 60_000);

  it("failures exit 1 with the hub's message and pointers; usage errors exit 2", async () => {
    const invalid = await run(["submit", "--url", url, "--type", "resize", "--params", '{"width":1}', "--wait"]);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.out.trim().split("\n")[1]!)).toMatchObject({ status: "failure", error: { code: "INVALID_INPUT_ERROR" } });
    const bad = await run(["submit", "--url", url, "--type", "bad type!", "--requirements", '{"skillVersion":1}']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("hub answered 400");
    expect(bad.err).toContain("/type");
    expect(bad.err).toContain("/requirements/skillVersion");
    const wrong = await run(["submit", "--url", url, "--type", "echo"], { RXON_CLIENT_TOKEN: "not-the-token" });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("403");
    expect(wrong.err).not.toContain("not-the-token");
    writeFileSync(join(dir, "token"), "other-token\n");
    expect((await run(["task", "job-unknown", "--url", url, "--client-token-file", "token"], {})).code).toBe(1);
    expect((await run(["cancel", "job-unknown", "--url", url])).err).toContain("404");

    for (const c of ["submit", "task", "cancel"]) {
      const help = await run([c, "--help"]);
      expect(help.code).toBe(0);
      expect(help.out).toContain(`rxon ${c}`);
    }
    expect((await run(["--help"])).out).toContain("submit");
    expect((await run(["submit", "--url", url, "--type", "echo"], {})).code).toBe(2); // no token
    expect((await run(["submit", "--type", "echo"])).code).toBe(2); // no url
    expect((await run(["submit", "--url", url])).code).toBe(2); // no type
    expect((await run(["submit", "--url", url, "--type", "echo", "--params", "{nope"])).code).toBe(2);
    expect((await run(["submit", "--url", url, "--type", "echo", "--params", "{}", "--params-file", "x"])).code).toBe(2);
    expect((await run(["task", "--url", url])).code).toBe(2);
    expect((await run(["hub", "--client-tokens", "", "--insecure"])).code).toBe(2);
  }, 60_000);
});
