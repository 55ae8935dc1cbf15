/**
 * The hub's task signatures verified by rxon's own worker over real HTTP: a worker given the
 * hub's orchestrator key runs the hub's tasks; one given another key refuses them with a signed
 * INTEGRITY_MISMATCH_ERROR failure (never a silent drop).
 */
import { afterEach, describe, expect, it } from "vitest";
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";
import { Hub } from "../../src/hub/index.js";
import { Worker } from "../../src/worker/index.js";

const TOKENS = { "w-ok": "secret-ok", "w-bad": "secret-bad" };
const KEY = "orchestrator-key-0123456789abcdef";

const echo = defineSkill({
  name: "echo",
  version: "1.0.0",
  input: Type.Object({ text: Type.String() }),
  output: Type.Object({ text: Type.String() }),
  handler: (p) => ({ text: p.text }),
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(workerId: keyof typeof TOKENS, workerKey: string): Promise<Hub> {
  const hub = new Hub({ auth: { tokens: TOKENS }, orchestratorKey: KEY, allowedSkills: ["echo"], maxRetries: 0 });
  const server = await hub.listen({ port: 0 });
  cleanup.push(() => hub.close());
  const w = new Worker({ url: server.url, workerId, token: TOKENS[workerId], secret: TOKENS[workerId], skills: [echo], orchestratorKey: workerKey, heartbeatIntervalMs: 500 });
  cleanup.push(() => w.stop({ graceMs: 200 }));
  await w.start();
  return hub;
}

describe("hub-signed tasks and rxon workers", () => {
  it("runs tasks whose sig verifies with the shared key", async () => {
    const hub = await setup("w-ok", KEY);
    const h = await hub.submit({ type: "echo", params: { text: "signed ✓ \u00e9" }, metadata: { n: 1 } });
    expect(await h.result()).toMatchObject({ status: "success", data: { text: "signed ✓ \u00e9" } });
  });

  it("verifies the sig of tasks that come inside a result's answer (next=1)", async () => {
    const hub = await setup("w-ok", KEY);
    // Queued together: the worker's one slot takes the first by a poll, the rest with its results,
    // whose answers carry them signed (metadata included in what is signed).
    const handles = await Promise.all(Array.from({ length: 8 }, (_, i) => hub.submit({ type: "echo", params: { text: `t${i}` }, metadata: { n: i, extra: { nested: [i] } } })));
    for (const [i, h] of handles.entries()) expect(await h.result()).toMatchObject({ status: "success", data: { text: `t${i}` } });
  });

  it("refuses, with a failure result, tasks signed with another key", async () => {
    const hub = await setup("w-bad", "not-the-orchestrator-key");
    const h = await hub.submit({ type: "echo", params: { text: "x" } });
    expect(await h.result()).toMatchObject({ status: "failure", error: { code: "INTEGRITY_MISMATCH_ERROR" } });
  });
});
