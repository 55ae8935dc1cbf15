/**
 * `RedisStore.close()` against a Redis that stopped answering (a redis-server paused with SIGSTOP:
 * its connections stay up, nothing comes back, as with a partition). The hub's shutdown awaits
 * it, so it must end within a bounded time and drop the connections, not wait for Redis.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { RedisStore } from "../../src/hub/redis/index.js";
import { redisSuite, requireRedis } from "../helpers/redis.js";

const available = requireRedis("RedisStore.close() on a Redis that does not answer");

describe.skipIf(!available)("RedisStore.close() on a Redis that does not answer", () => {
  const suite = redisSuite();

  test("ends, its signal connection included, instead of waiting for Redis to come back", async () => {
    const store = new RedisStore({ url: suite.redis.url, prefix: `close-${randomUUID()}`, commandTimeoutMs: 300, pingTimeoutMs: 500 });
    store.subscribe(() => {});
    await store.subscribed();
    await store.ping();
    process.kill(suite.redis.pid, "SIGSTOP");
    try {
      const closed = await Promise.race([store.close().then(() => "closed"), new Promise((r) => setTimeout(() => r("still waiting"), 5000))]);
      expect(closed).toBe("closed");
    } finally {
      process.kill(suite.redis.pid, "SIGCONT");
    }
  });
});
