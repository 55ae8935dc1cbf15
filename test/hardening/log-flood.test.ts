/**
 * Refused requests are lines a stranger can cause at will: a flood of them must not flood the
 * hub's log. Each refusal reason writes at most 10 lines per 10 s; the next line written says how
 * many were not; metrics and counters still count every refusal.
 */
import { afterEach, describe, expect, it } from "vitest";
import { LogBudget } from "../../src/log-budget.js";
import { Hub } from "../../src/hub/index.js";
import { memoryLogger } from "../helpers/logger.js";
import { api } from "../hub/client-http.js";
import { register } from "../hub/helpers.js";

describe("LogBudget", () => {
  it("lets perWindow lines of a kind through per window, counts the rest, and reports them with the next line", () => {
    let now = 0;
    const budget = new LogBudget(3, 1000, () => now);
    expect([1, 2, 3, 4, 5].map(() => budget.take("a"))).toEqual([0, 0, 0, undefined, undefined]);
    // Another kind has its own budget.
    expect(budget.take("b")).toBe(0);
    now = 999;
    expect(budget.take("a")).toBeUndefined();
    now = 1000;
    expect(budget.take("a")).toBe(3);
    expect(budget.take("a")).toBe(0);
  });
});

describe("a hub under a flood of refused requests", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it("logs a sample of the refusals of each reason, and counts all of them", async () => {
    const logger = memoryLogger();
    const hub = new Hub({ auth: { tokens: { "w-1": "secret-w-1" } }, clientTokens: ["client-token-flood"], logger });
    cleanup.push(() => hub.close());
    const server = await hub.listen({ port: 0 });
    for (let i = 0; i < 50; i++) expect((await api(server.url, "GET", "/_client/tasks/job-x", {}, "wrong-client-token")).status).toBe(403);
    for (let i = 0; i < 50; i++) await register(hub, "w-1", {}, { token: "wrong-worker-token" }).catch(() => undefined);
    const warns = logger.entries.filter((e) => e.level === "warn");
    const byReason = (reason: string): number => warns.filter((e) => (e.fields as { reason?: string }).reason === reason).length;
    expect(byReason("bad_client_token")).toBe(10);
    expect(byReason("bad_token")).toBe(10);
    expect((await hub.stats()).refused).toBe(50);
  });
});
