/**
 * The dashboard in headless Chromium against a live hub: each page's numbers against the hub's
 * state, a cancel from the page that ends the task, screenshots under .test-output/dashboard;
 * and the refusal without an admin token.
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, it, describe } from "vitest";
import type { BrowserContext, Page } from "playwright-core";
import { describeBrowser, hasChromium, inCi, launch, OUTPUT_DIR, CHROMIUM } from "./browser.js";
import { ADMIN, startFixture, XSS_MODEL, type Fixture } from "./fixture.js";
import { Hub } from "../../src/hub/index.js";
import { Dashboard } from "../../src/hub/dashboard/index.js";
import { serve } from "../../src/hub/server.js";
import { silentLogger } from "../../src/logger.js";
import { register, skill } from "../hub/helpers.js";

// The callbacks of page.evaluate/waitForFunction run in the page; the project compiles without
// the DOM library, so the two browser globals they use are declared here, loosely.
declare const document: { querySelector(s: string): { textContent: string | null } | null; getElementById(id: string): { textContent: string | null } | null };
declare const sessionStorage: { getItem(k: string): string | null };

if (!hasChromium && inCi) {
  describe("dashboard in Chromium", () => {
    it("needs Chromium in CI", () => {
      throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);
    });
  });
}

/** Text of an element once it equals `want` (bounded wait; the page refreshes from the live stream). */
async function textBecomes(page: Page, selector: string, want: string, timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, text]) => document.querySelector(sel!)?.textContent?.trim() === text,
      [selector, want] as const,
      { timeout, polling: 100 },
    );
  } catch (err) {
    const seen = await page.evaluate((sel) => document.querySelector(sel)?.textContent?.trim() ?? "(absent)", selector).catch(() => "(page gone)");
    throw new Error(`${selector}: wanted "${want}", shows "${seen}" (${String(err).split("\n")[0]})`);
  }
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector, { timeout: 10_000 })) ?? "").trim();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
}

