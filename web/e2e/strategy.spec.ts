/**
 * The strategy builder against the real local stack (`strikeboard dev`, started by the `dev`
 * fixture as for dashboard.spec.ts; or STRIKEBOARD_URL + DEV_TOKEN for a running one).
 *
 * Checks: a long straddle built from the chain's ATM row (the B buttons beside the strike)
 * shows its breakevens at strike - premium and strike + premium at expiry, in the figures and
 * on the chart, where the premium is the two entry prices the API used; the T+0 P&L at spot is
 * zero; the date and IV shift controls move the T+ curve; the strategy is saved in the
 * preferences (it is there after a reload) and its share link opens it in a fresh page; the
 * header's CSV button downloads the chain, and a past minute's CSV equals the API's chain of
 * that minute. Saves web/screenshots/strategy.png. Run: `npm run e2e:strategy` in web/.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "./fixtures";
import { log, web } from "./stack";

const SCREENSHOT = join(web, "screenshots", "strategy.png");
const NAME = `e2e straddle ${randomBytes(3).toString("hex")}`;

interface PricedLeg {
  option_type: string;
  strike: number;
  entry: string;
  side: string;
  price: number;
  lot_size: number;
}
interface Payoff {
  legs: PricedLeg[];
  breakevens: number[];
  max_loss: number;
  max_profit: number | null;
  target_at_spot: number;
  pop: number;
}

/** The builder's breakevens as shown: the figures' text and the chart's marks. Runs in the page. */
function shownBreakevens() {
  const text = document.querySelector('[data-fig="breakevens"] dd')?.textContent ?? "";
  const figures = text
    .split("·")
    .map((t) => Number(t.trim()))
    .filter((n) => Number.isFinite(n) && n > 0);
  const marks = [...document.querySelectorAll(".strategy-chart [data-breakeven]")].map((m) => Number(m.getAttribute("data-breakeven")));
  return { figures, marks };
}

test.use({ appViewport: { width: 1366, height: 860 } });
// One page through the story: a failed check skips the ones after it.
test.describe.configure({ mode: "serial" });

let strike = 0;

test("the chain renders", async ({ app: { page }, dev }) => {
  await page.goto(`${dev.url}/#token=${encodeURIComponent(dev.token)}`);
  await expect(page.locator(".row.atm")).toBeAttached({ timeout: 90_000 });
});

test("a straddle built from the chain breaks even at strike -/+ premium at expiry", async ({ app: { page } }) => {
  const row = page.locator(".row.atm");
  strike = Number(await row.getAttribute("data-strike"));
  // The answer the builder shows: the API's, for exactly these two legs.
  const answer = page.waitForResponse(
    (r) => r.url().endsWith("/api/strategy/payoff") && r.status() === 200 && (r.request().postDataJSON() as { legs: unknown[] }).legs.length === 2,
    { timeout: 30_000 },
  );
  await row.hover();
  await row.locator('[data-pick="buy-CE"]').click();
  await row.hover();
  await row.locator('[data-pick="buy-PE"]').click();
  await expect(page.locator(".strategy [data-leg='1']")).toBeAttached();
  const payoff = (await (await answer).json()) as Payoff;
  const [ce, pe] = payoff.legs as [PricedLeg, PricedLeg];
  expect(
    [ce, pe].map((l) => [l.option_type, l.strike, l.side, l.entry]),
    "two legs bought at the mid",
  ).toEqual([
    ["CE", strike, "buy", "mid"],
    ["PE", strike, "buy", "mid"],
  ]);
  const premium = ce.price + pe.price;
  const want = [strike - premium, strike + premium];
  await expect(page.locator(".strategy-chart [data-breakeven]")).toHaveCount(2);
  // The page may have re-priced since (it polls every 5 s): compare with the answer on screen.
  const shown = await page.evaluate(shownBreakevens);
  const legsNow = await page.locator("[data-priced]").allTextContents();
  const premiumNow = legsNow.map((t) => Number(/@ ([\d.]+)/.exec(t)?.[1])).reduce((a, b) => a + b, 0);
  const wantNow = [strike - premiumNow, strike + premiumNow];
  // prices shown to 2 decimals (a mid may have 3): 0.005 a leg, 0.005 for the rounding
  for (const [name, got] of Object.entries(shown)) {
    const message = `${name}: breakevens ${got} on screen, want ${wantNow} (strike ${strike}, premium ${premiumNow})`;
    expect(got, message).toHaveLength(2);
    got.forEach((b, i) => expect(Math.abs(b - wantNow[i]!), message).toBeLessThanOrEqual(0.0151));
  }
  payoff.breakevens.forEach((b, i) => expect(Math.abs(b - want[i]!), `the API's breakevens ${payoff.breakevens}, want ${want} (premium ${premium})`).toBeLessThanOrEqual(0.011));
  const lot = ce.lot_size;
  expect(lot, "lot size").toBeGreaterThan(0);
  expect(Math.abs(payoff.max_loss + premium * lot), `max loss ${payoff.max_loss}, want ${-premium * lot}`).toBeLessThanOrEqual(0.011);
  expect(payoff.max_profit, "max profit (unlimited)").toBeNull();
  await expect(page.locator('[data-fig="max-profit"] dd')).toHaveText("Unlimited");
  // (-0 is zero too)
  expect(Math.abs(payoff.target_at_spot), "the T+0 P&L at spot").toBe(0);
  log(`straddle ${strike}: premium ${premium.toFixed(2)}, breakevens ${payoff.breakevens.join(" / ")}, PoP ${payoff.pop}`);
});

