/**
 * The dashboard against the real local stack (`strikeboard dev --speed 10`, started by the
 * `dev` fixture: e2e/fixtures.ts), in Debian's Chromium: the chain renders from the printed
 * `/#token=` link (the token leaves the address bar, goes out in no URL; sockets use tickets),
 * values update live, switching expiry works, the address holds the view, history, keyboard,
 * motion, ATM/ITM, charts, the layout at three widths (saving web/screenshots/dashboard.png and
 * dashboard-mobile.png), switching underlying (NIFTY, BANKNIFTY, SENSEX) shows each one's chain,
 * and the page recovers after the stack (gateway included) restarts. Against a stack that is
 * already running: STRIKEBOARD_URL=http://127.0.0.1:8000 DEV_TOKEN=... (the restart check is
 * then skipped). Run: `npm run e2e:dashboard` in web/ (or `make test`: tests/e2e/test_web.py).
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { chainRendered, expect, state, test, watchErrors } from "./fixtures";
import { log, web } from "./stack";

const SCREENSHOT = join(web, "screenshots", "dashboard.png");
const MOBILE_SCREENSHOT = join(web, "screenshots", "dashboard-mobile.png");
// prefsSlice.ts DEFAULT_PREFS: the pictures show the defaults whatever an earlier run saved.
const DEFAULT_COLUMNS = ["oi", "oi_change", "volume", "iv", "change", "ltp"];
const ALL_COLUMNS = ["oi", "oi_change", "volume", "iv", "ltp", "change", "bid", "ask", "bid_qty", "ask_qty", "delta", "gamma", "theta", "vega", "buildup"];

/**
 * What sticks out of the viewport sideways (the chain's own scroller excepted), and whether the
 * ATM row's strike cell is in view, uncovered, inside the chain's scroller. Runs in the page.
 */
