/**
 * Signals published while a hub's signal connection is down are lost (Redis pub/sub keeps
 * nothing): the hub must look at the store again once it is subscribed again, or whatever waited
 * for those signals waits forever.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { Redis } from "ioredis";
import { Hub } from "../../src/hub/index.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import { redisSuite, requireRedis } from "../helpers/redis.js";

const available = requireRedis("lost signals");

describe.skipIf(!available)("signals lost while a hub's signal connection reconnects", () => {
  const suite = redisSuite();

  test("hub.submit()'s result() resolves for a job that ended on another hub while the signal was lost", async () => {
    const prefix = `lost-${randomUUID()}`;
    const a = new RedisStore({ url: suite.redis.url, prefix });
    const b = new RedisStore({ url: suite.redis.url, prefix });
    const hub = new Hub({ store: a });
    const admin = new Redis(suite.redis.url);
    suite.cleanup.push(async () => {
      await hub.close();
      await a.close();
      await b.close();
      admin.disconnect();
    });
    await a.subscribed();
    const handle = await hub.submit({ type: "echo", params: {} });
    const job = await b.claim("w-1", [handle.jobId]);
    expect(job).not.toBeNull();
    // Hub A's signal connection drops; the job ends (through another hub) before it is back.
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    const v = await b.settle("w-1", handle.jobId, job!.taskId, { status: "success", data: { ok: 1 }, transition: "success_transition" });
    expect(v.kind).toBe("accepted");
    const outcome = await Promise.race([handle.result(), new Promise((r) => setTimeout(() => r("timed out"), 8000))]);
    expect(outcome).toMatchObject({ status: "success", data: { ok: 1 } });
  });
});
