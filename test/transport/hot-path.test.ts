import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTransport, type HttpTransport } from "../../src/transport/index.js";
import { task } from "./helpers.js";
import { TestServer } from "./server.js";

// What the transport keeps from one request to the next: the emitter view of a caller's signal
// handed to undici (src/transport/abort.ts: one listener of ours on a signal reused call after
// call, none left on a signal used once) and the last poll query.

let server: TestServer;
const open: HttpTransport[] = [];

function transport(): HttpTransport {
  const t = createTransport(server.url, "w1", "secret-token", { requestTimeoutMs: 10_000 }) as HttpTransport;
  open.push(t);
  return t;
}

beforeEach(async () => {
  server = await new TestServer({ pollHoldMs: 15_000 }).start();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await server.stop();
});

describe("request abort sources", () => {
  it("a signal used once keeps no listener after its call", async () => {
    const t = transport();
    const controller = new AbortController();
    await t.sendHeartbeat(null, { signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("a signal reused call after call holds one listener, and aborting it still ends a held poll", async () => {
    const t = transport();
    const controller = new AbortController();
    for (let i = 0; i < 5; i++) await t.sendHeartbeat(null, { signal: controller.signal });
    server.pushTask(task("t1"));
    expect((await t.pollTask({ timeoutSeconds: 30, signal: controller.signal }))?.task_id).toBe("task-t1");
    expect(getEventListeners(controller.signal, "abort").length).toBeLessThanOrEqual(1);

    const poll = t.pollTask({ timeoutSeconds: 30, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error("stop polling"));
    await expect(poll).rejects.toThrow("stop polling");
    await expect(t.sendHeartbeat(null, { signal: controller.signal })).rejects.toThrow("stop polling");
  });

  it("close() ends held polls of a reused signal and of no signal at once", async () => {
    const t = transport();
    const controller = new AbortController();
    for (let i = 0; i < 3; i++) await t.sendHeartbeat(null, { signal: controller.signal });
    const withSignal = t.pollTask({ timeoutSeconds: 30, signal: controller.signal }).catch((e: unknown) => e);
    const without = t.pollTask({ timeoutSeconds: 30 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await t.close();
    expect(await withSignal).toMatchObject({ message: "Transport is closed" });
    expect(await without).toMatchObject({ message: "Transport is closed" });
    expect(controller.signal.aborted).toBe(false);
  });

  it("two calls in flight on one signal are both aborted", async () => {
    const t = transport();
    const controller = new AbortController();
    const polls = [0, 1].map(() => t.pollTask({ timeoutSeconds: 30, signal: controller.signal }).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error("both"));
    const errors = await Promise.all(polls);
    expect(errors.map((e) => (e as Error).message)).toEqual(["both", "both"]);
  });
});

describe("poll query", () => {
  it("follows the timeout and skill lists of each poll, also lists changed in place", async () => {
    await server.stop();
    server = await new TestServer({ pollHoldMs: 0 }).start();
    const t = transport();
    const skills = ["a"];
    await t.pollTask({ timeoutSeconds: 1, availableSkills: skills, hotSkills: skills });
    await t.pollTask({ timeoutSeconds: 1, availableSkills: skills, hotSkills: skills });
    skills.push("b");
    await t.pollTask({ timeoutSeconds: 1, availableSkills: skills, hotSkills: skills });
    await t.pollTask({ timeoutSeconds: 2.5, availableSkills: skills });
    await t.pollTask({ timeoutSeconds: 2.5, availableSkills: [] });
    expect(server.routeRequests("poll").map((r) => r.url.split("?")[1])).toEqual([
      "timeout=1.0&available_skills=a&hot_skills=a",
      "timeout=1.0&available_skills=a&hot_skills=a",
      "timeout=1.0&available_skills=a,b&hot_skills=a,b",
      "timeout=2.5&available_skills=a,b",
      "timeout=2.5&available_skills=",
    ]);
  });
});