test("the date and IV shift controls move the T+ curve", async ({ app: { page } }) => {
  const curve = page.locator('[data-curve="target"]');
  const before = (await curve.getAttribute("d"))!;
  const days = await page.locator('[aria-label="target date"] option').count();
  if (days > 1) {
    await page.locator('[aria-label="target date"]').selectOption({ index: days - 1 });
  } else {
    await page.locator('[aria-label="IV shift"]').fill("5");
  }
  await expect(curve).not.toHaveAttribute("d", before, { timeout: 15_000 });
});

test("saved in the preferences, there after a reload", async ({ app: { page } }) => {
  await page.locator('[aria-label="strategy name"]').fill(NAME);
  const saved = page.waitForResponse((r) => r.url().endsWith("/api/preferences") && r.request().method() === "PUT", { timeout: 15_000 });
  await page.getByRole("button", { name: "Save" }).click();
  const put = await saved;
  expect(put.status(), `PUT /api/preferences: ${await put.text()}`).toBe(200);
  await page.reload();
  await expect(page.locator(".row.atm")).toBeAttached({ timeout: 60_000 });
  await page.locator(".strategy-tab").click();
  const load = page.locator('[aria-label="load a saved strategy"]');
  await expect(load.locator("option", { hasText: NAME })).toHaveCount(1, { timeout: 20_000 });
  await load.selectOption(NAME);
  await expect(page.locator(".strategy [data-leg='1']")).toBeAttached();
  await expect(page.locator(".strategy-chart [data-breakeven]")).toHaveCount(2, { timeout: 30_000 });
});

test("a share link opens the strategy in a fresh page", async ({ app: { page }, browser, dev }) => {
  await page.getByRole("button", { name: "Share link" }).click();
  const link = await page.locator('[aria-label="share link"]').inputValue();
  expect(link, "the share link").toMatch(/[?&]strategy=NIFTY_\d{6}C[\d.]+b1m_\d{6}P[\d.]+b1m$/);
  const other = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  try {
    const p = await other.newPage();
    // the token in the fragment, as the printed link; the strategy in the query
    await p.goto(`${link}#token=${encodeURIComponent(dev.token)}`);
    await expect(p.locator(".strategy [data-leg='1']")).toBeAttached({ timeout: 90_000 });
    await expect(p.locator(".strategy-chart [data-breakeven]")).toHaveCount(2, { timeout: 30_000 });
    const contracts = await p.locator(".strategy .contract").allTextContents();
    expect(contracts.filter((t) => !t.startsWith(`${strike} `)), `legs ${contracts.join(", ")} at ${strike}`).toEqual([]);
  } finally {
    await other.close();
  }
});

