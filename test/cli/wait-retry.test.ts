/**
 * `rxon task --wait` against a hub whose Redis stops answering for a while (the hub answers 503
 * with Retry-After meanwhile): the wait goes on, says so once, and ends with the outcome once the
 * task finishes; only a long run of failures ends it, naming the job to resume.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { CliIo } from "../../src/cli/io.js";
import { Hub } from "../../src/hub/index.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import { Worker } from "../../src/worker/index.js";
import { redisSuite, requireRedis } from "../helpers/redis.js";
import { double } from "../helpers/skills.js";
import { api } from "../hub/client-http.js";

const CLIENT = "client-token-wait-retry";
const available = requireRedis("rxon task --wait through a store outage");

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: { RXON_CLIENT_TOKEN: CLIENT, ...env }, cwd: process.cwd() };
  const code = await main(argv, io);
  return { code, out, err };
}

describe.skipIf(!available)("rxon task --wait", () => {
  const suite = redisSuite();

  it("waits through the 503s of a hub whose Redis is paused, and ends with the outcome", async () => {
    const store = new RedisStore({ url: suite.redis.url, prefix: `wait-${randomUUID()}`, commandTimeoutMs: 300 });
    const hub = new Hub({ store, clientTokens: [CLIENT], auth: { tokens: { "w-1": "secret-w-1" } }, heartbeatIntervalMs: 1000 });
    const server = await hub.listen({ port: 0 });
    suite.cleanup.push(async () => {
      await hub.close();
      await store.close();
    });
    const submitted = await api(server.url, "POST", "/_client/tasks", { body: { type: "double", params: { n: 4 } } }, CLIENT);
    const job = { jobId: submitted.body!.job_id as string };
    const waiting = run(["task", job.jobId, "--url", server.url, "--wait"]);
    // The first hold (2 s) ends while Redis is paused: the hub cannot read the job and answers 503.
    process.kill(suite.redis.pid, "SIGSTOP");
    await new Promise((r) => setTimeout(r, 3500));
    process.kill(suite.redis.pid, "SIGCONT");
    const worker = new Worker({ url: server.url, workerId: "w-1", token: "secret-w-1", secret: "secret-w-1", skills: [double], heartbeatIntervalMs: 1000 });
    suite.cleanup.push(() => worker.stop({ graceMs: 500 }));
    await worker.start();
    const r = await waiting;
    expect(r.code, r.err + r.out).toBe(0);
    expect(JSON.parse(r.out.trim())).toMatchObject({ status: "finished", outcome: { status: "success", data: { n: 8 } } });
    expect(r.err).toContain(`hub answered 503: The hub's store is unavailable; try again later; still waiting for job ${job.jobId}`);
    expect(r.err).toContain("the hub answers again");
  }, 30_000);

  it("gives up after a long run of failures, naming the job to resume", async () => {
    const r = await run(["task", "job-1", "--url", "http://127.0.0.1:1", "--wait"], { RXON_WAIT_GIVE_UP_MS: "1500" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("rxon task job-1 --wait");
  }, 20_000);
});
