/**
 * Two processes running with the same worker id (an old one still shutting down beside its
 * replacement, a copy started by mistake): the hub keeps the newer command channel and closes the
 * older, each time. The worker whose channel was replaced says so once, and its reconnects slow
 * down instead of reopening the channel every second for as long as both run.
 */
import { afterEach, expect, it } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { Worker } from "../../src/worker/index.js";
import { memoryLogger } from "../helpers/logger.js";
import { double } from "../helpers/skills.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it("a worker whose command channel keeps being replaced warns once and backs off", async () => {
  const hub = new Hub({ auth: { tokens: { "w-1": "secret-w-1" } } });
  cleanups.push(() => hub.close());
  const server = await hub.listen({ port: 0 });
  const loggers = [memoryLogger(), memoryLogger()];
  for (const logger of loggers) {
    // Reconnect waits start at 50–100 ms and double; a wait started over is at most 0.1 s.
    const w = new Worker({ url: server.url, workerId: "w-1", token: "secret-w-1", secret: "secret-w-1", skills: [double], logger, transportOptions: { wsBackoffInitialMs: 100 } });
    cleanups.push(() => w.stop({ graceMs: 0 }));
    await w.start();
  }
  await new Promise((r) => setTimeout(r, 8000));
  const all = loggers.flatMap((l) => l.entries);
  const warned = all.filter((e) => e.level === "warn" && e.message.startsWith("Command channel replaced by another connection of this worker id"));
  const delays = all.filter((e) => e.message === "Command channel disconnected; reconnecting").map((e) => (e.fields as { delay_ms: number }).delay_ms);
  // One warning per worker at most, not one per replacement.
  expect(warned.length).toBeGreaterThan(0);
  expect(warned.length).toBeLessThanOrEqual(2);
  // Reconnects wait longer and longer: the fifth wait of a worker is at least 800 ms, and both
  // workers' first four (at most 1.5 s each) are long over after 8 s.
  expect(Math.max(...delays)).toBeGreaterThanOrEqual(800);
}, 30_000);
