/**
 * `ctx.callSkill` against the hub's `POST /skills/call`, with real workers over HTTP: a handler
 * runs another skill on another worker and gets its outcome; a skill that calls itself is stopped
 * by the hub's depth limit with a clear error instead of looping forever.
 */
import { afterEach, describe, expect, it } from "vitest";
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";
import { Hub } from "../../src/hub/index.js";
import { Worker, type TaskContext } from "../../src/worker/index.js";

const TOKENS = { "w-parent": "secret-parent", "w-child": "secret-child" };

const child = defineSkill({
  name: "child",
  version: "1.0.0",
  input: Type.Object({ x: Type.Number() }),
  output: Type.Object({ y: Type.Number() }),
  handler: ({ x }) => ({ y: x * 10 }),
});

const parent = defineSkill({
  name: "parent",
  version: "1.0.0",
  input: Type.Object({ x: Type.Number() }),
  output: Type.Object({ outcome: Type.Unknown() }),
  handler: async ({ x }, ctx: TaskContext) => ({ outcome: await ctx.callSkill("child", { x }) }),
});

const recurse = defineSkill({
  name: "recurse",
  version: "1.0.0",
  input: Type.Object({ level: Type.Number() }),
  output: Type.Object({ deepest: Type.Number(), refusal: Type.Optional(Type.String()) }),
  handler: async ({ level }, ctx: TaskContext) => {
    try {
      const inner = await ctx.callSkill("recurse", { level: level + 1 });
      return (inner.data as { deepest: number; refusal?: string } | undefined) ?? { deepest: level, refusal: JSON.stringify(inner.error) };
    } catch (err) {
      return { deepest: level, refusal: err instanceof Error ? err.message : String(err) };
    }
  },
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function start(url: string, id: keyof typeof TOKENS, skills: unknown[], concurrency = 1): Promise<void> {
  const w = new Worker({ url, workerId: id, token: TOKENS[id], secret: TOKENS[id], skills: skills as never, heartbeatIntervalMs: 500, concurrency });
  cleanup.push(() => w.stop({ graceMs: 200 }));
  await w.start();
}

describe("ctx.callSkill through the hub", () => {
  it("runs a child skill on another worker and hands its outcome to the caller", async () => {
    const hub = new Hub({ auth: { tokens: TOKENS } });
    const server = await hub.listen({ port: 0 });
    cleanup.push(() => hub.close());
    await start(server.url, "w-parent", [parent]);
    await start(server.url, "w-child", [child]);
    const h = await hub.submit({ type: "parent", params: { x: 4 } });
    expect(await h.result()).toMatchObject({ status: "success", data: { outcome: { status: "success", data: { y: 40 } } } });
  });

  it("stops a skill that calls itself at the depth limit", async () => {
    const hub = new Hub({ auth: { tokens: TOKENS }, maxCallDepth: 3 });
    const server = await hub.listen({ port: 0 });
    cleanup.push(() => hub.close());
    await start(server.url, "w-parent", [recurse], 8);
    const h = await hub.submit({ type: "recurse", params: { level: 0 } });
    const outcome = await h.result();
    expect(outcome).toMatchObject({ status: "success", data: { deepest: 3 } });
    expect(String((outcome.data as { refusal?: string }).refusal)).toMatch(/limit of 3/);
  });
});
