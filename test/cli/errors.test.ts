/**
 * One rule for exit codes (0 ok, 1 failure, 2 usage), one flag name per concept, and a one-line
 * reason on every failure: keygen over an existing key, verify of a bad message, a skills module
 * Node cannot load, `submit --wait` for a skill no worker offers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { main } from "../../src/cli/main.js";
import { loadFailure } from "../../src/cli/skills-module.js";
import { signHelp, verifyHelp } from "../../src/cli/sign.js";
import type { CliIo } from "../../src/cli/io.js";

const dir = mkdtempSync(join(tmpdir(), "rxon-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
  err: string;
}

function start(argv: string[], env: Record<string, string> = {}): { done: Promise<Run>; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env, cwd: dir };
  const done = main(argv, io).then((code) => ({ code, out, err }));
  return { done, out: () => out, err: () => err };
}

const run = (argv: string[], env: Record<string, string> = {}): Promise<Run> => start(argv, env).done;

function file(name: string, value: unknown): string {
  writeFileSync(join(dir, name), typeof value === "string" ? value : JSON.stringify(value));
  return name;
}

describe("exit codes", () => {
  it("a file that is missing or wrong is a failure (1) with one line; a wrong command line is a usage error (2)", async () => {
    const missing = await run(["hub", "--tokens", "nope.json"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe("rxon hub: cannot read nope.json: no such file\n");
    const badJson = await run(["hub", "--tokens", file("bad-tokens.json", "{not json")]);
    expect(badJson.code).toBe(1);
    expect(badJson.err).toMatch(/^rxon hub: bad-tokens\.json is not valid JSON/);
    expect(badJson.err.trim().split("\n")).toHaveLength(1);
    const badEnv = await run(["hub", "--print-config", "--insecure"], { RXON_TOKENS: "no-equals-sign" });
    expect(badEnv.code).toBe(0); // --print-config reads no credentials
    expect((await run(["hub", "--insecure"], { RXON_TOKENS: "no-equals-sign" })).code).toBe(2);
    expect((await run(["hub", "--port", "70000"])).code).toBe(2);
    expect((await run(["validate", "TaskPayload", "missing.json"])).code).toBe(1);
    const worker = ["worker", "--url", "http://127.0.0.1:1", "--id", "w1", "--skills", "x.js", "--token", "t-0123456789"];
    expect((await run([...worker, "--resources", '{"devices": 5}'])).code).toBe(2);
    const resourcesFile = await run([...worker, "--resources", file("res.json", '{"devices": 5}')]);
    expect(resourcesFile.code).toBe(1);
    expect(resourcesFile.err).toMatch(/^rxon worker: --resources res\.json: Invalid Resources: \/devices/);
    expect((await run(["sign", "missing.json", "--secret", "s"])).err).toBe("rxon sign: cannot read missing.json: no such file\n");
  });
});

describe("one name per concept", () => {
  it("--ed25519-key signs and verifies; the older --key and --public-key still work but are not shown", async () => {
    expect((await run(["keygen", "--out", "ed"])).code).toBe(0);
    const msg = file("m.json", { worker_id: "w1", status: "idle" });
    const signed = await run(["sign", msg, "--ed25519-key", "ed.key"]);
    expect(signed.code, signed.err).toBe(0);
    file("m.signed.json", signed.out);
    expect((await run(["verify", "m.signed.json", "--ed25519-key", "ed.pub"])).out).toBe("valid\n");
    expect((await run(["verify", "m.signed.json", "--public-key", "ed.pub"])).out).toBe("valid\n");
    const old = await run(["sign", msg, "--key", "ed.key"]);
    expect(old.code).toBe(0);
    for (const help of [signHelp, verifyHelp]) {
      expect(help).toContain("--ed25519-key");
      expect(help).not.toMatch(/--key |--public-key/);
    }
    const notAKey = await run(["verify", "m.signed.json", "--ed25519-key", file("bogus.pub", "hello")]);
    expect(notAKey.code).toBe(1);
    expect(notAKey.err).toBe("rxon verify: bogus.pub is not an Ed25519 public key (SPKI PEM or 64 hex characters)\n");
  });
});

describe("failures say why", () => {
  it("keygen over an existing key explains instead of EEXIST and replaces nothing", async () => {
    expect((await run(["keygen", "--out", "k"])).code).toBe(0);
    const before = readFileSync(join(dir, "k.key"), "utf8");
    const again = await run(["keygen", "--out", "k"]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("k.key and k.pub already exist");
    expect(again.err).toContain("--force");
    expect(again.err).not.toContain("EEXIST");
    expect(readFileSync(join(dir, "k.key"), "utf8")).toBe(before);
    expect((await run(["keygen", "--out", "k", "--force"])).code).toBe(0);
    expect(readFileSync(join(dir, "k.key"), "utf8")).not.toBe(before);
  });

  it("verify prints the reason a message is invalid", async () => {
    const env = { RXON_SECRET: "hmac-secret-1234" };
    const unsigned = await run(["verify", file("u.json", { worker_id: "w1" })], env);
    expect(unsigned).toMatchObject({ code: 1, out: "invalid: the message has no security block (it was not signed)\n" });
    const signed = await run(["sign", file("h.json", { worker_id: "w1", status: "idle" })], env);
    const tampered = JSON.parse(signed.out) as Record<string, unknown>;
    tampered.status = "busy";
    const t = await run(["verify", file("t.json", tampered)], env);
    expect(t.out).toMatch(/^invalid: the signature does not match: the message changed after signing, or it was signed with a different secret\n$/);
    const truncated = JSON.parse(signed.out) as { security: { signature: string } };
    truncated.security.signature = truncated.security.signature.slice(0, 10);
    expect((await run(["verify", file("tr.json", truncated)], env)).out).toContain("not an HMAC-SHA256 signature (64 lowercase hex characters; got 10 characters)");
    await run(["keygen", "--out", "ed2"]);
    const ed = await run(["sign", "h.json", "--ed25519-key", "ed2.key"]);
    expect((await run(["verify", file("ed.json", ed.out)], env)).out).toBe("invalid: the message is signed with Ed25519 (security.metadata.alg); verify with --ed25519-key\n");
  });

  it("a TypeScript skills module on a Node.js without type stripping gets a hint", () => {
    const err = Object.assign(new TypeError('Unknown file extension ".ts" for /app/skills.ts'), { code: "ERR_UNKNOWN_FILE_EXTENSION" });
    const text = loadFailure("skills.ts", err, "20.20.2");
    expect(text).toContain("Node.js 20.20.2 does not run TypeScript modules");
    expect(text).toContain("Compile it to .js");
    expect(text).toContain("tsx");
    expect(loadFailure("skills.js", new Error("boom\n    at stack"), "20.20.2")).toBe("cannot load skills module skills.js: boom");
  });

  it("submit --wait says what it waits for, and that no worker has taken the task", async () => {
    const hub = new Hub({ auth: { allowAnonymous: true }, clientTokens: ["client-token-1234"] });
    const server = await hub.listen({ port: 0, host: "127.0.0.1" });
    try {
      const submit = start(["submit", "--url", server.url, "--type", "nobody-offers-this", "--wait"], { RXON_CLIENT_TOKEN: "client-token-1234" });
      const end = Date.now() + 15_000;
      while (!submit.err().includes("no worker has taken it") && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
      const jobId = submit.out().trim();
      expect(submit.err()).toContain(`waiting for job ${jobId} (skill 'nobody-offers-this') to end`);
      expect(submit.err()).toContain("is still waiting for a worker: no worker has taken it yet (is a worker offering skill 'nobody-offers-this'");
      await hub.cancel(jobId);
      const r = await submit.done;
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out.trim().split("\n")[1]!)).toMatchObject({ status: "cancelled" });
    } finally {
      await hub.close();
    }
  }, 30_000);
});
