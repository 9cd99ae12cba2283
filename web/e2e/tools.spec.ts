/**
 * The trader tools against the real local stack (`strikeboard dev`, started by the `dev`
 * fixture as for dashboard.spec.ts; or STRIKEBOARD_URL + DEV_TOKEN for a running one).
 *
 * Checks: a replay at 60x from an archived minute moves the chain minute by minute (the minute
 * shown advances by one a step, at most one a second, and the sampled cells equal the API's
 * chain of each minute), pause holds it, and the replay bar fits a phone; a strike's
 * drill-down opens from its cell with data in its charts; the surface tab shows the term
 * structure and a heat map row per expiry of the API's surface. Saves
 * web/screenshots/replay.png. Run: `npm run e2e:tools` in web/.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { chainRendered, expect, state, test, watchErrors } from "./fixtures";
import { log, web } from "./stack";

const SCREENSHOT = join(web, "screenshots", "replay.png");
/** Steps of the replay watched. */
const STEPS = 5;

test.use({ appViewport: { width: 1366, height: 860 } });
// One page through the story: a failed check skips the ones after it.
test.describe.configure({ mode: "serial" });

/** What the page shows at each change while the replay plays (recorded in the page). */
interface Seen {
  at: string | null;
  history: string | null;
  shown: string | null;
  ce: string | null;
  pe: string | null;
}

/** The address form of an instant: "YYYY-MM-DDTHH:MM" in IST. */
const ist = (t: number) => new Date(t + 5.5 * 3600_000).toISOString().slice(0, 16);

/**
 * An archived minute of the last session with STEPS + 1 archived minutes after it, all past on
 * the market's clock (the archive may hold later minutes of a replayed day from an earlier run).
 * Null while the archive has too few.
 */
async function replayStart(page: Page): Promise<{ expiry: string; start: string } | null> {
  return page.evaluate(async (steps) => {
    const expiry = window.__strikeboard.store.getState().chain.expiry!;
    const health = (await (await fetch("/api/health")).json()) as { now: string; session: { last_session: string } };
    const token = await window.__strikeboard.auth.token();
    const res = await fetch(`/api/analytics/intraday?expiry=${expiry}&date=${health.session.last_session}`, { headers: { Authorization: `Bearer ${token}` } });
    const minutes = ((await res.json()) as { points: { minute: string }[] }).points
      .map((p) => Date.parse(p.minute))
      .filter((t) => t <= Date.parse(health.now) - 60_000);
    const have = new Set(minutes);
    // The middle of the day so far, where the next minutes are all archived.
    for (let i = Math.floor(minutes.length / 2); i >= 0; i--) {
      const t = minutes[i]!;
      if (Array.from({ length: steps + 1 }, (_, k) => t + (k + 1) * 60_000).every((m) => have.has(m))) {
        return { expiry, start: new Date(t).toISOString() };
      }
    }
    return null;
  }, STEPS);
}

test("the chain renders", async ({ app: { page }, dev }) => {
  await page.goto(`${dev.url}/#token=${encodeURIComponent(dev.token)}`);
  await expect(page.locator(".row.atm")).toBeAttached({ timeout: 90_000 });
});

