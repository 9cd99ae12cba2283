/**
 * The browser tests' fixtures: a `strikeboard dev` stack per worker (each spec file is a project
 * of its own, playwright.config.ts: no worker serves two files) and one page per file that its
 * serial tests share, as a
 * trader keeps one tab open. Every test fails on a page error or a Content-Security-Policy
 * violation that happened during it.
 */
import { randomBytes } from "node:crypto";
import { test as base, expect, type BrowserContext, type Page } from "@playwright/test";
import type { Auth } from "../src/auth/session";
import type { RootState } from "../src/store";
import type { LiveClient } from "../src/ws/client";
import { freePort, STARTUP_S, Stack, summary } from "./stack";

/** What the SPA hangs on `window` for the benchmark and these tests (src/main.tsx). */
declare global {
  interface Window {
    __strikeboard: {
      store: { getState(): RootState; dispatch(action: { type: string; payload?: unknown }): unknown };
      client: LiveClient;
      auth: Auth;
    };
    /** Marks a document: a reload loses it. */
    __e2eDocument?: string;
  }
}

/** The stack the tests run against: started here, or a running one (STRIKEBOARD_URL). */
export interface Dev {
  url: string;
  token: string;
  /** null against an already running stack (the restart check is then skipped). */
  stack: Stack | null;
}

/** The shared page and what it did: errors, requested URLs, opened sockets. */
export interface App {
  context: BrowserContext;
  page: Page;
  errors: string[];
  sent: string[];
  sockets: string[];
}

interface WorkerFixtures {
  /** Extra environment for the stack (the sign-in spec's COGNITO_*). */
  stackEnv: Record<string, string>;
  /** The gateway's port, known before the stack starts (the OAuth stand-in needs the origin). */
  stackPort: number;
  dev: Dev;
  appViewport: { width: number; height: number };
  app: App;
}

/** Records page errors and CSP violations of `page` into `errors`. */
export function watchErrors(page: Page, errors: string[]): void {
  page.on("pageerror", (e) => errors.push(e.message));
  // The gateway's Content-Security-Policy: anything it blocks is an error here.
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
}

export const test = base.extend<{ noPageErrors: void; stackLog: void }, WorkerFixtures>({
  stackEnv: [{}, { scope: "worker", option: true }],
  stackPort: [async ({}, use) => use(await freePort()), { scope: "worker" }],
  dev: [
    async ({ stackEnv, stackPort }, use) => {
      const external = process.env.STRIKEBOARD_URL;
      const token = process.env.DEV_TOKEN || `e2e-${randomBytes(12).toString("hex")}`;
      if (external) {
        await use({ url: external, token, stack: null });
        return;
      }
      const stack = new Stack(stackPort, token, stackEnv);
      try {
        await stack.start();
        await use({ url: stack.url, token: stack.token, stack });
      } finally {
        await stack.stop();
      }
    },
    // Starting waits up to STARTUP_S for the printed URL; stopping up to 40 s before SIGKILL.
    { scope: "worker", timeout: (STARTUP_S + 60) * 1000, title: "strikeboard dev" },
  ],
  // A laptop screen: the layout must be readable at this size.
  appViewport: [{ width: 1366, height: 820 }, { scope: "worker", option: true }],
  app: [
    async ({ browser, appViewport }, use) => {
      const context = await browser.newContext({ viewport: appViewport });
      const page = await context.newPage();
      const app: App = { context, page, errors: [], sent: [], sockets: [] };
      watchErrors(page, app.errors);
      // Every URL the page asks for, and every socket it opens: none may carry a token.
      page.on("request", (r) => app.sent.push(r.url()));
      page.on("websocket", (ws) => app.sockets.push(ws.url()));
      await use(app);
      await context.close();
    },
    { scope: "worker" },
  ],
  // A failed test carries the stack's own lines (its children's start, stop and errors).
  stackLog: [
    async ({ dev }, use, testInfo) => {
      await use();
      if (dev.stack && testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach("strikeboard dev", { body: summary(dev.stack.output), contentType: "text/plain" });
      }
    },
    { auto: true },
  ],
  noPageErrors: [
    async ({ app }, use) => {
      const before = app.errors.length;
      await use();
      expect(app.errors.slice(before), "page errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** At least ten strikes on screen: the chain rendered. */
export async function chainRendered(page: Page, timeout: number): Promise<void> {
  await expect(page.locator("[data-strike]").nth(9)).toBeAttached({ timeout });
}

/**
 * `fn` of the store's state, evaluated in the page (for `expect.poll`). `fn` runs there: it
 * may use only its argument.
 */
export function state<T>(page: Page, fn: (s: RootState) => T): Promise<T> {
  return page.evaluate(`(${fn.toString()})(window.__strikeboard.store.getState())`) as Promise<T>;
}
