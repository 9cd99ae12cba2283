/**
 * The browser tests (e2e/*.spec.ts): Debian's Chromium, never a downloaded browser; each spec
 * file starts its own `strikeboard dev` stack (e2e/fixtures.ts). Run: `npm run e2e` (all),
 * `npx playwright test e2e/signin.spec.ts` (one). Traces of failed tests and the HTML report
 * go to test-results/RUN/ and playwright-report/RUN/ (git-ignored; RUN is $E2E_REPORT, else
 * `all`): `npx playwright show-report playwright-report/all`.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "@playwright/test";

const CI = !!process.env.CI;
// One folder per run name (`E2E_REPORT=signin`: tests/e2e/test_web.py runs a spec at a time),
// as Playwright empties its output folder when a run starts: the traces of an earlier spec's
// failures stay.
const run = process.env.E2E_REPORT ?? "all";

export default defineConfig({
  testDir: "e2e",
  // A project a spec file: projects never share a worker, so each file gets its own
  // worker fixtures (its `strikeboard dev` stack, its page), whatever it overrides.
  projects: readdirSync(fileURLToPath(new URL("e2e", import.meta.url)))
    .filter((f) => f.endsWith(".spec.ts"))
    .map((f) => ({ name: f.replace(/\.spec\.ts$/, ""), testMatch: f })),
  globalSetup: "./e2e/global-setup.ts",
  outputDir: `test-results/${run}`,
  // Two cores, and every spec file runs a whole stack (simulator, feed, gateway, pusher).
  workers: 1,
  fullyParallel: false,
  forbidOnly: CI,
  retries: CI ? 1 : 0,
  // Per test (a check); the stack's start is the `dev` fixture's own timeout.
  timeout: 180_000,
  expect: { timeout: 10_000 },
  reporter: [
    ["list"],
    ["html", { outputFolder: `playwright-report/${run}`, open: "never" }],
    // Read by tests/e2e/test_web.py to print the failures.
    ["json", { outputFile: `test-results/${run}/report.json` }],
  ],
  use: {
    browserName: "chromium",
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