test("a replay at 60x moves the chain minute by minute, as the API's chain of each minute", async ({ app: { page }, dev }) => {
  let found: { expiry: string; start: string } | null = null;
  // A fresh archive: the simulated session (10 market minutes a real one) fills it.
  await expect
    .poll(async () => (found = await replayStart(page)), { timeout: 120_000, intervals: [2_000], message: "archived minutes to replay" })
    .not.toBeNull();
  const { expiry, start } = found!;
  await page.goto(`${dev.url}/?expiry=${expiry}&at=${ist(Date.parse(start))}`);
  await expect(page.locator(".history-banner[data-history=loaded]")).toBeAttached({ timeout: 60_000 });
  await chainRendered(page, 30_000);
  // Prices in view whatever columns an earlier run left in the preferences (not saved).
  await page.evaluate(() =>
    window.__strikeboard.store.dispatch({ type: "prefs/prefsLoaded", payload: { columns: ["oi", "oi_change", "volume", "iv", "change", "ltp"] } }),
  );
  const strike = Number(await page.locator(".row.atm").getAttribute("data-strike"));
  await expect(page.locator(".replay-minute")).toHaveAttribute("data-at", `${ist(Date.parse(start))}:00+05:30`);

  // Every change of the minute, its answer and the sampled cells, as the page shows them.
  await page.evaluate((k) => {
    const seen: Seen[] = [];
    const w = window as unknown as { __seen: Seen[]; __seenTimer: number };
    w.__seen = seen;
    const cell = (side: string) => document.querySelector(`[data-strike="${k}"] .c.ltp.${side} .v`)?.textContent ?? null;
    w.__seenTimer = window.setInterval(() => {
      const s = window.__strikeboard.store.getState();
      const e: Seen = {
        at: s.ui.at,
        history: s.ui.history?.state ?? null,
        shown: document.querySelector(".replay-minute")?.getAttribute("data-at") ?? null,
        ce: cell("CE"),
        pe: cell("PE"),
      };
      const last = seen[seen.length - 1];
      if (!last || JSON.stringify(last) !== JSON.stringify(e)) seen.push(e);
    }, 20);
  }, strike);
  await page.getByRole("button", { name: "60x" }).click();
  await expect(page.getByRole("button", { name: "60x" })).toHaveAttribute("aria-pressed", "true");
  // Keyboard: the play button is a button like any other.
  await page.getByRole("button", { name: "play" }).focus();
  await page.keyboard.press("Enter");
  const minutes = () => page.evaluate(() => [...new Set((window as unknown as { __seen: Seen[] }).__seen.map((e) => e.at))]);
  await expect.poll(async () => (await minutes()).length, { timeout: 60_000, message: "minutes played" }).toBeGreaterThanOrEqual(STEPS + 1);
  await page.getByRole("button", { name: "pause" }).click();
  const seen = await page.evaluate(() => {
    const w = window as unknown as { __seen: Seen[]; __seenTimer: number };
    clearInterval(w.__seenTimer);
    return w.__seen;
  });
  const held = await state(page, (s) => s.ui.at);

  const played = [...new Set(seen.map((e) => e.at))].slice(0, STEPS + 1) as string[];
  expect(
    played.map((m) => Date.parse(m) - Date.parse(start)),
    `the minutes played: ${played.join(", ")}`,
  ).toEqual(Array.from({ length: STEPS + 1 }, (_, i) => i * 60_000));
  // The bar shows the store's minute. The pace (a second a minute at 60x) is replaySlice's
  // Vitest, on fake timers: here the page's own sampling would make it a test of the
  // machine's speed.
  expect(seen.filter((e) => e.shown !== e.at && e.history === "loaded"), "the replay bar's minute is the chain's").toEqual([]);

  // Each minute's cells as last shown (settled), against the API's chain of that minute.
  const api = (await page.evaluate(
    async ({ expiry, minutes }) => {
      const token = await window.__strikeboard.auth.token();
      return Promise.all(
        minutes.map(async (m) => {
          const res = await fetch(`/api/chain/${expiry}?at=${encodeURIComponent(m)}`, { headers: { Authorization: `Bearer ${token}` } });
          return (await res.json()) as { strikes: Record<string, { CE?: { ltp?: number | null }; PE?: { ltp?: number | null } }> };
        }),
      );
    },
    { expiry, minutes: played },
  )) as { strikes: Record<string, { CE?: { ltp?: number | null }; PE?: { ltp?: number | null } }> }[];
  const fmt = (v: number | null | undefined) =>
    v == null ? "–" : new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
  const shown = played.map((m) => seen.filter((e) => e.at === m && e.history === "loaded").at(-1));
  const want = api.map((c) => ({ ce: fmt(c.strikes[String(strike)]?.CE?.ltp), pe: fmt(c.strikes[String(strike)]?.PE?.ltp) }));
  expect(
    shown.map((e) => (e ? { ce: e.ce, pe: e.pe } : null)),
    `strike ${strike}'s LTPs on screen each minute (${played.join(", ")}), as the API's`,
  ).toEqual(want);
  expect(new Set(want.map((w) => `${w.ce}/${w.pe}`)).size, `the chain moves with the minutes: ${JSON.stringify(want)}`).toBeGreaterThan(1);

  // Paused where it was (the timer's own tests check that it then holds).
  await expect(page.getByRole("button", { name: "play" })).toHaveAttribute("aria-pressed", "false");
  expect(await state(page, (s) => ({ at: s.ui.at, playing: s.replay.playing }))).toEqual({ at: held, playing: false });
  log(`replay from ${played[0]} at 60x, strike ${strike}: ${want.map((w) => `${w.ce}/${w.pe}`).join(" -> ")}`);
  // The picture once every chart has drawn the minute (they redraw at most once a second).
  await expect
    .poll(() => page.locator(".side-panel .chart .plot").evaluateAll((plots) => plots.filter((p) => (p as HTMLElement).dataset.last).length), {
      timeout: 30_000,
      message: "side charts drawn",
    })
    .toBe(9);
  await page.screenshot({ path: SCREENSHOT });
  log(`screenshot ${SCREENSHOT}: ${(statSync(SCREENSHOT).size / 1024).toFixed(0)} KB`);
});

