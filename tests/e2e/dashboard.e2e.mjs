#!/usr/bin/env node
/**
 * End-to-end test of the dashboard against the real local stack (`strikeboard dev`).
 *
 * Starts `scripts/uv run --frozen strikeboard dev --speed 10` itself (own process group, stopped
 * at the end; the repository's scripts/uv by absolute path, so no `uv` on PATH is needed),
 * waits for the printed gateway URL (and dev token; DEV_TOKEN is set for it anyway), drives
 * Debian's Chromium through playwright-core and checks: the chain renders from the printed
 * `/#token=` link (the token leaves the address bar, goes out in no URL; sockets use tickets), values update live,
 * switching expiry works, switching underlying (NIFTY, BANKNIFTY, SENSEX) shows each one's chain, the page recovers after the stack (gateway included) restarts, and
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
const MOBILE_SCREENSHOT = join(web, "screenshots", "dashboard-mobile.png");
// prefsSlice.ts DEFAULT_PREFS: the pictures show the defaults whatever an earlier run saved.
const DEFAULT_COLUMNS = ["oi", "oi_change", "volume", "iv", "change", "ltp"];
const ALL_COLUMNS = ["oi", "oi_change", "volume", "iv", "ltp", "change", "bid", "ask", "bid_qty", "ask_qty", "delta", "gamma", "theta", "vega", "buildup"];

const state = (page, expr) => page.evaluate(expr);

/**
 * What sticks out of the viewport sideways (the chain's own scroller excepted), and whether the
 * ATM row's strike cell is in view, uncovered, inside the chain's scroller.
 */