describeBrowser("dashboard in Chromium", () => {
  let f: Fixture;
  let browser: { context: BrowserContext; close: () => Promise<void> };

  beforeAll(async () => {
    f = await startFixture();
    browser = await launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await f?.close();
  }, 30_000);

  it("shows fleet, queues, tasks and throughput as the hub has them, and cancels a task from the page", async () => {
    const page = await browser.context.newPage();
    page.setDefaultTimeout(10_000);
    const external: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(f.url)) external.push(r.url());
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));

    await page.goto(`${f.url}/_dashboard`);
    await page.fill("#login-token", ADMIN);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForSelector("#live.on");
    expect(await page.isHidden("#login")).toBe(true);
    // The token lives in this tab's sessionStorage, never in a URL.
    expect(await page.evaluate(() => sessionStorage.getItem("rxon.dashboard.token"))).toBe(ADMIN);
    expect(page.url()).not.toContain(ADMIN);

    // ---- fleet
    const stats = await f.hub.stats();
    await textBecomes(page, "#sum-workers", String(stats.workers));
    await textBecomes(page, "#sum-queued", String(stats.queued));
    await textBecomes(page, "#sum-running", "1");
    await textBecomes(page, "#fleet-total", "2");
    const gpuRow = 'tr[data-worker-id="gpu-1"]';
    await textBecomes(page, `${gpuRow} td.running`, "1");
    expect(await text(page, 'tr[data-worker-id="cpu-1"] td.running')).toBe("0");
    const skills = await text(page, `${gpuRow} td.skills`);
    expect(skills).toContain("double 1.0.0");
    expect(skills).toContain("hang 1.0.0");
    const device = await text(page, `${gpuRow} .device[data-device-id="gpu0"]`);
    expect(device).toContain("RTX 4090");
    expect(device).toContain("vram_gb=24");
    expect(device).toContain("load 73%");
    expect(device).toContain("temperature_c=64");
    // The drain action is offered (and confirmed before it acts: see the drain test).
    expect(await page.isDisabled(`${gpuRow} button.drain`)).toBe(false);
    expect(await text(page, 'tr[data-worker-id="cpu-1"] .device[data-device-id="s0"]')).toContain(XSS_MODEL);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    await shot(page, "fleet");

    // ---- queues
    await page.click('#nav a[data-page="queues"]');
    await textBecomes(page, "#queues-total", String(await f.hub.store.queueLength()));
    expect(await text(page, "#queues-total")).toBe("6");
    await textBecomes(page, '#queues-table tr[data-skill="render"] td.depth', String((await f.hub.store.queueDepths()).render ?? 0));
    await textBecomes(page, '#queues-table tr[data-skill="double"] td.depth', String((await f.hub.store.queueDepths()).double ?? 0));
    expect(await text(page, '#queues-table tr[data-skill="render"] td.workers')).toBe("0");
    expect(await text(page, '#queues-table tr[data-skill="double"] td.workers')).toBe("2");
    const oldestRender = await text(page, '#queues-table tr[data-skill="render"] td.oldest a');
    expect(oldestRender).toBe(f.blocked.missingSkill[0]!.jobId);
    await textBecomes(page, "#blocked-total", "6");
    expect(await text(page, '#blocked-table tr[data-reason="missing_skill"] td.count')).toBe("3");
    expect(await text(page, '#blocked-table tr[data-reason="version"] td.count')).toBe("2");
    expect(await text(page, '#blocked-table tr[data-reason="resources"] td.count')).toBe("1");
    expect(await text(page, '#blocked-table tr[data-reason="version"] td.detail')).toContain("9.9.9");
    await shot(page, "queues");

    // ---- tasks: search by state, by job id, by worker
    await page.click('#nav a[data-page="tasks"]');
    await page.selectOption("#tasks-state", "running");
    await page.click("#tasks-form button[type=submit]");
    await textBecomes(page, "#tasks-total", "1");
    expect(await page.getAttribute("#tasks-table tbody tr", "data-job-id")).toBe(f.running.jobId);
    await page.selectOption("#tasks-state", "");
    await page.fill("#tasks-q", f.failed.jobId);
    await page.click("#tasks-form button[type=submit]");
    await page.waitForSelector(`#tasks-table tbody tr[data-job-id="${f.failed.jobId}"][data-state="failed"]`);
    expect(await text(page, "#tasks-total")).toBe("1");
    expect(await page.locator("#tasks-table tbody tr").count()).toBe(1);
    await page.fill("#tasks-q", "");
    await page.fill("#tasks-skill", "double");
    await page.selectOption("#tasks-state", "finished");
    await page.click("#tasks-form button[type=submit]");
    await textBecomes(page, "#tasks-total", "5");
    await page.selectOption("#tasks-state", "");
    await page.fill("#tasks-skill", "");
    await page.click("#tasks-form button[type=submit]");
    await textBecomes(page, "#tasks-total", "13");
    await shot(page, "tasks");

    // ---- one finished task's timeline
    const first = f.done[0]!;
    const outcome = await first.result();
    await page.goto(`${f.url}/_dashboard/#task/${first.jobId}`);
    await textBecomes(page, "#task-state", "finished");
    expect(await text(page, "#task-attempts")).toBe(String(outcome.attempts));
    expect(await text(page, "#task-worker")).toBe(outcome.workerId);
    const kinds = await page.$$eval("#timeline li", (lis) => lis.map((li) => li.getAttribute("data-kind")));
    expect(kinds).toEqual(["submitted", "dispatched", "progress", "completed"]);
    expect(await text(page, '#timeline li[data-kind="progress"]')).toContain("halfway");

    // ---- the failed one shows its error
    await page.goto(`${f.url}/_dashboard/#task/${f.failed.jobId}`);
    await textBecomes(page, "#task-state", "failed");
    expect(await text(page, '#timeline li[data-kind="completed"]')).toContain("n must not be negative");

    // ---- cancel the running task from its page (confirmed) and see it end
    await page.goto(`${f.url}/_dashboard/#task/${f.running.jobId}`);
    await textBecomes(page, "#task-state", "running");
    const dialogs: string[] = [];
    page.once("dialog", (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await page.click("#cancel-task");
    await textBecomes(page, "#task-state", "cancelled");
    expect(dialogs[0]).toContain(f.running.jobId);
    const cancelled = await f.running.result();
    expect(cancelled.status).toBe("cancelled");
    expect((await f.hub.store.getJob(f.running.jobId))?.state).toBe("cancelled");
    await page.waitForSelector('#timeline li[data-kind="cancel_requested"]');
    await page.waitForSelector('#timeline li[data-kind="completed"]');
    await shot(page, "task");

    // ---- a declined confirmation does nothing
    const queued = f.blocked.version[0]!;
    await page.goto(`${f.url}/_dashboard/#task/${queued.jobId}`);
    await textBecomes(page, "#task-state", "waiting_for_worker");
    page.once("dialog", (d) => void d.dismiss());
    await page.click("#cancel-task");
    expect((await f.hub.store.getJob(queued.jobId))?.state).toBe("waiting_for_worker");

    // ---- throughput
    await page.click('#nav a[data-page="throughput"]');
    await textBecomes(page, "#tp-success", "5");
    expect(await text(page, "#tp-failure")).toBe("1");
    await textBecomes(page, "#tp-cancelled", "1");
    expect(await text(page, "#tp-p50")).toMatch(/\d+(\.\d+)? (ms|s)$/);
    expect(await text(page, "#tp-p99")).toMatch(/\d+(\.\d+)? (ms|s)$/);
    expect(await page.locator("#page-throughput svg.chart path.line").count()).toBeGreaterThan(0);
    await shot(page, "throughput");

    // The header follows the stream: the cancel shows up in the hub's counters.
    await textBecomes(page, "#sum-cancelled", String((await f.hub.stats()).cancelled));
    await textBecomes(page, "#sum-running", "0");

    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  }, 90_000);

  it("refuses the dashboard without an admin token", async () => {
    const page = await browser.context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${f.url}/_dashboard/`);
    await page.waitForSelector("#login:not([hidden])");

    // A wrong token (a client token of this hub is not an admin token): refused, nothing shown.
    await page.fill("#login-token", "client-token-0123456789");
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => (document.getElementById("login-error")?.textContent ?? "").includes("403"));
    expect(await page.isVisible("#login")).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem("rxon.dashboard.token"))).toBeNull();
    expect(await page.locator("#main *").count()).toBe(0);
    expect(await text(page, "#sum-workers")).toBe("–");

    // The API itself, fetched from the page without the header or with a bad one.
    const statuses = await page.evaluate(async () => {
      const a = await fetch("api/workers");
      const b = await fetch("api/workers", { headers: { "X-Client-Token": "nope" } });
      const c = await fetch("api/ticket", { method: "POST" });
      const d = await fetch("api/stream?ticket=made-up");
      return [a.status, b.status, c.status, d.status];
    });
    expect(statuses).toEqual([401, 403, 401, 403]);
    await shot(page, "refused");
    await page.close();
  }, 60_000);

  it("drains a worker from the fleet page after a confirmation", async () => {
    const hub = new Hub();
    const drainedNow = async (): Promise<boolean> => (await hub.store.getWorker("cpu-2"))?.drained === true;
    const dashboard = Dashboard.forHub(hub, { adminTokens: [ADMIN], streamIntervalMs: 300 });
    const server = await serve(hub.handler, { port: 0 }, silentLogger, [dashboard]);
    try {
      await register(hub, "cpu-2", { supported_skills: [skill("echo")] });
      const page = await browser.context.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(`${server.url}/_dashboard/`);
      await page.fill("#login-token", ADMIN);
      await page.click("#login-form button[type=submit]");
      const drain = 'tr[data-worker-id="cpu-2"] button.drain:not([disabled])';
      await page.waitForSelector(drain);
      page.once("dialog", (d) => void d.dismiss());
      await page.click(drain);
      expect(await drainedNow()).toBe(false);
      const asked: string[] = [];
      page.once("dialog", (d) => {
        asked.push(d.message());
        void d.accept();
      });
      await page.click(drain);
      const end = Date.now() + 10_000;
      while (!(await drainedNow()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(await drainedNow()).toBe(true);
      expect(asked[0]).toContain("cpu-2");
      await page.close();
    } finally {
      dashboard.close();
      await server.close();
      await hub.close();
    }
  }, 60_000);
});