function layoutFacts() {
  const iw = window.innerWidth;
  const name = (el: Element) => `${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? `.${el.className.trim().split(/\s+/).join(".")}` : ""}`;
  const outside: string[] = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".chain-wrap")) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && (r.right > iw + 0.5 || r.left < -0.5)) outside.push(`${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
  }
  const scroller = document.querySelector(".chain-wrap")!;
  const wrap = scroller.getBoundingClientRect();
  const strikeVisible = () => {
    const cell = document.querySelector(".row.atm .strike");
    if (!cell) return "no ATM row";
    const r = cell.getBoundingClientRect();
    if (r.left < Math.max(0, wrap.left) - 0.5 || r.right > Math.min(iw, wrap.right) + 0.5) return `strike cell at [${r.left}, ${r.right}]`;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit && cell.contains(hit) ? null : `strike cell covered by ${hit ? name(hit) : "nothing"}`;
  };
  // The strike column in view wherever the table is scrolled sideways (it is sticky).
  const before = scroller.scrollLeft;
  const strike: string[] = [];
  for (const left of [before, 0, scroller.scrollWidth]) {
    scroller.scrollLeft = left;
    const problem = strikeVisible();
    if (problem) strike.push(`scrollLeft ${scroller.scrollLeft}: ${problem}`);
  }
  scroller.scrollLeft = before;
  // No cell's content is cut or runs into the next cell's.
  const squeezed: string[] = [];
  for (const cell of document.querySelectorAll(".chain .row > div, .chain .hrow.cols > div")) {
    if (cell.scrollWidth > cell.clientWidth + 1) squeezed.push(`${name(cell)} '${cell.textContent}'`);
  }
  const charts = [...document.querySelectorAll(".side-panel .chart")].map((c) => c.getBoundingClientRect());
  // A chart's plot says the last x it was given data up to (Chart.tsx): its data is drawn.
  const drawn = [...document.querySelectorAll<HTMLElement>(".side-panel .chart .plot")].filter((p) => !!p.dataset.last).length;
  const chain = document.querySelector(".chain-panel")!.getBoundingClientRect();
  return {
    innerWidth: iw,
    scrollWidth: document.documentElement.scrollWidth,
    outside: outside.slice(0, 10),
    strike,
    squeezed: squeezed.slice(0, 10),
    charts: charts.filter((r) => r.width >= 150 && r.height >= 80).length,
    drawn,
    chartsBelow: charts.length > 0 && charts.every((r) => r.top >= chain.bottom - 1),
    scrollsSideways: scroller.scrollWidth > scroller.clientWidth,
  };
}

/** The header's controls at a phone's width: each on screen, in the top rows. Runs in the page. */
function headerFacts() {
  const iw = window.innerWidth;
  const wanted = {
    quotes: document.querySelectorAll(".top .quote"),
    badge: document.querySelectorAll(".top [data-badge]"),
    theme: document.querySelectorAll('.top [aria-label="toggle theme"]'),
    settings: document.querySelectorAll('.top [aria-label="settings"]'),
    history: document.querySelectorAll('.top [aria-label="time travel"]'),
  };
  const out: Record<string, boolean> = {};
  for (const [key, list] of Object.entries(wanted)) {
    const rects = [...list].map((el) => el.getBoundingClientRect());
    out[key] = rects.length > 0 && rects.every((r) => r.width > 0 && r.left >= 0 && r.right <= iw && r.bottom <= 120);
  }
  return out;
}

/** The view as the page shows it: the store's and the DOM's. */
const view = (p: Page) =>
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

/**
 * The server's preferences have arrived and React has applied them (an effect after the
 * render): what the page shows from then on is the view with them.
 */
async function preferencesApplied(p: Page): Promise<void> {
  await expect
    .poll(() => state(p, (s) => Object.values(s.api.queries).some((q) => q?.endpointName === "preferences" && q.status === "fulfilled")), {
      timeout: 30_000,
      message: "GET /api/preferences answered",
    })
    .toBe(true);
  await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r)))));
}

// One page through the story, as a trader keeps one tab: a failed check skips the ones after it.
test.describe.configure({ mode: "serial" });

test("the chain renders", async ({ app: { page, sent, sockets }, dev }) => {
  // The printed link's form: the token in the fragment, which no request carries.
  await page.goto(`${dev.url}/#token=${encodeURIComponent(dev.token)}`);
  await chainRendered(page, 90_000);
  expect(page.url(), "the token left the address bar").not.toContain(dev.token);
  expect(sent.filter((u) => u.includes(dev.token)), "URLs with the token").toEqual([]);
  expect(sockets.length, "sockets opened").toBeGreaterThan(0);
  for (const u of sockets) expect(u, "a socket with a ticket").toMatch(/[?&]ticket=/);
  await expect(page.locator(".row.atm")).toBeAttached();
  await expect(page.locator(".spotline")).toBeAttached();
  await expect(page.locator("nav.expiries .tab").first()).toBeAttached();
  await expect(page.locator(".row.atm .ltp.CE .v"), "ATM call LTP").toHaveText(/\d/);
});

test("values update live", async ({ app: { page } }) => {
  const text0 = await page.locator(".chain .tbody").innerText();
  // Deltas over the WebSocket, not the REST fallback: `applied` counts socket deltas.
  await expect
    .poll(() => state(page, (s) => s.chain.applied), {
      timeout: 30_000,
      message: "deltas arrived over the WebSocket within 30 s (is the feed pushing to the gateway?)",
    })
    .toBeGreaterThanOrEqual(3);
  await expect.poll(() => state(page, (s) => s.ui.connection)).toBe("live");
  await expect(page.locator(".chain .tbody")).not.toHaveText(text0, { timeout: 30_000 });
});

test("switching expiry works", async ({ app: { page } }) => {
  const tabs = page.locator("nav.expiries .tab");
  expect(await tabs.count(), "expiries to switch between").toBeGreaterThanOrEqual(2);
  const target = await tabs.nth(1).getAttribute("data-expiry");
  await tabs.nth(1).click();
  await expect.poll(() => state(page, (s) => ({ expiry: s.chain.expiry, rows: s.chain.rows.ids.length > 0 })), { timeout: 30_000 }).toEqual({ expiry: target, rows: true });
  await chainRendered(page, 30_000);
  await page.keyboard.press("[");
  await expect.poll(() => state(page, (s) => s.chain.expiry)).not.toBe(target);
});