test("screenshot of the builder", async ({ app: { page } }) => {
  // the straddle as first built: now, no IV shift, at the ATM row; drawn from the API's
  // answer to exactly that
  const repriced = page.waitForResponse(
    (r) => {
      if (!r.url().endsWith("/api/strategy/payoff") || r.status() !== 200) return false;
      const body = r.request().postDataJSON() as { iv_shift: number; target: string | null };
      return body.iv_shift === 0 && body.target === null;
    },
    { timeout: 30_000 },
  );
  await page.locator('[aria-label="target date"]').selectOption("");
  await page.locator('[aria-label="IV shift"]').fill("0");
  await repriced;
  await expect(page.locator("section.strategy")).toHaveAttribute("data-busy", "0");
  await expect(page.locator(".strategy-chart [data-breakeven]")).toHaveCount(2);
  await page.screenshot({ path: SCREENSHOT });
  log(`screenshot ${SCREENSHOT}: ${(statSync(SCREENSHOT).size / 1024).toFixed(0)} KB`);
});

test("the CSV button downloads the chain; a minute's CSV equals the API's chain of that minute", async ({ app: { page }, dev }) => {
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 20_000 }), page.locator(".export-csv").click()]);
  const lines = readFileSync(await download.path(), "utf8").trim().split("\n");
  expect(lines[0], `downloaded ${download.suggestedFilename()}`).toMatch(/^underlying,expiry,minute,/);
  expect(lines.length, `lines of ${download.suggestedFilename()}`).toBeGreaterThanOrEqual(11);
  // The archive's last minute at the API's now (IST), then the JSON chain of that minute.
  const facts = await page.evaluate(async (token) => {
    const get = async (u: string) => {
      const res = await fetch(u, { headers: { Authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`${u}: ${res.status} ${await res.text()}`);
      return res;
    };
    const now = Date.parse(((await (await fetch("/api/health")).json()) as { now: string }).now);
    const ist = (t: number) => new Date(t + 5.5 * 3600_000).toISOString().slice(0, 16);
    const expiry = window.__strikeboard.store.getState().chain.expiry;
    const csv = await (await get(`/api/export/chain.csv?expiry=${expiry}&at=${ist(now)}`)).text();
    const minute = csv.split("\n")[1]!.split(",")[2]!;
    const chain = (await (await get(`/api/chain/${expiry}?at=${ist(Date.parse(minute))}`)).json()) as unknown;
    return { csv, chain };
  }, dev.token);
  interface Row {
    strike: number;
    iv?: number | null;
    CE?: Record<string, number | null | undefined>;
    PE?: Record<string, number | null | undefined>;
  }
  const chain = facts.chain as { minute: string; strikes: Record<string, Row> };
  const [head, ...rows] = facts.csv
    .trim()
    .split("\n")
    .map((l) => l.split(","));
  const strikes = Object.values(chain.strikes).sort((a, b) => a.strike - b.strike);
  expect(rows.length, "CSV rows, one a strike").toBe(strikes.length);
  const col = (name: string) => head!.indexOf(name);
  const same = (cell: string | undefined, v: unknown) => (v === null || v === undefined ? cell === "" : typeof v === "number" ? Number(cell) === v : cell === String(v));
  const differ: string[] = [];
  rows.forEach((r, i) => {
    const s = strikes[i]!;
    const values: [string, unknown][] = [
      ["minute", chain.minute],
      ["strike", s.strike],
      ["iv", s.iv],
      ["ce_ltp", s.CE?.ltp],
      ["pe_oi", s.PE?.oi],
      ["ce_delta", s.CE?.delta],
      ["pe_iv", s.PE?.iv],
    ];
    for (const [name, value] of values) {
      if (!same(r[col(name)], value)) differ.push(`strike ${s.strike} ${name}: CSV ${r[col(name)]}, JSON ${value}`);
    }
  });
  expect(differ.slice(0, 5), "the CSV's cells the JSON chain has otherwise").toEqual([]);
});

// Leave the user's saved strategies as they were (the stack's database outlives the run).
// Best effort, as before: when an earlier check failed there may be no builder to delete from.
test.afterAll(async ({ app: { page } }) => {
  try {
    await page.locator('[aria-label="strategy name"]').fill(NAME, { timeout: 5000 });
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/preferences") && r.request().method() === "PUT", { timeout: 10_000 }),
      page.getByRole("button", { name: "Delete" }).click({ timeout: 5000 }),
    ]);
  } catch (err) {
    log(`the saved strategy '${NAME}' was not deleted: ${String(err).split("\n")[0]}`);
  }
});
