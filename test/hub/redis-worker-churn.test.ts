/**
 * A hub on Redis serving a fleet whose workers come and go under ever new ids, each with a
 * profile of its own (a serial number in `capabilities.extra`): once they are gone, the hub keeps
 * nothing of them beyond its bounded memories.
 */
import { randomUUID } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, test } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { RedisStore } from "../../src/hub/redis/index.js";
import { redisSuite, requireRedis } from "../helpers/redis.js";
import { heartbeat, poll, register } from "./helpers.js";

const available = requireRedis("hub memory under worker churn on Redis");

/** A full collection on demand (the test process does not run with --expose-gc). */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

describe.skipIf(!available)("hub memory under worker churn on Redis", () => {
  const suite = redisSuite();

  test("workers gone for good, each of its own profile, leave nothing of theirs in the hub; a poll held meanwhile still gets its task", async () => {
    const gc = collector();
    const store = new RedisStore({ url: suite.redis.url, prefix: `churn-${randomUUID()}` });
    // What the hub's polls read of each churned worker: alive afterwards only while the hub holds on to it.
    const read: WeakRef<object>[] = [];
    const getWorker = store.getWorker.bind(store);
    store.getWorker = async (id) => {
      const w = await getWorker(id);
      if (w !== undefined && id.startsWith("serial-")) read.push(new WeakRef(w.skills));
      return w;
    };
    const hub = new Hub({ store, heartbeatIntervalMs: 60_000 });
    suite.cleanup.push(async () => {
      await hub.close();
      await store.close();
    });
    // A worker whose poll is held through the churn.
    await register(hub, "early", { capabilities: { hostname: "rack-0", ip_address: "10.0.0.2", extra: { serial: "early" } } });
    const held = poll(hub, "early", { pollTimeout: 30 });
    await new Promise((r) => setTimeout(r, 50));
    const workers = 300;
    for (let i = 0; i < workers; i++) {
      const id = `serial-${i}`;
      await register(hub, id, { capabilities: { hostname: "rack-1", ip_address: "10.0.0.1", extra: { serial: i } } });
      // A poll with nothing to do (held 1 ms), then the worker says it goes offline.
      expect(await poll(hub, id, { pollTimeout: 0.001 })).toBeNull();
      await heartbeat(hub, id, { status: "offline" });
    }
    expect(read.length).toBeGreaterThanOrEqual(workers);
    expect(await store.countWorkers()).toBe(1);
    // A task of a requirement class first seen now reaches the held poll.
    const task = await hub.submit({ type: "echo", params: {}, requirements: { skillVersion: "1.0.0" } });
    expect(await held).toMatchObject({ job_id: task.jobId });
    await new Promise((r) => setTimeout(r, 50));
    gc();
    const alive = read.filter((r) => r.deref() !== undefined).length;
    expect(alive).toBe(0);
  }, 60_000);
});
