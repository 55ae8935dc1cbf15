/**
 * The dashboard samples queue depths every few seconds; while the store is away each sample fails.
 * That is one warning per outage (and one line when samples work again), not one every 5 s.
 */
import { afterEach, expect, test } from "vitest";
import { Hub } from "../../src/hub/index.js";
import { Dashboard } from "../../src/hub/dashboard/index.js";
import { memoryLogger } from "../helpers/logger.js";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

test("a store outage is one depth-sample warning, not one per sample", async () => {
  const hub = new Hub();
  cleanup.push(() => hub.close());
  let down = true;
  const store = hub.store as { queueDepths(): unknown };
  const real = store.queueDepths.bind(store);
  store.queueDepths = () => (down ? Promise.reject(new Error("store away")) : real());
  const logger = memoryLogger();
  const dashboard = Dashboard.forHub(hub, { adminTokens: ["admin-token-0123456789abcdef"], logger, depthSampleMs: 3_600_000 });
  cleanup.push(() => dashboard.close());
  for (let i = 0; i < 5; i++) await dashboard.sampleDepths();
  const failed = (): number => logger.entries.filter((e) => e.level === "warn" && e.message.startsWith("hub dashboard: depth sample failed")).length;
  expect(failed()).toBe(1);
  down = false;
  await dashboard.sampleDepths();
  down = true;
  await dashboard.sampleDepths();
  expect(failed()).toBe(2);
});