function layoutFacts() {
  const iw = window.innerWidth;
  const name = (el) => `${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? `.${el.className.trim().split(/\s+/).join(".")}` : ""}`;
  const outside = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".chain-wrap")) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && (r.right > iw + 0.5 || r.left < -0.5)) outside.push(`${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
  }
  const wrap = document.querySelector(".chain-wrap").getBoundingClientRect();
  const strikeVisible = () => {
    const cell = document.querySelector(".row.atm .strike");
    if (!cell) return "no ATM row";
    const r = cell.getBoundingClientRect();
    if (r.left < Math.max(0, wrap.left) - 0.5 || r.right > Math.min(iw, wrap.right) + 0.5) return `strike cell at [${r.left}, ${r.right}]`;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit && cell.contains(hit) ? null : `strike cell covered by ${hit ? name(hit) : "nothing"}`;
  };
  // The strike column in view wherever the table is scrolled sideways (it is sticky).
  const scroller = document.querySelector(".chain-wrap");
  const before = scroller.scrollLeft;
  const strike = [];
  for (const left of [before, 0, scroller.scrollWidth]) {
    scroller.scrollLeft = left;
    const problem = strikeVisible();
    if (problem) strike.push(`scrollLeft ${scroller.scrollLeft}: ${problem}`);
  }
  scroller.scrollLeft = before;
  // No cell's content is cut or runs into the next cell's.
  const squeezed = [];
  for (const cell of document.querySelectorAll(".chain .row > div, .chain .hrow.cols > div")) {
    if (cell.scrollWidth > cell.clientWidth + 1) squeezed.push(`${name(cell)} '${cell.textContent}'`);
  }
  const charts = [...document.querySelectorAll(".side-panel .chart")].map((c) => c.getBoundingClientRect());
  const chain = document.querySelector(".chain-panel").getBoundingClientRect();
  return {
    innerWidth: iw,
    scrollWidth: document.documentElement.scrollWidth,
    outside: outside.slice(0, 10),
    strike,
    squeezed: squeezed.slice(0, 10),
    charts: charts.filter((r) => r.width >= 150 && r.height >= 80).length,
    chartsBelow: charts.length > 0 && charts.every((r) => r.top >= chain.bottom - 1),
    scrollsSideways: scroller.scrollWidth > scroller.clientWidth,
  };
}

/** The header's controls at a phone's width: each on screen, in the top rows. */
function headerFacts() {
  const iw = window.innerWidth;
  const wanted = {
    quotes: document.querySelectorAll(".top .quote"),
    badge: document.querySelectorAll(".top [data-badge]"),
    theme: document.querySelectorAll('.top [aria-label="toggle theme"]'),
    settings: document.querySelectorAll('.top [aria-label="settings"]'),
    history: document.querySelectorAll('.top [aria-label="time travel"]'),
  };
  const out = {};
  for (const [key, list] of Object.entries(wanted)) {
    const rects = [...list].map((el) => el.getBoundingClientRect());
    out[key] = rects.length > 0 && rects.every((r) => r.width > 0 && r.left >= 0 && r.right <= iw && r.bottom <= 120);
  }
  return out;
}

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

    await check("one clock: the tabs' and the header's days to expiry agree, from the API's market time", async () => {
      // The chain of the expiry "[" chose has arrived (the header shows "–" until then).
      await page.waitForFunction(() => /\d/.test(document.querySelector(".stat[data-dte]")?.getAttribute("data-dte") ?? ""), null, { timeout: 30_000 });
      const facts = await page.evaluate(async () => {
        const health = await (await fetch("/api/health")).json();
        const s = window.__strikeboard.store.getState();
        const meta = s.chain.meta;
        const tabs = [...document.querySelectorAll("nav.expiries .tab")].map((t) => ({
          expiry: t.getAttribute("data-expiry"),
          active: t.classList.contains("active"),
          dte: t.querySelector("small[data-dte]")?.getAttribute("data-dte"),
        }));
        return {
          now: health.now,
          open: health.session?.state === "open",
          ts: meta?.ts ?? null,
          header: document.querySelector(".stat[data-dte]")?.getAttribute("data-dte"),
          tabs,
          browser: Date.now(),
        };
      });
      const active = facts.tabs.find((t) => t.active);
      if (!active || active.dte !== facts.header) throw new Error(`the active tab says ${active?.dte}, the header ${facts.header}`);
      // In a session the chain is valued at the API's now; once closed, at its last market time.
      const market = facts.open ? Date.parse(facts.now) : facts.ts * 1000;
      if (facts.open && facts.ts !== null && Math.abs(facts.ts * 1000 - Date.parse(facts.now)) > 120_000) {
        throw new Error(`the chain's market time ${new Date(facts.ts * 1000).toISOString()} is not the API's ${facts.now}`);
      }
      const problems = [];
      for (const t of facts.tabs) {
        const expected = (Date.parse(`${t.expiry}T15:30:00+05:30`) - market) / 86_400_000;
        // Two decimals, and the simulated clock runs 10x between health answers (5 s).
        if (!(Math.abs(Number(t.dte) - expected) <= 0.012)) problems.push(`${t.expiry}: ${t.dte} d, the API's clock says ${expected.toFixed(3)}`);
      }
      if (problems.length) throw new Error(problems.join("; "));
      log(`days to expiry from ${new Date(market).toISOString()}, the API's ${facts.open ? "now" : "last market time"} (the browser's clock: ${new Date(facts.browser).toISOString()})`);
    });

    await check("the address holds the view: a shared link restores it, back and forward work", async () => {
      const view = (p) =>
        p.evaluate(() => {
          const s = window.__strikeboard.store.getState();
          return {
            expiry: s.chain.expiry,
            convention: s.prefs.convention,
            panel: s.ui.panel,
            at: s.ui.at,
            tab: document.querySelector("nav.expiries .tab.active")?.getAttribute("data-expiry") ?? null,
            nse: document.querySelector(".switch [aria-pressed=true]")?.textContent ?? null,
            settings: !!document.querySelector("aside.settings"),
          };
        });
      const start = await view(page);
      const tabs = page.locator("nav.expiries .tab");
      const target = await tabs.nth(2).getAttribute("data-expiry");
      await tabs.nth(2).click();
      const other = start.convention === "nse" ? "Forward IV" : "NSE IV";
      await page.locator(".switch button", { hasText: other }).click();
      await page.click('.top [aria-label="settings"]');
      const shared = page.url();
      const before = await view(page);
      if (before.expiry !== target || before.panel !== "settings" || before.convention === start.convention) {
        throw new Error(`the clicks did not change the view: ${JSON.stringify(before)}`);
      }
      if (!shared.includes(`expiry=${target}`) || !shared.includes("panel=settings")) throw new Error(`the address does not hold the view: ${shared}`);
      // The link in another browser (its own sign-in: the dev token's fragment).
      const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
      try {
        const p = await ctx.newPage();
        await p.goto(`${shared}#token=${encodeURIComponent(tok)}`);
        await p.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 60_000 });
        await p.waitForTimeout(1500); // the server's preferences arrive: the link's convention must stay
        const restored = await view(p);
        if (JSON.stringify(restored) !== JSON.stringify(before)) {
          throw new Error(`the link shows ${JSON.stringify(restored)}, not ${JSON.stringify(before)}`);
        }
        await p.reload();
        await p.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 60_000 });
        await p.waitForTimeout(1500);
        const reloaded = await view(p);
        if (JSON.stringify(reloaded) !== JSON.stringify(before)) throw new Error(`a reload shows ${JSON.stringify(reloaded)}`);
      } finally {
        await ctx.close();
      }
      // Back: the panel is part of the entry, the convention and the expiry each one back.
      await page.goBack();
      await page.waitForFunction((c) => window.__strikeboard.store.getState().prefs.convention === c, start.convention, { timeout: 5000 });
      await page.goBack();
      await page.waitForFunction((e) => window.__strikeboard.store.getState().chain.expiry === e, start.expiry, { timeout: 5000 });
      const back = await view(page);
      if (back.tab !== start.expiry || back.panel !== null || back.settings) throw new Error(`back twice shows ${JSON.stringify(back)}`);
      await page.goForward();
      await page.waitForFunction((e) => window.__strikeboard.store.getState().chain.expiry === e, target, { timeout: 5000 });
      await page.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 30_000 });
      // As it was for the checks after this one: the click saved the convention as a preference
      // too (going back changed the view only).
      const saved = page.waitForResponse((r) => r.url().includes("/api/preferences") && r.request().method() === "PUT", { timeout: 10_000 });
      await page.evaluate((c) => window.__strikeboard.store.dispatch({ type: "prefs/prefsChanged", payload: { convention: c } }), start.convention);
      await saved;
    });

    await check("history at a minute without data says so (with the nearest minute), never over another time's chain", async () => {
      const { expiry, now } = await page.evaluate(async () => ({
        expiry: window.__strikeboard.store.getState().chain.expiry,
        now: (await (await fetch("/api/health")).json()).now,
      }));
      const banner = async () => {
        await page.waitForSelector(".history-banner:not([data-history=loading])", { timeout: 30_000 });
        await page.waitForTimeout(500);
        return page.evaluate(() => ({
          state: document.querySelector(".history-banner").getAttribute("data-history"),
          text: document.querySelector(".history-banner").textContent,
          rows: document.querySelectorAll("[data-strike]").length,
          offer: document.querySelector(".history-banner [data-nearest]")?.getAttribute("data-nearest") ?? null,
          badge: document.querySelector("[data-badge]")?.getAttribute("data-badge"),
        }));
      };
      // Long before the archive's first minute: the API's 404, in its words, and no chain.
      await page.goto(`${url}/?expiry=${expiry}&at=2000-01-03T10:00`);
      let b = await banner();
      if (b.state !== "missing" || b.rows !== 0 || !b.text.startsWith("No data at Mon 3 Jan 10:00 IST") || !/the API says/.test(b.text) || b.badge !== "history") {
        throw new Error(`before the first session: ${JSON.stringify(b)}`);
      }
      // Before today's open: no data at that minute; offered the first minute after it when
      // the archive starts today, else shown the last minute before it (an earlier session's).
      const day = now.slice(0, 10);
      await page.goto(`${url}/?expiry=${expiry}&at=${day}T09:00`);
      b = await banner();
      if (b.state === "missing") {
        if (b.rows !== 0 || !b.offer) throw new Error(`before today's open: ${JSON.stringify(b)}`);
        await page.click(".history-banner [data-nearest]");
        b = await banner();
        if (b.state !== "loaded" || b.rows < 10) throw new Error(`the offered minute: ${JSON.stringify(b)}`);
        if (!page.url().includes(`at=${day}T09:`)) throw new Error(`the offered minute is not in the address: ${page.url()}`);
      } else if (b.state !== "earlier" || b.rows < 10 || !/showing the last minute before it/.test(b.text)) {
        throw new Error(`before today's open: ${JSON.stringify(b)}`);
      }
      log(`history before today's open: ${b.text}`);
      await page.click(".history-banner >> text=Back to live");
      await page.waitForFunction(() => window.__strikeboard.store.getState().chain.source === "ws" || window.__strikeboard.store.getState().chain.source === "rest", null, { timeout: 30_000 });
      await page.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 30_000 });
    });

    await check("keyboard: Esc closes a panel from anywhere (a field inside Settings too), ? lists the keys", async () => {
      const open = (sel) => page.locator(sel).count();
      await page.click('.top [aria-label="settings"]');
      await page.focus("aside.settings input[type=number]");
      await page.keyboard.press("Escape");
      if (await open("aside.settings")) throw new Error("Esc in the strikes field left Settings open");
      await page.click('.top [aria-label="settings"]');
      await page.focus("aside.settings input[type=checkbox]");
      const theme = await page.evaluate(() => document.documentElement.dataset.theme);
      await page.keyboard.press("t");
      const toggled = await page.evaluate(() => document.documentElement.dataset.theme);
      await page.keyboard.press("t");
      if (toggled === theme) throw new Error("t on a Settings checkbox did not toggle the theme");
      await page.keyboard.press("Escape");
      if (await open("aside.settings")) throw new Error("Esc on a Settings checkbox left Settings open");
      await page.keyboard.press("?");
      await page.waitForSelector("aside.help", { timeout: 5000 });
      const listed = await page.locator("aside.help dl.shortcuts > div").allInnerTexts();
      for (const key of ["↑", "[", "t", "?", "Esc"]) {
        if (!listed.some((t) => t.includes(key))) throw new Error(`the ? overlay does not list ${key}: ${listed.join(" | ")}`);
      }
      if (!page.url().includes("panel=help")) throw new Error(`the open panel is not in the address: ${page.url()}`);
      await page.keyboard.press("Escape");
      if (await open("aside.help")) throw new Error("Esc left the ? overlay open");
      if (page.url().includes("panel=")) throw new Error(`a closed panel is still in the address: ${page.url()}`);
    });

    await check("readable motion: only changed digits flash, a cell at most once a second, and Settings turns it off", async () => {
      // Every flash mark added to the chain, by cell, for a few seconds of live deltas.
      const watch = (ms) =>
        page.evaluate(
          (ms) =>
            new Promise((resolve) => {
              const seen = [];
              const whole = [];
              const obs = new MutationObserver((list) => {
                for (const m of list) {
                  for (const n of m.addedNodes) {
                    if (n.nodeType === 1 && n.classList.contains("fx")) {
                      const cell = n.closest(".c");
                      const row = n.closest("[data-strike]");
                      seen.push({ key: `${row?.getAttribute("data-strike")} ${cell?.className.split(" ").slice(1, 3).join(" ")}`, t: performance.now(), text: n.textContent, value: n.parentElement?.textContent });
                    }
                  }
                  if (m.type === "attributes" && m.target.classList?.contains("c") && /\bf[ud]\b/.test(m.target.className)) whole.push(m.target.className);
                }
              });
              obs.observe(document.querySelector(".chain .tbody"), { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
              setTimeout(() => {
                obs.disconnect();
                resolve({ seen, whole });
              }, ms);
            }),
          ms,
        );
      const on = await watch(6000);
      if (!on.seen.length) throw new Error("no flash in 6 s of live deltas");
      if (on.whole.length) throw new Error(`whole cells flashed: ${on.whole.slice(0, 3).join(", ")}`);
      const partial = on.seen.filter((f) => f.text.length < f.value.length).length;
      const last = new Map();
      const quick = [];
      for (const f of on.seen) {
        const before = last.get(f.key);
        if (before !== undefined && f.t - before < 950) quick.push(`${f.key} after ${Math.round(f.t - before)} ms`);
        last.set(f.key, f.t);
      }
      if (quick.length) throw new Error(`cells flashed again within a second: ${quick.slice(0, 5).join(", ")}`);
      // Off in Settings: no flash, and the preference is saved with the others.
      await page.click('.top [aria-label="settings"]');
      await page.click('aside.settings [aria-label="flash changes"]');
      await page.keyboard.press("Escape");
      const off = await watch(4000);
      const stored = await page.evaluate(() => JSON.parse(localStorage.getItem("sb.preferences") ?? "{}").flash);
      await page.click('.top [aria-label="settings"]');
      await page.click('aside.settings [aria-label="flash changes"]');
      await page.keyboard.press("Escape");
      if (off.seen.length) throw new Error(`${off.seen.length} flashes with flashing off`);
      if (stored !== false) throw new Error(`the preference was not stored: flash=${stored}`);
      log(`flashes in 6 s: ${on.seen.length} over ${last.size} cells (${partial} of part of a value, e.g. '${on.seen[0].value}' -> '${on.seen[0].text}')`);
    });

    await check("one rule for ATM and ITM (the forward), a legend says it; the spot label covers no figures; missing IVs say why", async () => {
      const f = await page.evaluate(() => {
        const meta = window.__strikeboard.store.getState().chain.meta;
        const rows = [...document.querySelectorAll(".chain .row[data-strike]")];
        const ref = meta.forward ?? meta.spot;
        const wrongItm = rows.filter((r) => {
          const k = Number(r.getAttribute("data-strike"));
          return r.classList.contains("itm-ce") !== k < ref || r.classList.contains("itm-pe") !== k > ref;
        }).map((r) => r.getAttribute("data-strike"));
        const ids = window.__strikeboard.store.getState().chain.rows.ids.map(Number);
        const nearest = ids.reduce((a, b) => (Math.abs(b - ref) < Math.abs(a - ref) ? b : a), ids[0]);
        const label = document.querySelector(".spotline span").getBoundingClientRect();
        const covered = rows.filter((r) => {
          const b = r.getBoundingClientRect();
          return b.bottom > label.top + 0.5 && b.top < label.bottom - 0.5;
        }).map((r) => r.getAttribute("data-strike"));
        const why = [...document.querySelectorAll(".chain .c.iv.why")];
        const untold = [...document.querySelectorAll(".chain .c.iv")]
          .filter((c) => c.textContent === "–" && !c.title)
          .map((c) => {
            const strike = c.closest("[data-strike]").getAttribute("data-strike");
            const side = c.classList.contains("CE") ? "CE" : "PE";
            return `${strike} ${side} ${JSON.stringify(window.__strikeboard.store.getState().chain.rows.entities[strike]?.[side] ?? null)}`;
          });
        return {
          legend: document.querySelector(".chain-legend")?.textContent ?? "",
          ref: document.querySelector(".chain-legend")?.getAttribute("data-ref"),
          atm: Number(document.querySelector(".row.atm")?.getAttribute("data-strike")),
          nearest,
          wrongItm,
          covered,
          why: why.length,
          whyTitle: why[0]?.title ?? null,
          untold,
        };
      });
      const problems = [];
      if (f.ref !== "forward" || !/ATM .*strike nearest the forward F/.test(f.legend)) problems.push(`legend: '${f.legend}'`);
      if (f.atm !== f.nearest) problems.push(`the ATM row is ${f.atm}, the strike nearest the forward ${f.nearest}`);
      if (f.wrongItm.length) problems.push(`ITM shading not by the forward at ${f.wrongItm.join(", ")}`);
      if (f.covered.length) problems.push(`the spot label covers rows ${f.covered.join(", ")}`);
      if (f.untold.length) problems.push(`missing IVs without a reason: ${f.untold.slice(0, 3).join("; ")}`);
      if (problems.length) throw new Error(problems.join(" | "));
      log(`legend: ${f.legend}; missing IVs with a reason: ${f.why}${f.whyTitle ? ` ('${f.whyTitle}')` : ""}`);
    });

    await check("charts: a tooltip under the crosshair with the strike and every series' value", async () => {
      const chart = page.locator(".side-panel .chart", { hasText: "OI by strike" }).locator(".plot");
      const box = await chart.boundingBox();
      await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.5);
      await page.waitForSelector(".chart-tip:not([hidden])", { timeout: 5000 });
      const tip = await page.locator(".chart-tip:not([hidden])").first().innerText();
      if (!/^Strike \d+/.test(tip) || !/Call OI: |Put OI: /.test(tip) || /-\d/.test(tip)) throw new Error(`tooltip: '${tip}'`);
      const titles = await page.locator(".side-panel .chart figcaption").allInnerTexts();
      if (!titles.some((t) => t.includes("GEX by strike, ₹ Cr per 1 % move"))) throw new Error(`no unit on GEX: ${titles.join(" | ")}`);
      await page.mouse.move(2, 2);
      log(`tooltip: ${tip.replace(/\n/g, " · ")}`);
    });

    await check("history shows one minute everywhere: quotes, chain, changes and charts, picked in IST dd-mm-yyyy HH:MM", async () => {
      const { expiry, minute, quotes, chain } = await page.evaluate(async () => {
        const s = window.__strikeboard.store.getState();
        const expiry = s.chain.expiry;
        const health = await (await fetch("/api/health")).json();
        const day = health.session.last_session;
        const token = await window.__strikeboard.auth.token();
        const get = async (path) => (await fetch(`/api/${path}`, { headers: { Authorization: `Bearer ${token}` } })).json();
        // Minutes already past on the market's clock (the archive may hold later ones of the
        // same replayed day from an earlier run); the middle one, so the charts have minutes
        // after it to leave out.
        const points = (await get(`analytics/intraday?expiry=${expiry}&date=${day}`)).points.filter(
          (p) => Date.parse(p.minute) <= Date.parse(health.now) - 60_000,
        );
        const minute = points[Math.floor(points.length / 2)].minute;
        const quotes = await get(`market?at=${encodeURIComponent(minute)}`);
        const chain = await get(`chain/${expiry}?at=${encodeURIComponent(minute)}`);
        return { expiry, minute, quotes, chain };
      });
      // Typed in the header's own minute input, as a trader reads it.
      const ist = new Date(Date.parse(minute) + 5.5 * 3600_000).toISOString();
      const typed = `${ist.slice(8, 10)}-${ist.slice(5, 7)}-${ist.slice(0, 4)} ${ist.slice(11, 16)}`;
      await page.fill('.top [aria-label="past minute (IST)"]', typed);
      await page.press('.top [aria-label="past minute (IST)"]', "Enter");
      await page.waitForSelector(".history-banner[data-history=loaded]", { timeout: 30_000 });
      await page.waitForSelector('.market[data-source=history] [data-name="NIFTY 50"] .ltp', { timeout: 10_000 });
      // The charts redraw staggered (and slowly on a loaded machine): wait until they show
      // their markers; the checks below name any chart that did not.
      await page
        .waitForFunction(() => [...document.querySelectorAll(".side-panel .chart .marker")].filter((m) => !m.hidden).length >= 5, null, { timeout: 30_000 })
        .catch(() => {});
      const f = await page.evaluate(() => {
        const s = window.__strikeboard.store.getState();
        const nifty = document.querySelector('.market [data-name="NIFTY 50"]');
        // Each marked chart: where its marker sits (0-1 across the plot) and whether its last
        // drawn value is at or before the marked minute.
        const marks = [...document.querySelectorAll(".side-panel .chart .marker")].map((m) => {
          const plot = m.parentElement.getBoundingClientRect();
          const r = m.getBoundingClientRect();
          const last = Number(m.parentElement.dataset.last);
          return m.hidden ? null : { x: (r.left - plot.left) / plot.width, ends: last <= Number(m.dataset.marker) };
        });
        const changes = [...document.querySelectorAll(".chain .c.change .v")].map((c) => c.textContent);
        return {
          at: s.ui.at,
          url: location.search,
          spot: nifty?.querySelector(".ltp")?.textContent,
          chg: nifty?.querySelector(".chg .abs")?.textContent,
          marks,
          changes: changes.filter((t) => t !== "–").length,
          dashes: changes.filter((t) => t === "–").length,
        };
      });
      const problems = [];
      if (Date.parse(f.at) !== Date.parse(minute) || !f.at.endsWith("+05:30")) problems.push(`travelled to ${f.at}, not ${minute}`);
      if (!f.url.includes("at=")) problems.push(`the minute is not in the address: ${f.url}`);
      const spot = quotes.instruments["NIFTY 50"];
      const fmt = (v) => new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
      if (f.spot !== fmt(spot.ltp)) problems.push(`the top bar's NIFTY is ${f.spot}, the minute's ${fmt(spot.ltp)}`);
      if (spot.change !== null && f.chg === "–") problems.push("the top bar's change is a dash");
      const shown = f.marks.filter((m) => m !== null);
      if (shown.length < 5) problems.push(`${shown.length} charts mark the minute, not 5`);
      // The charts end at the minute (the archive holds later minutes of this day): nothing
      // drawn after it, and its marker inside the plot.
      if (shown.some((m) => !m.ends)) problems.push("a chart runs past the chosen minute");
      if (shown.some((m) => !(m.x > 0 && m.x < 1))) problems.push(`a marker is off its chart: ${shown.map((m) => m.x.toFixed(2)).join(", ")}`);
      const apiChanges = Object.values(chain.strikes).flatMap((r) => [r.CE?.change, r.PE?.change]).filter((v) => typeof v === "number").length;
      if (apiChanges > 0 && f.changes === 0) problems.push("the Chg column is all dashes though the API has the changes");
      if (problems.length) throw new Error(problems.join(" | "));
      log(`history ${typed} IST (${expiry}): NIFTY ${f.spot} ${f.chg}, ${f.changes} changes shown (${f.dashes} dashes; the API had ${apiChanges}), markers at ${shown.map((m) => m.x.toFixed(2)).join(", ")}`);
      await page.click(".history-banner >> text=Back to live");
      await page.waitForFunction(() => window.__strikeboard.store.getState().ui.at === null && document.querySelector(".market")?.getAttribute("data-source") === "live", null, { timeout: 10_000 });
      await page.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 30_000 });
    });

    // A wide screen, a tablet and a phone: nothing sticks out sideways but the chain's own
    // scroller, the strike column stays in view, cells keep their content with every column
    // on, charts are there (below the chain on narrow screens). The pictures of the README.
    for (const [width, height, shot] of [[1600, 1000, SCREENSHOT], [1024, 800, null], [400, 850, MOBILE_SCREENSHOT]]) {
      await check(`layout at ${width} px`, async () => {
        const ctx = await browser.newContext({ viewport: { width, height } });
        const p = await ctx.newPage();
        p.on("pageerror", (e) => errors.push(e.message));
        try {
          await p.goto(`${url}/#token=${encodeURIComponent(tok)}`);
          await p.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 60_000 });
          await p.waitForSelector(".row.atm", { timeout: 10_000 });
          const columns = DEFAULT_COLUMNS;
          const problems = [];
          for (const cols of [columns, ALL_COLUMNS]) {
            // Applied as loaded preferences: not saved, so no other page sees them.
            await p.evaluate(
              (c) => window.__strikeboard.store.dispatch({ type: "prefs/prefsLoaded", payload: { columns: c, convention: "forward" } }),
              cols,
            );
            await p.waitForTimeout(cols === columns ? 3000 : 500); // charts drawn, flashes settled
            const f = await p.evaluate(layoutFacts);
            const label = cols === columns ? "default columns" : "every column";
            if (f.scrollWidth > f.innerWidth) problems.push(`${label}: the page is ${f.scrollWidth} px wide`);
            if (f.outside.length) problems.push(`${label}: outside the viewport: ${f.outside.join(", ")}`);
            if (f.strike.length) problems.push(`${label}: the strike column is not in view: ${f.strike.join("; ")}`);
            if (f.squeezed.length) problems.push(`${label}: cut cells: ${f.squeezed.join(", ")}`);
            if (f.charts < 9) problems.push(`${label}: ${f.charts} charts drawn, not 9`);
            if (width <= 1024 && !f.chartsBelow) problems.push(`${label}: the charts are not below the chain`);
            if (cols === ALL_COLUMNS && width <= 1024 && !f.scrollsSideways) problems.push("every column fits a narrow screen?");
            if (cols === columns && shot) {
              await p.screenshot({ path: shot });
              log(`screenshot ${shot}: ${(statSync(shot).size / 1024).toFixed(0)} KB`);
            }
          }
          if (width <= 640) {
            const h = await p.evaluate(headerFacts);
            const missing = Object.entries(h).filter(([, ok]) => !ok).map(([k]) => k);
            if (missing.length) problems.push(`not on screen in the header: ${missing.join(", ")}`);
          }
          if (problems.length) throw new Error(problems.join(" | "));
        } finally {
          await ctx.close();
        }
      });
    }

    // `strikeboard dev` follows NIFTY, BANKNIFTY and SENSEX (DEV_UNDERLYINGS): each chain is
    // its own, with its strike step, lot size and expiries, and the address names it.
    await check("the header's select switches underlyings: each chain's strikes, lot and expiries", async () => {
      const STEPS = { NIFTY: 50, BANKNIFTY: 100, SENSEX: 100 };
      const problems = [];
      for (const name of [...Object.keys(STEPS), "NIFTY"]) {
        await page.selectOption(".top select[aria-label=underlying]", name);
        await page.waitForFunction(
          (n) => {
            const s = window.__strikeboard.store.getState();
            return s.chain.meta?.underlying === n && s.chain.rows.ids.length > 0 && document.querySelectorAll("[data-strike]").length >= 10;
          },
          name,
          { timeout: 60_000 },
        );
        const answer = await fetch(`${url}/api/expiries?underlying=${name}`, { headers: { Authorization: `Bearer ${tok}` } });
        if (!answer.ok) throw new Error(`GET /api/expiries?underlying=${name}: ${answer.status} ${await answer.text()}`);
        const expiries = await answer.json();
        const facts = await page.evaluate(() => {
          const lot = [...document.querySelectorAll(".chain-header .stat")].find((el) => el.querySelector("span")?.textContent === "Lot");
          return {
            expiry: window.__strikeboard.store.getState().chain.expiry,
            strikes: [...document.querySelectorAll("[data-strike]")].map((el) => Number(el.getAttribute("data-strike"))),
            lot: lot?.querySelector("b")?.textContent ?? null,
            tabs: [...document.querySelectorAll("nav.expiries .tab")].map((t) => t.getAttribute("data-expiry")),
          };
        });
        const strikes = [...new Set(facts.strikes)].sort((a, b) => a - b);
        const step = Math.min(...strikes.slice(1).map((k, i) => k - strikes[i]));
        const listed = expiries.map((e) => e.expiry);
        const lot = expiries.find((e) => e.expiry === facts.expiry)?.lot_size;
        if (step !== STEPS[name]) problems.push(`${name}: strikes ${step} apart, not ${STEPS[name]}`);
        if (lot === undefined || facts.lot !== String(lot)) problems.push(`${name} ${facts.expiry}: the header's lot is ${facts.lot}, the API's ${lot}`);
        if (JSON.stringify(facts.tabs) !== JSON.stringify(listed)) problems.push(`${name}: tabs ${facts.tabs.join(",")}, the API's expiries ${listed.join(",")}`);
        if (new URL(page.url()).searchParams.get("underlying") !== name) problems.push(`${name}: the address is ${page.url()}`);
        log(`${name}: strikes ${step} apart, lot ${facts.lot}, expiries ${listed.join(" ")}`);
      }
      if (problems.length) throw new Error(problems.join(" | "));
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
        // The restarted feed reloads the instruments and prices the chain before its first
        // delta: a minute and more when the machine is loaded.
        await page.waitForFunction((n) => window.__strikeboard.store.getState().chain.applied !== n, applied, { timeout: 150_000 });
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
