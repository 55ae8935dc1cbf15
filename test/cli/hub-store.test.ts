/**
 * `rxon hub --store redis://...` as real processes: two hubs on one Redis serve one fleet. A task
 * submitted with `rxon submit` on hub A runs on a worker connected to hub B; `rxon task` answers
 * the same on both hubs. A hub stopped with SIGTERM answers the submit-and-wait it holds with the
 * job's id first. With its Redis gone, a hub answers 503 within `--store-timeout`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { freePort, requireRedis, startRedis, type RedisServer } from "../helpers/redis.js";
import { hubUrl, registered, start, stop, until, type Proc } from "../e2e/procs.js";

const available = requireRedis("rxon hub --store redis://");
const WORKER_SECRET = "worker-secret-store-1";
const CLIENT_TOKEN = "client-token-store-1";

describe.skipIf(!available)("rxon hub --store redis://", () => {
  let redis: RedisServer;
  const procs: Proc[] = [];
  const dir = mkdtempSync(join(tmpdir(), "rxon-store-"));

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const p of procs) await stop(p);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two `rxon hub` processes on the suite's Redis under `prefix`, with worker w1 and the client token configured. */
  async function twoHubs(prefix: string): Promise<{ a: Proc; urlA: string; urlB: string }> {
    writeFileSync(join(dir, "tokens.json"), JSON.stringify({ w1: WORKER_SECRET }));
    writeFileSync(join(dir, "clients.txt"), `${CLIENT_TOKEN}\n`);
    const env = { RXON_CLIENT_TOKENS: join(dir, "clients.txt"), RXON_STORE: redis.url };
    const hubArgs = ["src/cli/main.ts", "hub", "--port", "0", "--tokens", join(dir, "tokens.json"), "--store-prefix", prefix];
    const a = start(hubArgs, env);
    const b = start(hubArgs, env);
    procs.push(a, b);
    const [urlA, urlB] = await Promise.all([hubUrl(a), hubUrl(b)]);
    return { a, urlA, urlB };
  }

  it("serves one fleet from two hub processes", async () => {
    const { a, urlA, urlB } = await twoHubs("cli-test");
    const worker = start(["src/cli/main.ts", "worker", "--url", urlB, "--id", "w1", "--skills", "examples/skills.ts"], { RXON_TOKEN: WORKER_SECRET });
    procs.push(worker);
    await registered(worker);

    const submit = start(["src/cli/main.ts", "submit", "--url", urlA, "--type", "echo", "--params", '{"message":"across hubs"}', "--wait"], { RXON_CLIENT_TOKEN: CLIENT_TOKEN });
    const code = await new Promise<number | null>((resolve) => submit.child.once("exit", resolve));
    expect(code, submit.stderr.join("\n")).toBe(0);
    const jobId = submit.lines[0]!.trim();
    const outcome = JSON.parse(submit.lines[submit.lines.length - 1]!) as Record<string, unknown>;
    expect(outcome).toMatchObject({ status: "success", worker_id: "w1", data: { message: "across hubs" } });

    for (const url of [urlA, urlB]) {
      const task = start(["src/cli/main.ts", "task", jobId, "--url", url], { RXON_CLIENT_TOKEN: CLIENT_TOKEN });
      expect(await new Promise<number | null>((resolve) => task.child.once("exit", resolve))).toBe(0);
      expect(JSON.parse(task.lines.join(""))).toMatchObject({ job_id: jobId, status: "finished" });
    }
  }, 90_000);

  it("answers a held submit-and-wait with its job id when stopped with SIGTERM; the job then finishes through the other hub", async () => {
    const { a, urlA, urlB } = await twoHubs("cli-sigterm");
    // No worker yet: the client's request is held on A.
    const held = request(`${urlA}/_client/tasks?wait=30`, {
      method: "POST",
      headers: { "x-client-token": CLIENT_TOKEN, "content-type": "application/json" },
      body: JSON.stringify({ type: "echo", params: { message: "through a restart" } }),
    });
    await until(() => a.stderr.some((l) => l.includes("task submitted")), () => a.stderr.join("\n"));
    a.child.kill("SIGTERM");
    // Answered before A closed its connections: the client learns the job it made.
    const answer = await held;
    const view = (await answer.body.json()) as { job_id: string; status: string };
    expect(answer.statusCode).toBe(202);
    expect(view).toMatchObject({ job_id: expect.stringMatching(/^job-/), status: "waiting_for_worker" });
    expect(await a.exited).toBe(0);

    const worker = start(["src/cli/main.ts", "worker", "--url", urlB, "--id", "w1", "--skills", "examples/skills.ts"], { RXON_TOKEN: WORKER_SECRET });
    procs.push(worker);
    const done = await request(`${urlB}/_client/tasks/${view.job_id}?wait=30`, { headers: { "x-client-token": CLIENT_TOKEN } });
    expect(await done.body.json()).toMatchObject({ status: "finished", outcome: { status: "success", data: { message: "through a restart" }, worker_id: "w1" } });
  }, 90_000);

  it("waits at start for a Redis that comes up after it, within --store-timeout; a wrong password fails at once", async () => {
    const port = await freePort();
    const hub = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--store", `redis://127.0.0.1:${port}/0`, "--store-timeout", "20000"]);
    procs.push(hub);
    await new Promise((r) => setTimeout(r, 1500));
    expect(hub.child.exitCode).toBeNull();
    const late = await startRedis({ port });
    try {
      const url = await hubUrl(hub);
      expect((await request(`${url}/readyz`)).statusCode).toBe(200);
    } finally {
      await stop(hub);
      await late.stop();
    }
    const locked = await startRedis({ extraArgs: ["--requirepass", "right-password-1"] });
    try {
      const refused = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--store", `redis://:wrong-password-1@127.0.0.1:${locked.port}/0`, "--store-timeout", "60000"]);
      procs.push(refused);
      expect(await refused.exited).toBe(1);
      expect(refused.stderr.join("\n")).toMatch(/cannot reach the store at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: WRONGPASS/);
    } finally {
      await locked.stop();
    }
  }, 90_000);

  it("refuses at once a prefix whose keys are of another store layout, naming both", async () => {
    const own = await startRedis();
    const client = new Redis(own.url);
    try {
      await client.set("{fleet-a}:layout", "1");
      const refused = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--store", own.url, "--store-prefix", "fleet-a", "--store-timeout", "60000"]);
      procs.push(refused);
      expect(await refused.exited).toBe(1);
      expect(refused.stderr.join("\n")).toMatch(/prefix fleet-a are of store layout 1; this version of rxon reads layout \d+/);
      expect(await client.get("{fleet-a}:layout")).toBe("1");
    } finally {
      client.disconnect();
      await own.stop();
    }
  }, 90_000);

  it("answers 503 with Retry-After within --store-timeout when its Redis is gone", async () => {
    const own = await startRedis();
    try {
      writeFileSync(join(dir, "clients.txt"), `${CLIENT_TOKEN}\n`);
      const hub = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--store", own.url, "--store-timeout", "300"], { RXON_CLIENT_TOKENS: join(dir, "clients.txt") });
      procs.push(hub);
      const url = await hubUrl(hub);
      await own.kill();
      // Far less than the 5 s default: a hub that ignored the flag would not answer in time.
      const res = await request(`${url}/_client/tasks`, {
        method: "POST",
        headers: { "x-client-token": CLIENT_TOKEN, "content-type": "application/json" },
        body: JSON.stringify({ type: "echo", params: { message: "x" } }),
        headersTimeout: 3000,
        bodyTimeout: 3000,
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("1");
      expect(await res.body.json()).toMatchObject({ code: "TRANSIENT_ERROR" });
    } finally {
      await own.stop();
    }
  }, 60_000);
});
