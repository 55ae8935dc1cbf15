/**
 * Headless Chromium for the dashboard tests: Debian's /usr/bin/chromium driven by playwright-core.
 * Without it the browser suite is skipped with a notice, except in CI (CI=true), where its
 * absence is a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "vitest";
import { chromium, type BrowserContext } from "playwright-core";

/** Where Debian installs Chromium (`apt-get install chromium`). */
export const CHROMIUM = process.env.RXON_CHROMIUM ?? "/usr/bin/chromium";
/** True when the browser tests can run here. */
export const hasChromium = existsSync(CHROMIUM);
/** True when running in CI, where a missing browser fails instead of skipping. */
export const inCi = process.env.CI === "true";

if (!hasChromium && !inCi) {
  console.warn(`dashboard browser tests SKIPPED: ${CHROMIUM} not found (apt-get install chromium)`);
}

/** `describe` when Chromium is here, `describe.skip` otherwise. */
export const describeBrowser: typeof describe.skip = hasChromium ? describe : describe.skip;

/** Screenshots and other artefacts of the browser tests (gitignored). */
export const OUTPUT_DIR = join(process.cwd(), ".test-output", "dashboard");

/** A fresh browser with its own profile directory (playwright passes it as `--user-data-dir`; removed by `close`). */
export async function launch(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "rxon-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
