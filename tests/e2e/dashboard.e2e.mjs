#!/usr/bin/env node
/**
 * End-to-end test of the dashboard against the real local stack (`strikeboard dev`).
 *
 * Starts `scripts/uv run --frozen strikeboard dev --speed 10` itself (own process group, stopped
 * at the end; the repository's scripts/uv by absolute path, so no `uv` on PATH is needed),
 * waits for the printed gateway URL (and dev token; DEV_TOKEN is set for it anyway), drives
 * Debian's Chromium through playwright-core and checks: the chain renders from the printed
 * `/#token=` link (the token leaves the address bar, goes out in no URL; sockets use tickets), values update live,
 * switching expiry works, the page recovers after the stack (gateway included) restarts, and
 * saves web/screenshots/dashboard.png. Against a stack that is already running:
 * STRIKEBOARD_URL=http://127.0.0.1:8000 DEV_TOKEN=... (the restart check is then skipped).
 * Run: `npm run e2e` in web/ (or `make test` through tests/e2e/test_web.py).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { ARGS, CHROMIUM, Stack, check, chromium, freePort, log, results, web } from "./stack.mjs";

const SCREENSHOT = join(web, "screenshots", "dashboard.png");

const state = (page, expr) => page.evaluate(expr);

async function main() {
  if (!existsSync(join(web, "dist", "index.html"))) {
    log("building the SPA (web/dist is missing)");
    spawnSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: web, stdio: "inherit" });
  }
  const external = process.env.STRIKEBOARD_URL;
  const token = process.env.DEV_TOKEN || `e2e-${randomBytes(12).toString("hex")}`;
  const stack = external ? null : new Stack(Stack.supportsPort() ? await freePort() : null, token);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  let failed = false;
  try {
    const url = external ?? (await stack.start());
    const tok = stack?.token ?? token;
    // A laptop screen: the layout must be readable at this size.
    const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // The gateway's Content-Security-Policy: anything it blocks is an error here.
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    // Every URL the page asks for, and every socket it opens: none may carry the token.
    const sent = [];
    const sockets = [];
    page.on("request", (r) => sent.push(r.url()));
    page.on("websocket", (ws) => sockets.push(ws.url()));

    await check("the chain renders", async () => {
      // The printed link's form: the token in the fragment, which no request carries.
      await page.goto(`${url}/#token=${encodeURIComponent(tok)}`);
      await page.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 90_000 });
      if (page.url().includes(tok)) throw new Error(`the token is still in the address bar: ${page.url()}`);
      const leaked = sent.filter((u) => u.includes(tok));
      if (leaked.length) throw new Error(`the token went out in a URL: ${leaked[0]}`);
      if (!sockets.length || !sockets.every((u) => /[?&]ticket=/.test(u))) throw new Error(`sockets opened without a ticket: ${sockets.join(", ")}`);
      await page.waitForSelector(".row.atm", { timeout: 10_000 });
      await page.waitForSelector(".spotline", { timeout: 10_000 });
      const tabs = await page.locator("nav.expiries .tab").count();
      if (tabs < 1) throw new Error("no expiry tabs");
      const ltp = await page.locator(".row.atm .ltp.CE .v").textContent();
      if (!/\d/.test(ltp ?? "")) throw new Error(`ATM call LTP is '${ltp}'`);
    }, { fatal: true });

    await check("values update live", async () => {
      const text0 = await page.locator(".chain .tbody").innerText();
      // Deltas over the WebSocket, not the REST fallback: `applied` counts socket deltas.
      try {
        await page.waitForFunction(() => window.__strikeboard.store.getState().chain.applied >= 3, null, { timeout: 30_000 });
      } catch {
        throw new Error("no deltas arrived over the WebSocket within 30 s (is the feed pushing to the gateway?)");
      }
      await page.waitForFunction(() => window.__strikeboard.store.getState().ui.connection === "live", null, { timeout: 10_000 });
      await page.waitForFunction((t) => document.querySelector(".chain .tbody").innerText !== t, text0, { timeout: 30_000 });
    });

    await page.waitForTimeout(3000); // let charts and flashes settle for the picture
    await page.screenshot({ path: SCREENSHOT });
    log(`screenshot ${SCREENSHOT}: ${(statSync(SCREENSHOT).size / 1024).toFixed(0)} KB`);

    await check("switching expiry works", async () => {
      const tabs = page.locator("nav.expiries .tab");
      if ((await tabs.count()) < 2) throw new Error("fewer than two expiries to switch between");
      const target = await tabs.nth(1).getAttribute("data-expiry");
      await tabs.nth(1).click();
      await page.waitForFunction(
        (e) => {
          const s = window.__strikeboard.store.getState();
          return s.chain.expiry === e && s.chain.rows.ids.length > 0 && document.querySelectorAll("[data-strike]").length >= 10;
        },
        target,
        { timeout: 30_000 },
      );
      await page.keyboard.press("[");
      await page.waitForFunction(
        (e) => window.__strikeboard.store.getState().chain.expiry !== e,
        target,
        { timeout: 10_000 },
      );
    });

    if (stack) {
      await check("the page recovers after the gateway restarts", async () => {
        const before = await state(page, () => window.__strikeboard.client.stats.reconnects);
        await stack.stop();
        await page.waitForFunction(() => window.__strikeboard.store.getState().ui.connection !== "live", null, { timeout: 30_000 });
        const badge = await page.locator("[data-badge]").getAttribute("data-badge");
        log(`while down the badge reads '${badge}'`);
        const newUrl = await stack.start();
        if (new URL(newUrl).origin !== new URL(url).origin) {
          throw new Error(`the gateway came back on ${newUrl}, not ${url}: strikeboard dev needs --port`);
        }
        // Live again: a new socket, and deltas applied over it.
        await page.waitForFunction(() => window.__strikeboard.store.getState().ui.connection === "live", null, { timeout: 90_000 });
        const applied = await state(page, () => window.__strikeboard.store.getState().chain.applied);
        await page.waitForFunction((n) => window.__strikeboard.store.getState().chain.applied !== n, applied, { timeout: 60_000 });
        const after = await state(page, () => window.__strikeboard.client.stats.reconnects);
        if (after <= before) throw new Error("no reconnect was recorded");
      });
    }
    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  } catch (err) {
    failed = true;
    console.error(err);
  } finally {
    await browser.close();
    if (stack) await stack.stop();
  }
  for (const [name, status, ms] of results) console.log(`${status.padEnd(4)}  ${String(ms).padStart(6)} ms  ${name}`);
  failed ||= results.some(([, status]) => status !== "ok");
  process.exit(failed ? 1 : 0);
}

main();
