/**
 * Alerts against the real local stack (`strikeboard dev`, started by the `dev` fixture as for
 * dashboard.spec.ts; or STRIKEBOARD_URL + DEV_TOKEN for a running one): the simulator, the
 * feed's evaluator, the pusher and the SPA (docs/alerts.md).
 *
 * Checks: a rule on spot set from the SPA (right-click on the header's Spot, the panel's form)
 * at a level just beyond spot, in the way spot moved over the last seconds, fires exactly once
 * (one toast, one row in the fired list, one event in GET /api/alerts/events); the page closed
 * while the market goes on and opened again lists it from GET /api/alerts/events, still once;
 * a rule made through the API while no page is open, and crossed meanwhile, is listed as fired
 * when a page opens. Saves web/screenshots/alerts.png. Run: `npm run e2e:alerts` in web/.
 *
 * A rule's first look at spot only tells which side of the level spot is on (docs/alerts.md
 * "Rules"): when spot got across before the evaluator picked the rule up (it reloads rules
 * every ALERTS_REFRESH_S), that rule cannot fire until spot comes back, so it is deleted and
 * set again at the spot of then. The re-arm band (hysteresis) is far wider than spot moves
 * during the test: a rule that fired stays disarmed, so a second event would be a duplicate.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import type { AlertEvent, AlertEvents, AlertRule, AlertRuleIn, AlertRules } from "../src/alerts/types";
import { chainRendered, expect, state, test, watchErrors, type App, type Dev } from "./fixtures";
import { log, web } from "./stack";

const SCREENSHOT = join(web, "screenshots", "alerts.png");
/**
 * The notes of this spec's rules start with it: earlier runs' rules are deleted by it (their
 * events stay stored: the checks go by rule id).
 */
const NOTE = "e2e:";
/** Points beyond spot: crossed within seconds at 10x, seldom before the rule is picked up. */
const STEP = 0.5;
/** Far wider than spot moves in the test's few market minutes: a fired rule stays disarmed. */
const BAND = 1000;
/** Rules set before one is armed on the near side of its level. */
const TRIES = 8;
/** How long a crossing may take once the rule is armed (real time). */
const CROSSING_MS = 120_000;
/** How long an armed rule may wait for spot before it is set again (real time). */
const FIRE_WAIT_MS = 30_000;
/** Market seconds the page stays closed (10 s of real time at the fixture's 10x). */
const CLOSED_MARKET_S = 100;

test.use({ appViewport: { width: 1366, height: 860 } });
// One page through the story: a failed check skips the ones after it.
test.describe.configure({ mode: "serial" });