test("one clock: the tabs' and the header's days to expiry agree, from the API's market time", async ({ app: { page } }) => {
  // The chain of the expiry "[" chose has arrived (the header shows "–" until then).
  await expect(page.locator(".stat[data-dte]")).toHaveAttribute("data-dte", /\d/, { timeout: 30_000 });
  const facts = await page.evaluate(async () => {
    const health = (await (await fetch("/api/health")).json()) as { now: string; session?: { state?: string } };
    const meta = window.__strikeboard.store.getState().chain.meta;
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
  expect(active?.dte, "the active tab's days to expiry, as the header's").toBe(facts.header);
  // In a session the chain is valued at the API's now; once closed, at its last market time.
  const market = facts.open ? Date.parse(facts.now) : facts.ts! * 1000;
  if (facts.open && facts.ts !== null) {
    expect(Math.abs(facts.ts * 1000 - Date.parse(facts.now)), `the chain's market time ${new Date(facts.ts * 1000).toISOString()} is the API's ${facts.now}`).toBeLessThanOrEqual(120_000);
  }
  const problems: string[] = [];
  for (const t of facts.tabs) {
    const expected = (Date.parse(`${t.expiry}T15:30:00+05:30`) - market) / 86_400_000;
    // Two decimals, and the simulated clock runs 10x between health answers (5 s).
    if (!(Math.abs(Number(t.dte) - expected) <= 0.012)) problems.push(`${t.expiry}: ${t.dte} d, the API's clock says ${expected.toFixed(3)}`);
  }
  expect(problems).toEqual([]);
  log(`days to expiry from ${new Date(market).toISOString()}, the API's ${facts.open ? "now" : "last market time"} (the browser's clock: ${new Date(facts.browser).toISOString()})`);
});

test("the address holds the view: a shared link restores it, back and forward work", async ({ app: { page }, browser, dev }) => {
  const start = await view(page);
  const tabs = page.locator("nav.expiries .tab");
  const target = await tabs.nth(2).getAttribute("data-expiry");
  await tabs.nth(2).click();
  const other = start.convention === "nse" ? "Forward IV" : "NSE IV";
  await page.locator(".switch button", { hasText: other }).click();
  await page.click('.top [aria-label="settings"]');
  const shared = page.url();
  const before = await view(page);
  expect(before.expiry, "the clicked expiry").toBe(target);
  expect(before.panel, "the open panel").toBe("settings");
  expect(before.convention, "the clicked convention").not.toBe(start.convention);
  expect(shared, "the address holds the expiry").toContain(`expiry=${target}`);
  expect(shared, "the address holds the panel").toContain("panel=settings");
  // The link in another browser (its own sign-in: the dev token's fragment).
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  try {
    const p = await ctx.newPage();
    await p.goto(`${shared}#token=${encodeURIComponent(dev.token)}`);
    await chainRendered(p, 60_000);
    // The server's preferences arrive: the link's convention must stay.
    await preferencesApplied(p);
    expect(await view(p), "the link's view").toEqual(before);
    await p.reload();
    await chainRendered(p, 60_000);
    await preferencesApplied(p);
    expect(await view(p), "the view after a reload").toEqual(before);
  } finally {
    await ctx.close();
  }
  // Back: the panel is part of the entry, the convention and the expiry each one back.
  await page.goBack();
  await expect.poll(() => state(page, (s) => s.prefs.convention)).toBe(start.convention);
  await page.goBack();
  await expect.poll(() => state(page, (s) => s.chain.expiry)).toBe(start.expiry);
  const back = await view(page);
  expect({ tab: back.tab, panel: back.panel, settings: back.settings }, "back twice").toEqual({ tab: start.expiry, panel: null, settings: false });
  await page.goForward();
  await expect.poll(() => state(page, (s) => s.chain.expiry)).toBe(target);
  await chainRendered(page, 30_000);
  // As it was for the checks after this one: the click saved the convention as a preference
  // too (going back changed the view only).
  const saved = page.waitForResponse((r) => r.url().includes("/api/preferences") && r.request().method() === "PUT", { timeout: 10_000 });
  await page.evaluate((c) => window.__strikeboard.store.dispatch({ type: "prefs/prefsChanged", payload: { convention: c } }), start.convention);
  await saved;
});

test("history at a minute without data says so (with the nearest minute), never over another time's chain", async ({ app: { page }, dev }) => {
  const { expiry, now } = await page.evaluate(async () => ({
    expiry: window.__strikeboard.store.getState().chain.expiry,
    now: ((await (await fetch("/api/health")).json()) as { now: string }).now,
  }));
  const banner = () =>
    page.evaluate(() => ({
      state: document.querySelector(".history-banner")?.getAttribute("data-history") ?? null,
      text: document.querySelector(".history-banner")?.textContent ?? "",
      rows: document.querySelectorAll("[data-strike]").length,
      offer: document.querySelector(".history-banner [data-nearest]")?.getAttribute("data-nearest") ?? null,
      badge: document.querySelector("[data-badge]")?.getAttribute("data-badge"),
    }));
  // Long before the archive's first minute: the API's 404, in its words, and no chain.
  await page.goto(`${dev.url}/?expiry=${expiry}&at=2000-01-03T10:00`);
  await expect
    .poll(banner, { timeout: 30_000, message: "before the first session" })
    .toEqual(expect.objectContaining({ state: "missing", rows: 0, badge: "history", text: expect.stringMatching(/^No data at Mon 3 Jan 10:00 IST[\s\S]*the API says/) }));
  // Before today's open: no data at that minute; offered the first minute after it when
  // the archive starts today, else shown the last minute before it (an earlier session's).
  const day = now.slice(0, 10);
  await page.goto(`${dev.url}/?expiry=${expiry}&at=${day}T09:00`);
  let b = await banner();
  await expect(async () => {
    b = await banner();
    expect(b.state, "the banner's state").toMatch(/^(missing|earlier)$/);
    if (b.state === "missing") expect(b.offer, "the nearest minute offered").not.toBeNull();
    else expect(b.rows, "the earlier minute's rows").toBeGreaterThanOrEqual(10);
  }, "before today's open").toPass({ timeout: 30_000 });
  if (b.state === "missing") {
    expect(b.rows, `before today's open: ${JSON.stringify(b)}`).toBe(0);
    await page.click(".history-banner [data-nearest]");
    await expect.poll(banner, { timeout: 30_000, message: "the offered minute" }).toEqual(expect.objectContaining({ state: "loaded" }));
    await chainRendered(page, 30_000);
    expect(page.url(), "the offered minute is in the address").toContain(`at=${day}T09:`);
    b = await banner();
  } else {
    expect(b.text, `before today's open: ${JSON.stringify(b)}`).toMatch(/showing the last minute before it/);
  }
  log(`history before today's open: ${b.text}`);
  await page.click(".history-banner >> text=Back to live");
  await expect.poll(() => state(page, (s) => s.chain.source), { timeout: 30_000 }).toMatch(/^(ws|rest)$/);
  await chainRendered(page, 30_000);
});

test("keyboard: Esc closes a panel from anywhere (a field inside Settings too), ? lists the keys", async ({ app: { page } }) => {
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
  await page.click('.top [aria-label="settings"]');
  await page.focus("aside.settings input[type=number]");
  await page.keyboard.press("Escape");
  await expect(page.locator("aside.settings"), "Esc in the strikes field closes Settings").toHaveCount(0);
  await page.click('.top [aria-label="settings"]');
  await page.focus("aside.settings input[type=checkbox]");
  const before = await theme();
  await page.keyboard.press("t");
  const toggled = await theme();
  await page.keyboard.press("t");
  expect(toggled, "t on a Settings checkbox toggles the theme").not.toBe(before);
  await page.keyboard.press("Escape");
  await expect(page.locator("aside.settings"), "Esc on a Settings checkbox closes Settings").toHaveCount(0);
  await page.keyboard.press("?");
  await expect(page.locator("aside.help")).toBeVisible({ timeout: 5000 });
  const listed = await page.locator("aside.help dl.shortcuts > div").allInnerTexts();
  for (const key of ["↑", "[", "t", "?", "Esc"]) {
    expect(listed.some((t) => t.includes(key)), `the ? overlay lists ${key}: ${listed.join(" | ")}`).toBe(true);
  }
  expect(page.url(), "the open panel is in the address").toContain("panel=help");
  await page.keyboard.press("Escape");
  await expect(page.locator("aside.help"), "Esc closes the ? overlay").toHaveCount(0);
  expect(page.url(), "a closed panel leaves the address").not.toContain("panel=");
});

test("readable motion: only changed digits flash, a cell at most once a second, and Settings turns it off", async ({ app: { page } }) => {
  // Every flash mark added to the chain, by cell, for a few seconds of live deltas.
  const watch = (ms: number) =>
    page.evaluate(
      (ms) =>
        new Promise<{ seen: { key: string; t: number; text: string; value: string }[]; whole: string[] }>((resolve) => {
          const seen: { key: string; t: number; text: string; value: string }[] = [];
          const whole: string[] = [];
          const obs = new MutationObserver((list) => {
            for (const m of list) {
              for (const n of m.addedNodes) {
                if (n instanceof Element && n.classList.contains("fx")) {
                  const cell = n.closest(".c");
                  const row = n.closest("[data-strike]");
                  seen.push({
                    key: `${row?.getAttribute("data-strike")} ${cell?.className.split(" ").slice(1, 3).join(" ")}`,
                    t: performance.now(),
                    text: n.textContent ?? "",
                    value: n.parentElement?.textContent ?? "",
                  });
                }
              }
              if (m.type === "attributes" && m.target instanceof Element && m.target.classList.contains("c") && /\bf[ud]\b/.test(m.target.className)) whole.push(m.target.className);
            }
          });
          obs.observe(document.querySelector(".chain .tbody")!, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
          setTimeout(() => {
            obs.disconnect();
            resolve({ seen, whole });
          }, ms);
        }),
      ms,
    );
  const on = await watch(6000);
  expect(on.seen.length, "flashes in 6 s of live deltas").toBeGreaterThan(0);
  expect(on.whole.slice(0, 3), "whole cells flashed").toEqual([]);
  const partial = on.seen.filter((f) => f.text.length < f.value.length).length;
  const last = new Map<string, number>();
  const quick: string[] = [];
  for (const f of on.seen) {
    const before = last.get(f.key);
    if (before !== undefined && f.t - before < 950) quick.push(`${f.key} after ${Math.round(f.t - before)} ms`);
    last.set(f.key, f.t);
  }
  expect(quick.slice(0, 5), "cells flashed again within a second").toEqual([]);
  // Off in Settings: no flash, and the preference is saved with the others.
  await page.click('.top [aria-label="settings"]');
  await page.click('aside.settings [aria-label="flash changes"]');
  await page.keyboard.press("Escape");
  const off = await watch(4000);
  const stored = await page.evaluate(() => (JSON.parse(localStorage.getItem("sb.preferences") ?? "{}") as { flash?: boolean }).flash);
  await page.click('.top [aria-label="settings"]');
  await page.click('aside.settings [aria-label="flash changes"]');
  await page.keyboard.press("Escape");
  expect(off.seen.length, "flashes with flashing off").toBe(0);
  expect(stored, "the stored flash preference").toBe(false);
  log(`flashes in 6 s: ${on.seen.length} over ${last.size} cells (${partial} of part of a value, e.g. '${on.seen[0]!.value}' -> '${on.seen[0]!.text}')`);
});

test("one rule for ATM and ITM (the forward), a legend says it; the spot label covers no figures; missing IVs say why", async ({ app: { page } }) => {
  const f = await page.evaluate(() => {
    const chain = window.__strikeboard.store.getState().chain;
    const meta = chain.meta!;
    const rows = [...document.querySelectorAll(".chain .row[data-strike]")];
    const ref = (meta.forward ?? meta.spot)!;
    const wrongItm = rows
      .filter((r) => {
        const k = Number(r.getAttribute("data-strike"));
        return r.classList.contains("itm-ce") !== k < ref || r.classList.contains("itm-pe") !== k > ref;
      })
      .map((r) => r.getAttribute("data-strike"));
    const ids = chain.rows.ids.map(Number);
    const nearest = ids.reduce((a, b) => (Math.abs(b - ref) < Math.abs(a - ref) ? b : a), ids[0]!);
    const label = document.querySelector(".spotline span")!.getBoundingClientRect();
    const covered = rows
      .filter((r) => {
        const b = r.getBoundingClientRect();
        return b.bottom > label.top + 0.5 && b.top < label.bottom - 0.5;
      })
      .map((r) => r.getAttribute("data-strike"));
    const why = [...document.querySelectorAll<HTMLElement>(".chain .c.iv.why")];
    const untold = [...document.querySelectorAll<HTMLElement>(".chain .c.iv")]
      .filter((c) => c.textContent === "–" && !c.title)
      .map((c) => {
        const strike = c.closest("[data-strike]")!.getAttribute("data-strike")!;
        const side = c.classList.contains("CE") ? "CE" : "PE";
        return `${strike} ${side} ${JSON.stringify(chain.rows.entities[strike]?.[side] ?? null)}`;
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
  expect(f.ref, `legend: '${f.legend}'`).toBe("forward");
  expect(f.legend).toMatch(/ATM .*strike nearest the forward F/);
  expect(f.atm, "the ATM row is the strike nearest the forward").toBe(f.nearest);
  expect(f.wrongItm, "ITM shading not by the forward").toEqual([]);
  expect(f.covered, "rows the spot label covers").toEqual([]);
  expect(f.untold.slice(0, 3), "missing IVs without a reason").toEqual([]);
  log(`legend: ${f.legend}; missing IVs with a reason: ${f.why}${f.whyTitle ? ` ('${f.whyTitle}')` : ""}`);
});

test("charts: a tooltip under the crosshair with the strike and every series' value", async ({ app: { page } }) => {
  const chart = page.locator(".side-panel .chart", { hasText: "OI by strike" }).locator(".plot");
  const box = (await chart.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.5);
  const tip = page.locator(".chart-tip:not([hidden])").first();
  await expect(tip).toBeVisible({ timeout: 5000 });
  const text = await tip.innerText();
  expect(text, "tooltip").toMatch(/^Strike \d+/);
  expect(text, "tooltip").toMatch(/Call OI: |Put OI: /);
  expect(text, "tooltip").not.toMatch(/-\d/);
  const titles = await page.locator(".side-panel .chart figcaption").allInnerTexts();
  expect(titles.some((t) => t.includes("GEX, ₹ Cr per 1 % move")), `a unit on GEX: ${titles.join(" | ")}`).toBe(true);
  await page.mouse.move(2, 2);
  log(`tooltip: ${text.replace(/\n/g, " · ")}`);
});

test("history shows one minute everywhere: quotes, chain, changes and charts, picked in IST dd-mm-yyyy HH:MM", async ({ app: { page } }) => {
  interface Chain {
    strikes: Record<string, { CE?: { change?: unknown }; PE?: { change?: unknown } }>;
  }
  interface Quotes {
    instruments: Record<string, { ltp: number; change: number | null }>;
  }
  const { expiry, minute, quotes, chain } = await page.evaluate(async () => {
    const expiry = window.__strikeboard.store.getState().chain.expiry;
    const health = (await (await fetch("/api/health")).json()) as { now: string; session: { last_session: string } };
    const day = health.session.last_session;
    const token = await window.__strikeboard.auth.token();
    const get = async (path: string): Promise<unknown> => (await fetch(`/api/${path}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    // Minutes already past on the market's clock (the archive may hold later ones of the
    // same replayed day from an earlier run); the middle one, so the charts have minutes
    // after it to leave out.
    const points = ((await get(`analytics/intraday?expiry=${expiry}&date=${day}`)) as { points: { minute: string }[] }).points.filter(
      (p) => Date.parse(p.minute) <= Date.parse(health.now) - 60_000,
    );
    const minute = points[Math.floor(points.length / 2)]!.minute;
    const quotes = await get(`market?at=${encodeURIComponent(minute)}`);
    const chain = await get(`chain/${expiry}?at=${encodeURIComponent(minute)}`);
    return { expiry, minute, quotes, chain };
  });
  // Typed in the header's own minute input, as a trader reads it.
  const ist = new Date(Date.parse(minute) + 5.5 * 3600_000).toISOString();
  const typed = `${ist.slice(8, 10)}-${ist.slice(5, 7)}-${ist.slice(0, 4)} ${ist.slice(11, 16)}`;
  await page.fill('.top [aria-label="past minute (IST)"]', typed);
  await page.press('.top [aria-label="past minute (IST)"]', "Enter");
  await expect(page.locator(".history-banner[data-history=loaded]")).toBeAttached({ timeout: 30_000 });
  await expect(page.locator('.market[data-source=history] [data-name="NIFTY 50"] .ltp')).toBeAttached();
  const spot = (quotes as Quotes).instruments["NIFTY 50"]!;
  const fmt = (v: number) => new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
  const apiChanges = Object.values((chain as Chain).strikes)
    .flatMap((r) => [r.CE?.change, r.PE?.change])
    .filter((v) => typeof v === "number").length;
  const facts = () =>
    page.evaluate(() => {
      const s = window.__strikeboard.store.getState();
      const nifty = document.querySelector('.market [data-name="NIFTY 50"]');
      // Each marked chart: where its marker sits (0-1 across the plot) and whether its last
      // drawn value is at or before the marked minute.
      const marks = [...document.querySelectorAll<HTMLElement>(".side-panel .chart .marker")].map((m) => {
        const plot = m.parentElement!.getBoundingClientRect();
        const r = m.getBoundingClientRect();
        const last = Number(m.parentElement!.dataset.last);
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
  let f = await facts();
  let shown: { x: number; ends: boolean }[] = [];
  // The charts redraw staggered (and slowly on a loaded machine): the facts settle.
  await expect(async () => {
    f = await facts();
    shown = f.marks.filter((m) => m !== null);
    expect(f.at !== null && Date.parse(f.at) === Date.parse(minute) && f.at.endsWith("+05:30"), `travelled to ${f.at}, not ${minute}`).toBe(true);
    expect(f.url, "the minute is in the address").toContain("at=");
    expect(f.spot, "the top bar's NIFTY, the minute's").toBe(fmt(spot.ltp));
    if (spot.change !== null) expect(f.chg, "the top bar's change").not.toBe("–");
    expect(shown.length, "charts that mark the minute").toBeGreaterThanOrEqual(5);
    // The charts end at the minute (the archive holds later minutes of this day): nothing
    // drawn after it, and its marker inside the plot.
    expect(shown.every((m) => m.ends), "no chart runs past the chosen minute").toBe(true);
    expect(shown.every((m) => m.x > 0 && m.x < 1), `markers on their charts: ${shown.map((m) => m.x.toFixed(2)).join(", ")}`).toBe(true);
    if (apiChanges > 0) expect(f.changes, "the Chg column shows the API's changes").toBeGreaterThan(0);
  }).toPass({ timeout: 30_000 });
  log(`history ${typed} IST (${expiry}): NIFTY ${f.spot} ${f.chg}, ${f.changes} changes shown (${f.dashes} dashes; the API had ${apiChanges}), markers at ${shown.map((m) => m.x.toFixed(2)).join(", ")}`);
  await page.click(".history-banner >> text=Back to live");
  await expect
    .poll(() => page.evaluate(() => ({ at: window.__strikeboard.store.getState().ui.at, source: document.querySelector(".market")?.getAttribute("data-source") })))
    .toEqual({ at: null, source: "live" });
  await chainRendered(page, 30_000);
});

// A wide screen, a tablet and a phone: nothing sticks out sideways but the chain's own
// scroller, the strike column stays in view, cells keep their content with every column
// on, charts are there (below the chain on narrow screens). The pictures of the README.
for (const [width, height, shot] of [
  [1600, 1000, SCREENSHOT],
  [1024, 800, null],
  [400, 850, MOBILE_SCREENSHOT],
] as const) {
  test(`layout at ${width} px`, async ({ app: { errors }, browser, dev }) => {
    const ctx = await browser.newContext({ viewport: { width, height } });
    const p = await ctx.newPage();
    watchErrors(p, errors);
    try {
      await p.goto(`${dev.url}/#token=${encodeURIComponent(dev.token)}`);
      await chainRendered(p, 60_000);
      await expect(p.locator(".row.atm")).toBeAttached();
      for (const cols of [DEFAULT_COLUMNS, ALL_COLUMNS]) {
        const label = cols === DEFAULT_COLUMNS ? "default columns" : "every column";
        // Applied as loaded preferences: not saved, so no other page sees them.
        await p.evaluate((c) => window.__strikeboard.store.dispatch({ type: "prefs/prefsLoaded", payload: { columns: c, convention: "forward" } }), cols);
        // The charts drawn with their data (the README's pictures): the layout gets there.
        await expect(async () => {
          const f = await p.evaluate(layoutFacts);
          const problems: string[] = [];
          if (f.scrollWidth > f.innerWidth) problems.push(`the page is ${f.scrollWidth} px wide`);
          if (f.outside.length) problems.push(`outside the viewport: ${f.outside.join(", ")}`);
          if (f.strike.length) problems.push(`the strike column is not in view: ${f.strike.join("; ")}`);
          if (f.squeezed.length) problems.push(`cut cells: ${f.squeezed.join(", ")}`);
          if (f.charts < 9) problems.push(`${f.charts} charts drawn, not 9`);
          if (f.drawn < f.charts) problems.push(`${f.drawn} of ${f.charts} charts have their data`);
          if (width <= 1024 && !f.chartsBelow) problems.push("the charts are not below the chain");
          if (cols === ALL_COLUMNS && width <= 1024 && !f.scrollsSideways) problems.push("every column fits a narrow screen?");
          expect(problems, label).toEqual([]);
        }).toPass({ timeout: 30_000 });
        if (cols === DEFAULT_COLUMNS && shot) {
          await p.screenshot({ path: shot });
          log(`screenshot ${shot}: ${(statSync(shot).size / 1024).toFixed(0)} KB`);
        }
      }
      if (width <= 640) {
        const h = await p.evaluate(headerFacts);
        expect(Object.entries(h).filter(([, ok]) => !ok).map(([k]) => k), "not on screen in the header").toEqual([]);
      }
    } finally {
      await ctx.close();
    }
  });
}

// `strikeboard dev` follows NIFTY, BANKNIFTY and SENSEX (DEV_UNDERLYINGS): each chain is
// its own, with its strike step, lot size and expiries, and the address names it.
test("the header's select switches underlyings: each chain's strikes, lot and expiries", async ({ app: { page }, dev }) => {
  const STEPS: Record<string, number> = { NIFTY: 50, BANKNIFTY: 100, SENSEX: 100 };
  for (const name of [...Object.keys(STEPS), "NIFTY"]) {
    await test.step(name, async () => {
      await page.selectOption(".top select[aria-label=underlying]", name);
      await expect
        .poll(() => state(page, (s) => ({ underlying: s.chain.meta?.underlying, rows: s.chain.rows.ids.length > 0 })), { timeout: 60_000 })
        .toEqual({ underlying: name, rows: true });
      await chainRendered(page, 60_000);
      const answer = await fetch(`${dev.url}/api/expiries?underlying=${name}`, { headers: { Authorization: `Bearer ${dev.token}` } });
      expect(answer.ok, `GET /api/expiries?underlying=${name}: ${answer.status}`).toBe(true);
      const expiries = (await answer.json()) as { expiry: string; lot_size: number }[];
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
      const step = Math.min(...strikes.slice(1).map((k, i) => k - strikes[i]!));
      const listed = expiries.map((e) => e.expiry);
      const lot = expiries.find((e) => e.expiry === facts.expiry)?.lot_size;
      expect.soft(step, `${name}: strikes apart`).toBe(STEPS[name]);
      expect.soft(facts.lot, `${name} ${facts.expiry}: the header's lot, the API's`).toBe(lot === undefined ? "(none listed)" : String(lot));
      expect.soft(facts.tabs, `${name}: the tabs, the API's expiries`).toEqual(listed);
      expect.soft(new URL(page.url()).searchParams.get("underlying"), `${name}: the address`).toBe(name);
      log(`${name}: strikes ${step} apart, lot ${facts.lot}, expiries ${listed.join(" ")}`);
    });
  }
});

test("the page recovers after the gateway restarts", async ({ app: { page }, dev }) => {
  test.skip(dev.stack === null, "against a running stack (STRIKEBOARD_URL)");
  const stack = dev.stack!;
  // Stopping (up to 40 s), starting again (up to E2E_STARTUP_S) and the restarted feed's
  // first delta (a minute and more on a loaded machine).
  test.setTimeout(480_000);
  const reconnects = () => page.evaluate(() => window.__strikeboard.client.stats.reconnects);
  const before = await reconnects();
  await stack.stop();
  await expect.poll(() => state(page, (s) => s.ui.connection), { timeout: 30_000 }).not.toBe("live");
  log(`while down the badge reads '${await page.locator("[data-badge]").getAttribute("data-badge")}'`);
  const newUrl = await stack.start();
  expect(new URL(newUrl).origin, "the gateway comes back on its port (strikeboard dev --port)").toBe(new URL(dev.url).origin);
  // Live again: a new socket, and deltas applied over it.
  await expect.poll(() => state(page, (s) => s.ui.connection), { timeout: 90_000 }).toBe("live");
  const applied = await state(page, (s) => s.chain.applied);
  // The restarted feed reloads the instruments and prices the chain before its first
  // delta: a minute and more when the machine is loaded.
  await expect.poll(() => state(page, (s) => s.chain.applied), { timeout: 150_000 }).not.toBe(applied);
  expect(await reconnects(), "reconnects recorded").toBeGreaterThan(before);
});