test("the replay bar fits a phone", async ({ app: { page, errors }, browser }) => {
  const ctx = await browser.newContext({ viewport: { width: 400, height: 850 } });
  const p = await ctx.newPage();
  watchErrors(p, errors);
  try {
    // The same view (its address) and session (the token the SPA keeps).
    const token = await page.evaluate(() => window.__strikeboard.auth.token());
    await p.goto(`${page.url().split("#")[0]}#token=${encodeURIComponent(token ?? "")}`);
    await expect(p.locator(".replay")).toBeVisible({ timeout: 60_000 });
    const f = await p.evaluate(() => {
      const outside = [...document.querySelectorAll(".replay, .replay *")]
        .map((el) => [el, el.getBoundingClientRect()] as const)
        .filter(([, r]) => r.width > 0 && (r.left < -0.5 || r.right > window.innerWidth + 0.5))
        .map(([el]) => el.getAttribute("aria-label") ?? el.textContent);
      return { page: document.documentElement.scrollWidth, outside };
    });
    expect(f, "nothing wider than the phone").toEqual({ page: 400, outside: [] });
  } finally {
    await ctx.close();
  }
});

test("a strike's drill-down opens from its cell and draws its day", async ({ app: { page } }) => {
  await page.locator(".history-banner >> text=Back to live").click();
  await expect.poll(() => state(page, (s) => s.ui.at)).toBeNull();
  await chainRendered(page, 30_000);
  const strike = Number(await page.locator(".row.atm").getAttribute("data-strike"));
  await page.locator(`[data-strike="${strike}"] .strike-open`).click();
  const drill = page.locator(".tools .drill");
  await expect(drill).toHaveAttribute("aria-label", new RegExp(` ${strike}$`));
  await expect(page.getByRole("tab", { name: "Strike", exact: true })).toHaveAttribute("aria-selected", "true");
  // LTP, IV, OI and volume through the day: each chart given data (Chart.tsx's data-last).
  await expect(async () => {
    const drawn = await drill.locator(".chart").evaluateAll((charts) =>
      charts.slice(0, 4).map((c) => [c.querySelector("figcaption")?.firstChild?.textContent ?? "", !!c.querySelector<HTMLElement>(".plot")?.dataset.last]),
    );
    expect(drawn.filter(([, ok]) => !ok).map(([t]) => t), `charts without data of ${drawn.length}`).toEqual([]);
    expect(drawn.length).toBe(4);
  }).toPass({ timeout: 30_000 });
});

test("the surface tab shows the term structure and a heat map row per expiry", async ({ app: { page } }) => {
  const answer = page.waitForResponse((r) => /\/api\/analytics\/surface\?/.test(r.url()) && r.status() === 200, { timeout: 30_000 });
  await page.getByRole("tab", { name: "Surface" }).click();
  const surface = (await (await answer).json()) as { expiries: { expiry: string; atm_iv: number | null }[] };
  const expiries = surface.expiries.map((e) => e.expiry);
  expect(expiries.length, "expiries in the API's surface").toBeGreaterThanOrEqual(2);
  await expect(page.locator(".tools .surface .chart .plot").first()).toHaveAttribute("data-last", /\d/, { timeout: 30_000 });
  const rows = page.locator('.tools table[aria-label="volatility surface"] tbody tr');
  await expect(rows).toHaveCount(expiries.length);
  await expect(rows.locator("th")).toHaveText(expiries.map((e) => e.slice(5)));
  const coloured = await rows.locator("td[style]").count();
  expect(coloured, "heat map cells with an IV").toBeGreaterThan(expiries.length);
});