async function call<T>(dev: Dev, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${dev.url}/api/${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${dev.token}`, "Content-Type": "application/json", ...init.headers },
  });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} /api/${path}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? null : await res.json()) as T;
}

const rules = (dev: Dev) => call<AlertRules>(dev, "alerts").then((r) => r.rules);
const rule = async (dev: Dev, id: number): Promise<AlertRule | undefined> => (await rules(dev)).find((r) => r.id === id);
const eventsOf = async (dev: Dev, id: number): Promise<AlertEvent[]> =>
  (await call<AlertEvents>(dev, "alerts/events?limit=200")).events.filter((e) => e.rule_id === id);
const removeRule = (dev: Dev, id: number) => call<null>(dev, `alerts/${id}`, { method: "DELETE" });

/** The market's clock (GET /api/health's `now`), in ms. */
async function marketNow(dev: Dev): Promise<number> {
  const res = await fetch(`${dev.url}/api/health`);
  return Date.parse(((await res.json()) as { now: string }).now);
}

/** NIFTY's spot as the evaluator reads it: the nearest expiry's chain document. */
async function apiSpot(dev: Dev): Promise<number> {
  const [first] = await call<{ expiry: string }[]>(dev, "expiries?underlying=NIFTY");
  const chain = await call<{ spot: number | null }>(dev, `chain/${first!.expiry}?strikes=1`);
  if (typeof chain.spot !== "number") throw new Error(`no spot in the ${first!.expiry} chain`);
  return chain.spot;
}

/**
 * Which way spot moves, and where it is: two reads (`read`) that differ, a few seconds apart
 * at most (a cycle is a fraction of a second at 10x).
 */
async function direction(read: () => Promise<number>): Promise<{ op: AlertRuleIn["op"]; spot: number }> {
  const first = await read();
  let spot = first;
  await expect.poll(async () => (spot = await read()), { message: "spot moves", timeout: 30_000 }).not.toBe(first);
  return { op: spot > first ? "crosses_above" : "crosses_below", spot };
}

const levelBeyond = (spot: number, op: AlertRuleIn["op"]) => Math.round((op === "crosses_above" ? spot + STEP : spot - STEP) * 100) / 100;

/**
 * Whether the evaluator's first look found spot on the near side of the rule's level (armed),
 * else across (it cannot fire before spot comes back), or it fired already.
 */
async function armedOrFired(dev: Dev, id: number): Promise<"armed" | "across" | "fired"> {
  let found: AlertRule | undefined;
  await expect
    .poll(async () => (found = await rule(dev, id))?.armed ?? null, { message: `rule ${id} picked up by the evaluator`, timeout: 30_000 })
    .not.toBeNull();
  if (found!.crossings > 0) return "fired";
  return found!.armed ? "armed" : "across";
}

/**
 * Sets rules with `set` until one is armed on the near side of its level (or fired already),
 * deleting those that found spot across; returns that rule.
 */
async function armedRule(dev: Dev, set: () => Promise<AlertRule>): Promise<AlertRule> {
  for (let attempt = 1; attempt <= TRIES; attempt++) {
    const made = await set();
    const where = await armedOrFired(dev, made.id);
    log(`rule ${made.id}: spot ${made.op} ${made.level}: ${where} (try ${attempt})`);
    if (where !== "across") return made;
    await removeRule(dev, made.id);
  }
  throw new Error(`spot got across the level before the evaluator picked the rule up, ${TRIES} times`);
}

/** The one event of rule `id`, once it fired; fails if it fired twice. */
async function firedOnce(dev: Dev, id: number): Promise<AlertEvent> {
  await expect.poll(async () => (await eventsOf(dev, id)).length, { message: `rule ${id} fires`, timeout: CROSSING_MS }).toBeGreaterThan(0);
  const events = await eventsOf(dev, id);
  expect(events.map((e) => e.crossing), `the events of rule ${id}`).toEqual([1]);
  return events[0]!;
}

/**
 * A rule set with `set` that fires: the simulated spot is a random walk, so an armed rule may
 * see spot turn away from its level; after `FIRE_WAIT_MS` without a crossing it is deleted and
 * set again at the spot of then. Returns the rule and its one event.
 */
async function ruleThatFires(dev: Dev, set: () => Promise<AlertRule>): Promise<{ made: AlertRule; event: AlertEvent }> {
  for (let attempt = 1; attempt <= TRIES; attempt++) {
    const made = await armedRule(dev, set);
    try {
      await expect.poll(async () => (await eventsOf(dev, made.id)).length, { timeout: FIRE_WAIT_MS }).toBeGreaterThan(0);
    } catch {
      log(`rule ${made.id}: spot turned away from ${made.level}; set again (try ${attempt})`);
      await removeRule(dev, made.id);
      continue;
    }
    return { made, event: await firedOnce(dev, made.id) };
  }
  throw new Error(`spot crossed none of ${TRIES} armed rules' levels within ${FIRE_WAIT_MS} ms each`);
}

/** Opens a page on the dashboard in the worker's context and makes it the `app`'s page. */
async function reopen(app: App, dev: Dev): Promise<{ page: Page; listed: Promise<AlertEvents> }> {
  const page = await app.context.newPage();
  watchErrors(page, app.errors);
  app.page = page;
  const listed = page
    .waitForResponse((r) => new URL(r.url()).pathname === "/api/alerts/events" && r.status() === 200, { timeout: 60_000 })
    .then((r) => r.json() as Promise<AlertEvents>);
  await page.goto(`${dev.url}/#token=${encodeURIComponent(dev.token)}`);
  await chainRendered(page, 90_000);
  return { page, listed };
}

/** Toasts of fired alerts added to the page since it loaded (counted in the page). */
function countAlertToasts(): void {
  const w = window as unknown as { __alertToasts: string[] };
  w.__alertToasts = [];
  new MutationObserver((changes) => {
    for (const c of changes) {
      for (const n of c.addedNodes) {
        if (n instanceof HTMLElement && n.matches(".toast") && n.textContent?.startsWith("Alert:")) w.__alertToasts.push(n.textContent);
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
}
const alertToasts = (page: Page) => page.evaluate(() => (window as unknown as { __alertToasts: string[] }).__alertToasts);

let live: AlertEvent;
let whileClosed: AlertEvent;

test("the chain renders; rules of earlier runs are gone", async ({ app: { page }, dev }) => {
  // Earlier runs' rules count against ALERTS_MAX_RULES (their events stay: filtered by rule).
  for (const r of await rules(dev)) if (r.note.startsWith(NOTE)) await removeRule(dev, r.id);
  await page.goto(`${dev.url}/#token=${encodeURIComponent(dev.token)}`);
  await chainRendered(page, 90_000);
  await expect.poll(() => state(page, (s) => s.chain.meta?.spot ?? null), { timeout: 30_000 }).not.toBeNull();
  await page.evaluate(countAlertToasts);
});

test("a spot alert set from the header fires exactly once", async ({ app: { page }, dev }) => {
  // Set again from the header if spot turns away from an armed rule's level (a random walk).
  const { made, event } = await ruleThatFires(dev, async () => {
    const { op, spot } = await direction(() => state(page, (s) => s.chain.meta?.spot ?? NaN));
    // Right-click on the header's Spot: the panel opens with a spot rule at the current spot.
    await page.locator(".chain-header .stat", { has: page.locator("span", { hasText: /^Spot$/ }) }).click({ button: "right" });
    const form = page.locator(".panel.alerts form.alert-form");
    await expect(form.getByLabel("watch")).toHaveValue("spot");
    await form.getByLabel("direction").selectOption(op);
    await form.getByLabel("level").fill(String(levelBeyond(spot, op)));
    await form.getByLabel("hysteresis").fill(String(BAND));
    await form.getByLabel("note").fill(`${NOTE} set from the header`);
    const created = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/alerts" && r.request().method() === "POST");
    await form.getByRole("button", { name: "Set alert" }).click();
    const res = await created;
    expect(res.status(), await res.text()).toBe(201);
    await expect(form).toBeHidden();
    return (await res.json()) as AlertRule;
  });
  await expect(page.locator(`.panel.alerts [data-rule="${made.id}"]`)).toBeVisible();
  live = event;
  expect(live.text).toContain(`NIFTY spot crossed ${made.op === "crosses_above" ? "above" : "below"}`);
  log(`fired: ${live.text} at ${live.fired_at}`);
  // The WebSocket's `alert`: one toast and one row in the fired list.
  const row = page.locator(`.panel.alerts [data-fired="${live.id}"]`);
  await expect(row).toContainText(live.text);
  // (Of this rule: one set again may have fired as it was deleted.)
  const toastsOfRule = async () => (await alertToasts(page)).filter((t) => t.includes(live.text));
  await expect.poll(toastsOfRule, { message: "one toast of the alert" }).toEqual([`Alert: ${live.text} (${live.note})`]);
  // The rule's state follows: fired once, disarmed (the panel refetches on a fire).
  await expect(page.locator(`.panel.alerts [data-rule="${made.id}"] small`)).toContainText("fired 1×");
  expect(await state(page, (s) => s.alerts.fired.map((a) => a.rule_id))).toEqual(expect.arrayContaining([made.id]));
  const ofRule = await state(page, (s) => s.alerts.fired.map((a) => a.rule_id));
  expect(ofRule.filter((id) => id === made.id), "fired rows of the rule").toHaveLength(1);
});

test("closed and opened again: the fired alert is listed from the API, once", async ({ app, dev }) => {
  await app.page.close();
  // The market goes on while no page is open; the rule stays disarmed (its band is wide).
  const closedAt = await marketNow(dev);
  await expect.poll(() => marketNow(dev), { message: "the market goes on", timeout: 60_000 }).toBeGreaterThanOrEqual(closedAt + CLOSED_MARKET_S * 1000);
  expect((await eventsOf(dev, live.rule_id)).map((e) => e.id), "still one event").toEqual([live.id]);
  const { page, listed } = await reopen(app, dev);
  expect((await listed).events.filter((e) => e.rule_id === live.rule_id).map((e) => e.id), "GET /api/alerts/events").toEqual([live.id]);
  await page.getByRole("button", { name: "alerts", exact: true }).filter({ visible: true }).click();
  await expect(page.locator(`.panel.alerts [data-fired="${live.id}"]`)).toContainText(live.text);
  await expect(page.locator(".panel.alerts .fired li", { hasText: live.text })).toHaveCount(1);
});

test("a rule crossed while no page is open is listed as fired when one opens", async ({ app, dev }) => {
  await app.page.close();
  const { event } = await ruleThatFires(dev, async () => {
    const { op, spot } = await direction(() => apiSpot(dev));
    const body: AlertRuleIn = { kind: "spot", underlying: "NIFTY", op, level: levelBeyond(spot, op), hysteresis: BAND, email: false, note: `${NOTE} set with no page open` };
    return call<AlertRule>(dev, "alerts", { method: "POST", body: JSON.stringify(body) });
  });
  whileClosed = event;
  const made = { id: event.rule_id };
  log(`fired with no page open: ${whileClosed.text}`);
  const { page, listed } = await reopen(app, dev);
  expect((await listed).events.filter((e) => [live.rule_id, made.id].includes(e.rule_id)).map((e) => e.id), "GET /api/alerts/events").toEqual([whileClosed.id, live.id]);
  await page.getByRole("button", { name: "alerts", exact: true }).filter({ visible: true }).click();
  await expect(page.locator(`.panel.alerts [data-fired="${whileClosed.id}"]`)).toContainText(whileClosed.text);
  await expect(page.locator(".panel.alerts .fired li", { hasText: whileClosed.text })).toHaveCount(1);
  // Newest first.
  const order = await page.locator(".panel.alerts .fired li[data-fired]").evaluateAll((li) => li.map((l) => Number(l.getAttribute("data-fired"))));
  expect(order.indexOf(whileClosed.id)).toBeLessThan(order.indexOf(live.id));
});

test("screenshot of the panel with fired alerts", async ({ app: { page } }) => {
  const panel = page.locator(".panel.alerts");
  await expect(panel.locator(`[data-fired="${whileClosed.id}"]`)).toBeVisible();
  await page.screenshot({ path: SCREENSHOT });
  log(`screenshot ${SCREENSHOT}: ${(statSync(SCREENSHOT).size / 1024).toFixed(0)} KB`);
});
