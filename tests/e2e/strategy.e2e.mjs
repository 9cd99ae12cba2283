#!/usr/bin/env node
/**
 * End-to-end test of the strategy builder against the real local stack (`strikeboard dev`,
 * started as in dashboard.e2e.mjs; or STRIKEBOARD_URL + DEV_TOKEN for a running one).
 *
 * Checks: a long straddle built from the chain's ATM row (the B buttons beside the strike)
 * shows its breakevens at strike - premium and strike + premium at expiry, in the figures and
 * on the chart, where the premium is the two entry prices the API used; the T+0 P&L at spot is
 * zero; the date and IV shift controls move the T+ curve; the strategy is saved in the
 * preferences (it is there after a reload) and its share link opens it in a fresh page; the
 * header's CSV button downloads the chain, and a past minute's CSV equals the API's chain of
 * that minute. Saves web/screenshots/strategy.png. Run: `npm run e2e:strategy` in web/.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ARGS, CHROMIUM, Stack, check, chromium, freePort, log, results, web } from "./stack.mjs";

const SCREENSHOT = join(web, "screenshots", "strategy.png");
const NAME = `e2e straddle ${randomBytes(3).toString("hex")}`;

/** The builder's breakevens as shown: the figures' text and the chart's marks. */
function shownBreakevens() {
  const text = document.querySelector('[data-fig="breakevens"] dd')?.textContent ?? "";
  const figures = text.split("·").map((t) => Number(t.trim())).filter((n) => Number.isFinite(n) && n > 0);
  const marks = [...document.querySelectorAll(".strategy-chart [data-breakeven]")].map((m) => Number(m.getAttribute("data-breakeven")));
  return { figures, marks };
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
    const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
    });

    await check("the chain renders", async () => {
      await page.goto(`${url}/#token=${encodeURIComponent(tok)}`);
      await page.waitForSelector(".row.atm", { timeout: 90_000 });
    }, { fatal: true });

    let payoff = null;
    let strike = null;
    await check("a straddle built from the chain breaks even at strike -/+ premium at expiry", async () => {
      const row = page.locator(".row.atm");
      strike = Number(await row.getAttribute("data-strike"));
      await row.hover();
      await row.locator('[data-pick="buy-CE"]').click();
      await row.hover();
      await row.locator('[data-pick="buy-PE"]').click();
      await page.waitForSelector(".strategy [data-leg='1']", { timeout: 10_000 });
      // The answer the builder shows: the API's, for exactly these two legs.
      const answer = await page.waitForResponse(
        async (r) => r.url().endsWith("/api/strategy/payoff") && r.status() === 200 && (await r.request().postDataJSON()).legs.length === 2,
        { timeout: 30_000 },
      );
      payoff = await answer.json();
      const [ce, pe] = payoff.legs;
      if (ce.option_type !== "CE" || pe.option_type !== "PE" || ce.strike !== strike || pe.strike !== strike) {
        throw new Error(`legs priced: ${JSON.stringify(payoff.legs)}`);
      }
      if (ce.entry !== "mid" || pe.entry !== "mid" || ce.side !== "buy" || pe.side !== "buy") throw new Error("not two bought legs at the mid");
      const premium = ce.price + pe.price;
      const want = [strike - premium, strike + premium];
      await page.waitForFunction(() => document.querySelectorAll(".strategy-chart [data-breakeven]").length === 2, null, { timeout: 10_000 });
      // The page may have re-priced since (it polls every 5 s): compare with the answer on screen.
      const shown = await page.evaluate(shownBreakevens);
      const legsNow = await page.evaluate(() => [...document.querySelectorAll("[data-priced]")].map((e) => e.textContent));
      const premiumNow = legsNow.map((t) => Number(/@ ([\d.]+)/.exec(t)?.[1])).reduce((a, b) => a + b, 0);
      const wantNow = [strike - premiumNow, strike + premiumNow];
      // prices shown to 2 decimals (a mid may have 3): 0.005 a leg, 0.005 for the rounding
      for (const [name, got] of Object.entries(shown)) {
        if (got.length !== 2 || got.some((b, i) => Math.abs(b - wantNow[i]) > 0.0151)) {
          throw new Error(`${name}: breakevens ${got} on screen, want ${wantNow} (strike ${strike}, premium ${premiumNow})`);
        }
      }
      if (payoff.breakevens.some((b, i) => Math.abs(b - want[i]) > 0.011)) {
        throw new Error(`the API's breakevens ${payoff.breakevens}, want ${want} (premium ${premium})`);
      }
      const lot = ce.lot_size;
      if (!(lot > 0) || Math.abs(payoff.max_loss + premium * lot) > 0.011 || payoff.max_profit !== null) {
        throw new Error(`max loss ${payoff.max_loss} (want ${-premium * lot}), max profit ${payoff.max_profit} (want unlimited)`);
      }
      const maxProfit = await page.locator('[data-fig="max-profit"] dd').textContent();
      if (maxProfit !== "Unlimited") throw new Error(`max profit reads '${maxProfit}'`);
      if (payoff.target_at_spot !== 0) throw new Error(`the T+0 P&L at spot is ${payoff.target_at_spot}, not 0`);
      log(`straddle ${strike}: premium ${premium.toFixed(2)}, breakevens ${payoff.breakevens.join(" / ")}, PoP ${payoff.pop}`);
    }, { fatal: true });

    await check("the date and IV shift controls move the T+ curve", async () => {
      const before = await page.locator('[data-curve="target"]').getAttribute("d");
      const days = await page.locator('[aria-label="target date"] option').count();
      if (days > 1) {
        await page.locator('[aria-label="target date"]').selectOption({ index: days - 1 });
      } else {
        await page.locator('[aria-label="IV shift"]').fill("5");
      }
      await page.waitForFunction((d) => document.querySelector('[data-curve="target"]')?.getAttribute("d") !== d, before, { timeout: 15_000 });
    });

    await check("saved in the preferences, there after a reload", async () => {
      await page.locator('[aria-label="strategy name"]').fill(NAME);
      const saved = page.waitForResponse((r) => r.url().endsWith("/api/preferences") && r.request().method() === "PUT", { timeout: 15_000 });
      await page.getByRole("button", { name: "Save" }).click();
      const put = await saved;
      if (put.status() !== 200) throw new Error(`PUT /api/preferences: ${put.status()} ${await put.text()}`);
      await page.reload();
      await page.waitForSelector(".row.atm", { timeout: 60_000 });
      await page.locator(".strategy-tab").click();
      await page.waitForFunction((n) => [...document.querySelectorAll('[aria-label="load a saved strategy"] option')].some((o) => o.textContent === n), NAME, { timeout: 20_000 });
      await page.locator('[aria-label="load a saved strategy"]').selectOption(NAME);
      await page.waitForSelector(".strategy [data-leg='1']", { timeout: 10_000 });
      await page.waitForFunction(() => document.querySelectorAll(".strategy-chart [data-breakeven]").length === 2, null, { timeout: 30_000 });
    });

    await check("a share link opens the strategy in a fresh page", async () => {
      await page.getByRole("button", { name: "Share link" }).click();
      const link = await page.locator('[aria-label="share link"]').inputValue();
      if (!/[?&]strategy=NIFTY_\d{6}C[\d.]+b1m_\d{6}P[\d.]+b1m$/.test(link)) throw new Error(`share link ${link}`);
      const other = await browser.newContext({ viewport: { width: 1366, height: 860 } });
      try {
        const p = await other.newPage();
        // the token in the fragment, as the printed link; the strategy in the query
        await p.goto(`${link}#token=${encodeURIComponent(tok)}`);
        await p.waitForSelector(".strategy [data-leg='1']", { timeout: 90_000 });
        await p.waitForFunction(() => document.querySelectorAll(".strategy-chart [data-breakeven]").length === 2, null, { timeout: 30_000 });
        const contracts = await p.locator(".strategy .contract").allTextContents();
        if (!contracts.every((t) => t.startsWith(`${strike} `))) throw new Error(`legs ${contracts}`);
      } finally {
        await other.close();
      }
    });

    await check("screenshot of the builder", async () => {
      // the straddle as first built: now, no IV shift, at the ATM row
      await page.locator('[aria-label="target date"]').selectOption("");
      await page.locator('[aria-label="IV shift"]').fill("0");
      await page.waitForTimeout(1500); // the re-priced answer drawn
      await page.screenshot({ path: SCREENSHOT });
      log(`screenshot ${SCREENSHOT}: ${(statSync(SCREENSHOT).size / 1024).toFixed(0)} KB`);
    });

    await check("the CSV button downloads the chain; a minute's CSV equals the API's chain of that minute", async () => {
      const [download] = await Promise.all([page.waitForEvent("download", { timeout: 20_000 }), page.locator(".export-csv").click()]);
      const text = readFileSync(await download.path(), "utf8");
      const lines = text.trim().split("\n");
      if (!lines[0].startsWith("underlying,expiry,minute,") || lines.length < 11) throw new Error(`downloaded ${download.suggestedFilename()}: ${lines[0]} (${lines.length} lines)`);
      // The archive's last minute at the API's now (IST), then the JSON chain of that minute.
      const facts = await page.evaluate(async (token) => {
        const get = async (u) => {
          const res = await fetch(u, { headers: { Authorization: `Bearer ${token}` } });
          if (!res.ok) throw new Error(`${u}: ${res.status} ${await res.text()}`);
          return res;
        };
        const now = Date.parse((await (await fetch("/api/health")).json()).now);
        const ist = (t) => new Date(t + 5.5 * 3600_000).toISOString().slice(0, 16);
        const expiry = window.__strikeboard.store.getState().chain.expiry;
        const csv = await (await get(`/api/export/chain.csv?expiry=${expiry}&at=${ist(now)}`)).text();
        const minute = csv.split("\n")[1].split(",")[2];
        const chain = await (await get(`/api/chain/${expiry}?at=${ist(Date.parse(minute))}`)).json();
        return { csv, chain };
      }, tok);
      const [head, ...rows] = facts.csv.trim().split("\n").map((l) => l.split(","));
      const strikes = Object.values(facts.chain.strikes).sort((a, b) => a.strike - b.strike);
      if (rows.length !== strikes.length) throw new Error(`${rows.length} CSV rows, ${strikes.length} strikes`);
      const col = (name) => head.indexOf(name);
      const same = (cell, v) => (v === null || v === undefined ? cell === "" : typeof v === "number" ? Number(cell) === v : cell === String(v));
      rows.forEach((r, i) => {
        const s = strikes[i];
        for (const [name, value] of [["minute", facts.chain.minute], ["strike", s.strike], ["iv", s.iv], ["ce_ltp", s.CE?.ltp], ["pe_oi", s.PE?.oi], ["ce_delta", s.CE?.delta], ["pe_iv", s.PE?.iv]]) {
          if (!same(r[col(name)], value)) throw new Error(`strike ${s.strike} ${name}: CSV ${r[col(name)]}, JSON ${value}`);
        }
      });
    });

    // leave the user's saved strategies as they were
    await page.locator('[aria-label="strategy name"]').fill(NAME);
    await page.getByRole("button", { name: "Delete" }).click().catch(() => undefined);
    await page.waitForTimeout(800);
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
