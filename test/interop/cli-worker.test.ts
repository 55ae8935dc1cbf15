/**
 * Item 13, CLI half: `rxon worker` without a token refuses to start unless `--insecure`, and ends
 * with exit code 1 when the hub refuses its credentials for good.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { workerCommand } from "../../src/cli/worker-command.js";
import { ROOT } from "../e2e/procs.js";
import { FakePythonOrchestrator } from "./fake-python-orchestrator.js";

const dir = mkdtempSync(join(tmpdir(), "rxon-cli-worker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fakes: FakePythonOrchestrator[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

function io(env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return { stdout: { write: (s: string) => void (out += s) }, stderr: { write: (s: string) => void (err += s) }, env, cwd: ROOT, out: () => out, err: () => err };
}

describe("rxon worker credentials", () => {
  it("refuses to start without a token: a clear message, exit code 2", async () => {
    const cli = io();
    const code = await main(["worker", "--url", "http://127.0.0.1:9", "--id", "w1", "--skills", "examples/skills.ts"], cli);
    expect(code).toBe(2);
    const [first] = cli.err().split("\n");
    expect(first).toMatch(/^rxon worker: no worker token: .*--insecure/);
  });

  it("starts without a token when told --insecure", async () => {
    const orc = await new FakePythonOrchestrator().start();
    fakes.push(orc);
    const cli = io();
    const stop = new AbortController();
    const run = workerCommand(["--url", orc.url, "--id", "w-insecure", "--skills", "examples/skills.ts", "--insecure", "--log-level", "silent"], cli, stop.signal);
    await orc.waitFor(() => cli.out().includes("registered"));
    stop.abort();
    expect(await run).toBe(0);
    expect(cli.out()).toContain("rxon worker w-insecure registered");
  });

  it("exits 1 with the reason when the hub keeps refusing the token", async () => {
    const orc = await new FakePythonOrchestrator({ tokens: ["right"] }).start();
    fakes.push(orc);
    const cli = io({ RXON_TOKEN: "wrong" });
    const code = await workerCommand(["--url", orc.url, "--id", "w-wrong", "--skills", "examples/skills.ts", "--log-level", "silent"], cli, new AbortController().signal);
    expect(code).toBe(1);
    expect(cli.err()).toMatch(/403/);
  });

  it("--orchestrator-key-file makes the worker run only tasks signed with that key", async () => {
    const keyFile = join(dir, "orchestrator.key");
    writeFileSync(keyFile, "the-key\n");
    const orc = await new FakePythonOrchestrator({ signingKey: "the-key" }).start();
    fakes.push(orc);
    const cli = io({ RXON_TOKEN: "tok" });
    const stop = new AbortController();
    const run = workerCommand(["--url", orc.url, "--id", "w-keyed", "--skills", "examples/skills.ts", "--orchestrator-key-file", keyFile, "--log-level", "silent"], cli, stop.signal);
    await orc.waitFor(() => cli.out().includes("registered"));
    const signed = orc.submit("echo", { message: "hi" });
    await orc.waitFor(() => signed.status === "finished" || signed.status === "failed");
    expect(signed.status).toBe("finished");
    stop.abort();
    expect(await run).toBe(0);

    // The same orchestrator's tasks, to a worker holding another key: refused, not run.
    const wrongFile = join(dir, "wrong.key");
    writeFileSync(wrongFile, "another-key");
    const wrong = io({ RXON_TOKEN: "tok" });
    const stopWrong = new AbortController();
    const runWrong = workerCommand(["--url", orc.url, "--id", "w-wrong-key", "--skills", "examples/skills.ts", "--orchestrator-key-file", wrongFile, "--log-level", "silent"], wrong, stopWrong.signal);
    await orc.waitFor(() => wrong.out().includes("registered"));
    const refusedJob = orc.submit("echo", { message: "hi" });
    await orc.waitFor(() => refusedJob.status === "finished" || refusedJob.status === "failed");
    expect(refusedJob.results[0]).toMatchObject({ worker_id: "w-wrong-key", status: "failure", error: { code: "INTEGRITY_MISMATCH_ERROR" } });
    stopWrong.abort();
    expect(await runWrong).toBe(0);

    const empty = join(dir, "empty.key");
    writeFileSync(empty, "\n");
    const refused = io({ RXON_TOKEN: "tok" });
    expect(await main(["worker", "--url", orc.url, "--id", "w", "--skills", "examples/skills.ts", "--orchestrator-key-file", empty], refused)).toBe(2);
    expect(refused.err()).toMatch(/orchestrator key file .* is empty/);
  });
});
