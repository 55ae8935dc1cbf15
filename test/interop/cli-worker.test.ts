/**
 * Item 13, CLI half: `rxon worker` without a token refuses to start unless `--insecure`, and ends
 * with exit code 1 when the hub refuses its credentials for good.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { workerCommand } from "../../src/cli/worker-command.js";
import { ROOT } from "../e2e/procs.js";
import { FakePythonOrchestrator } from "./fake-python-orchestrator.js";

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
});
