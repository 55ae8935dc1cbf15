import { spawnSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { CliIo } from "../../src/cli/io.js";
import { ROOT } from "../e2e/procs.js";

const dir = mkdtempSync(join(tmpdir(), "rxon-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env, cwd: dir };
  const code = await main(argv, io);
  return { code, out, err };
}

function file(name: string, value: unknown): string {
  writeFileSync(join(dir, name), typeof value === "string" ? value : JSON.stringify(value));
  return name;
}

describe("rxon CLI", () => {
  it("prints help for every command and exits 2 on usage errors", async () => {
    expect((await run(["--help"])).code).toBe(0);
    for (const c of ["demo", "hub", "worker", "validate", "sign", "verify", "keygen", "codegen"]) {
      const r = await run([c, "--help"]);
      expect(r.code, c).toBe(0);
      expect(r.out).toContain(`rxon ${c}`);
    }
    expect((await run([])).code).toBe(2);
    expect((await run(["nope"])).code).toBe(2);
    expect((await run(["validate", "NoSuchModel", "x.json"])).code).toBe(2);
    expect((await run(["sign", "--bogus"])).code).toBe(2);
    expect((await run(["hub", "--port", "x"])).code).toBe(2);
    expect((await run(["hub"])).err).toContain("no worker credentials");
  });

  it("validate: 0 for a valid model, 1 with JSON pointers for an invalid one", async () => {
    const ok = await run(["validate", "TaskPayload", file("t.json", { job_id: "j", task_id: "t", type: "echo" })]);
    expect(ok.code).toBe(0);
    const bad = await run(["validate", "Heartbeat", file("h.json", { worker_id: 5, usage: { devices_usage: [{}] } })]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("/worker_id");
    expect(bad.out).toContain("/status");
    expect(bad.out).toContain("/usage/devices_usage/0/unit_id");
    const strict = await run(["validate", "TaskPayload", file("s.json", { job_id: "j", task_id: "t", type: "echo", surprise: 1 }), "--strict"]);
    expect(strict.code).toBe(1);
  });

  it("sign and verify with HMAC (never printing the secret) and Ed25519 keys from keygen", async () => {
    const msg = file("hb.json", { worker_id: "w1", status: "idle" });
    const signed = await run(["sign", msg], { RXON_SECRET: "very-secret-value" });
    expect(signed.code).toBe(0);
    expect(signed.out).not.toContain("very-secret-value");
    file("hb.signed.json", signed.out);
    expect((await run(["verify", "hb.signed.json"], { RXON_SECRET: "very-secret-value" })).code).toBe(0);
    expect((await run(["verify", "hb.signed.json", "--secret", "other"])).code).toBe(1);
    const tampered = JSON.parse(signed.out) as Record<string, unknown>;
    tampered.status = "busy";
    file("hb.tampered.json", tampered);
    expect((await run(["verify", "hb.tampered.json"], { RXON_SECRET: "very-secret-value" })).code).toBe(1);

    const kg = await run(["keygen", "--out", "k1"]);
    expect(kg.code).toBe(0);
    expect(kg.out).toMatch(/kid: [0-9a-f]{16}/);
    expect(kg.out).not.toContain("PRIVATE");
    expect(statSync(join(dir, "k1.key")).mode & 0o077).toBe(0);
    expect((await run(["keygen", "--out", "k1"])).code).toBe(1);
    const es = await run(["sign", msg, "--key", "k1.key"]);
    expect(es.code).toBe(0);
    file("hb.ed.json", es.out);
    expect((await run(["verify", "hb.ed.json", "--public-key", "k1.pub"])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "hb.ed.json"), "utf8")).security.metadata.alg).toBe("ed25519");
    await run(["keygen", "--out", "k2", "--format", "hex"]);
    expect((await run(["verify", "hb.ed.json", "--public-key", "k2.pub"])).code).toBe(1);
  });

  it("`rxon demo` runs to completion as a real process and exits 0", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "demo", "--tasks", "100"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, out).toBe(0);
    expect(out).toContain("OK: 100/100 tasks accounted for");
    expect(out).toMatch(/latency p50 \/ p99/);
  }, 60_000);

  it("the bin runs through tsx and reports usage errors with exit code 2", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "validate"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("rxon validate");
  });
});
