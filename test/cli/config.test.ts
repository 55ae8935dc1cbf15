/**
 * `rxon hub` / `rxon worker` configuration: each option from a flag, an environment variable or
 * `--config file.json` (flag > env > file > default), `--print-config` with secrets masked, and
 * a hub that really runs on values from the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HUB_OPTIONS, hubCommand } from "../../src/cli/hub-command.js";
import { envName, loadConfig } from "../../src/cli/config.js";
import { WORKER_OPTIONS } from "../../src/cli/worker-command.js";
import { main } from "../../src/cli/main.js";
import type { CliIo } from "../../src/cli/io.js";

const dir = mkdtempSync(join(tmpdir(), "rxon-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env, cwd: dir, out: () => out, err: () => err };
}

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const i = io(env);
  const code = await main(argv, i);
  return { code, out: i.out(), err: i.err() };
}

function file(name: string, value: unknown): string {
  writeFileSync(join(dir, name), typeof value === "string" ? value : JSON.stringify(value));
  return name;
}

describe("hub and worker configuration", () => {
  it("takes each option from the flag, else the environment, else the config file, else the default", async () => {
    const cfg = file("hub.json", { port: 7001, host: "0.0.0.0", maxRetries: 7, "heartbeat-interval": 5000, "log-format": "pretty" });
    const r = await run(["hub", "--config", cfg, "--print-config", "--port", "7003"], { RXON_HUB_PORT: "7002", RXON_HUB_HOST: "10.0.0.1", RXON_LOG_LEVEL: "warn" });
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      port: 7003, // flag over env and file
      host: "10.0.0.1", // env over file
      "max-retries": 7, // file (camelCase key) over default
      "heartbeat-interval": 5000,
      "log-level": "warn",
      "log-format": "pretty",
      insecure: false, // default
      tokens: null,
    });
    const sources = loadConfig("hub", HUB_OPTIONS, ["--config", cfg, "--port", "7003"], io({ RXON_HUB_HOST: "10.0.0.1" })).sources;
    expect(sources).toMatchObject({ port: "flag", host: "env", "max-retries": "file", "require-client-cert": "default" });
    // RXON_HUB_CONFIG names the file when --config is absent.
    expect(JSON.parse((await run(["hub", "--print-config"], { RXON_HUB_CONFIG: cfg })).out).port).toBe(7001);
    // Booleans from the environment.
    expect(JSON.parse((await run(["hub", "--print-config"], { RXON_HUB_INSECURE: "true" })).out).insecure).toBe(true);
    // ...which a --no- flag turns off again.
    expect(JSON.parse((await run(["hub", "--print-config", "--no-insecure"], { RXON_HUB_INSECURE: "true" })).out).insecure).toBe(false);
  });

  it("a config file value of the wrong JSON type is a usage error naming the file and the option", async () => {
    for (const [values, message] of [
      [{ port: "8443" }, 'port must be an integer, not "8443"'],
      [{ insecure: "yes" }, 'insecure must be true or false, not "yes"'],
      [{ host: 8080 }, "host must be a string, not 8080"],
    ] as const) {
      const r = await run(["hub", "--config", file("typed.json", values), "--print-config"]);
      expect(r.code, JSON.stringify(values)).toBe(2);
      expect(r.err).toContain(`--config typed.json: ${message}`);
    }
    // The environment has only strings: there they are converted.
    expect(JSON.parse((await run(["hub", "--print-config"], { RXON_HUB_PORT: "8443" })).out).port).toBe(8443);
  });

  it("--print-config masks secrets from every source", async () => {
    const hub = await run(["hub", "--print-config"], { RXON_CLIENT_TOKENS: "tok-aaaa-1111,tok-bbbb-2222" });
    expect(JSON.parse(hub.out)["client-tokens"]).toBe("***");
    expect(hub.out).not.toContain("tok-aaaa-1111");
    const cfg = file("worker.json", { url: "http://127.0.0.1:1", id: "w9", secret: "file-secret-xyz123", concurrency: 3 });
    const worker = await run(["worker", "--config", cfg, "--print-config"], { RXON_TOKEN: "env-token-abc789" });
    expect(worker.code, worker.err).toBe(0);
    expect(JSON.parse(worker.out)).toMatchObject({ url: "http://127.0.0.1:1", id: "w9", token: "***", secret: "***", concurrency: 3, "ed25519-key": null });
    expect(worker.out).not.toContain("env-token-abc789");
    expect(worker.out).not.toContain("file-secret-xyz123");
    // The password of a store URL, written plainly or percent-encoded, is shown masked and is
    // among the values the logger redacts.
    const store = await run(["hub", "--print-config"], { RXON_STORE: "redis://fleet:store-pw-4455@10.0.0.7:6379/2" });
    expect(JSON.parse(store.out).store).toBe("redis://fleet:***@10.0.0.7:6379/2");
    expect(store.out).not.toContain("store-pw-4455");
    const encoded = loadConfig("hub", HUB_OPTIONS, ["--store", "redis://:p%40ss%2Fword-77@h:1/0"], io());
    expect(encoded.secrets).toEqual(expect.arrayContaining(["p%40ss%2Fword-77", "p@ss/word-77"]));
  });

  it("a malformed --id or --url of the worker is a usage error naming the option", async () => {
    const id = await run(["worker", "--url", "http://127.0.0.1:1", "--id", "a b", "--skills", "x.js", "--insecure"]);
    expect(id.code, id.err).toBe(2);
    expect(id.err).toContain("--id");
    const scheme = await run(["worker", "--url", "ftp://u:pw-0123456@127.0.0.1:1", "--id", "w1", "--skills", "x.js", "--insecure"]);
    expect(scheme.code, scheme.err).toBe(2);
    expect(scheme.err).toContain("--url");
    expect(scheme.err).not.toContain("pw-0123456");
  });

  it("--print-config masks the password of the worker's --url, and the logger is given it", async () => {
    const worker = await run(["worker", "--print-config", "--url", "https://proxy:hub-url-pw-8812@hub.internal:8443", "--id", "w1", "--skills", "x.js"], { RXON_TOKEN: "env-token-abc789" });
    expect(worker.code, worker.err).toBe(0);
    expect(JSON.parse(worker.out).url).toBe("https://proxy:***@hub.internal:8443/");
    expect(worker.out).not.toContain("hub-url-pw-8812");
    const config = loadConfig("worker", WORKER_OPTIONS, ["--url", "https://proxy:hub-url-pw-8812@hub.internal:8443"], io());
    expect(config.secrets).toContain("hub-url-pw-8812");
  });

  it("a value or the file holding it: the stronger source wins, the same source twice is a usage error", async () => {
    file("token.txt", "token-from-file-0001\n");
    const both = await run(["worker", "--url", "http://127.0.0.1:1", "--id", "w1", "--skills", "x.js", "--token", "t-flag-0002", "--token-file", "token.txt"]);
    expect(both.code).toBe(2);
    expect(both.err).toContain("give --token or --token-file, not both");
    const secrets = await run(["worker", "--url", "http://127.0.0.1:1", "--id", "w1", "--skills", "x.js", "--secret-file", "token.txt", "--insecure"], { RXON_SECRET: "s-env-0003" });
    // A --secret-file flag and RXON_SECRET are different sources: no usage error, the command goes on.
    expect(secrets.code).toBe(1);
    expect(secrets.err).toContain("cannot load skills module x.js");
  });

  it("malformed values are usage errors (exit 2) that name their source", async () => {
    const env = await run(["hub", "--print-config"], { RXON_HUB_PORT: "eighty" });
    expect(env.code).toBe(2);
    expect(env.err).toContain("RXON_HUB_PORT (--port) must be an integer");
    const unknown = await run(["hub", "--config", file("typo.json", { prot: 1 }), "--print-config"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown option 'prot'");
    const badType = await run(["hub", "--config", file("bad.json", { insecure: "maybe" }), "--print-config"]);
    expect(badType.code).toBe(2);
    expect(badType.err).toContain("insecure must be true or false");
    const missing = await run(["hub", "--config", "nowhere.json", "--print-config"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("rxon hub: --config: cannot read nowhere.json: no such file");
    const notJson = await run(["hub", "--config", file("broken.json", "{port: 1"), "--print-config"]);
    expect(notJson.code).toBe(2);
    expect(notJson.err).toContain("broken.json is not valid JSON");
    const choice = await run(["worker", "--print-config", "--log-format", "xml"]);
    expect(choice.code).toBe(2);
    expect(choice.err).toContain("--log-format must be one of json, pretty");
  });

  it("a hub runs on the values of its config file", async () => {
    const cfg = file("run.json", { port: 0, insecure: true, "log-level": "silent" });
    const i = io();
    const stop = new AbortController();
    const running = hubCommand(["--config", cfg], i, stop.signal);
    const end = Date.now() + 10_000;
    while (!i.out().includes("listening on") && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const url = /listening on (\S+)/.exec(i.out())?.[1];
    expect(url, i.err()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // --insecure from the file: a worker without credentials may register.
    const res = await fetch(`${url}/_worker/workers/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Worker-ID": "anyone", "X-RXON-Version": "1.0b15" },
      body: JSON.stringify({ worker_id: "anyone", supported_skills: [] }),
    });
    expect(res.status).toBe(200);
    stop.abort();
    expect(await running).toBe(0);
    expect(i.err()).toBe(""); // log-level silent from the file
  });

  it("docs/configuration.md lists every option with its environment variable", () => {
    const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    for (const [command, table] of [["hub", HUB_OPTIONS], ["worker", WORKER_OPTIONS]] as const) {
      for (const [name, spec] of Object.entries(table)) expect(doc, `${command} --${name}`).toContain(`| \`--${name}\` | \`${envName(command, name, spec)}\` |`);
    }
  });
});
