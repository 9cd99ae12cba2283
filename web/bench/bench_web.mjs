#!/usr/bin/env node
/**
 * Browser benchmark of the dashboard (npm run bench): Debian's Chromium via playwright-core.
 *
 * A local fake gateway streams a synthetic chain of 200 strikes with a delta 4 times a second
 * (a third of the legs change each time); the SPA shows all 200 rows with 8 columns a side.
 * Printed: the longest main-thread task and the count of tasks over 50 ms (Chromium trace
 * "RunTask" events of the page's renderer, cross-checked with PerformanceObserver longtask),
 * and the time from a delta's arrival to the updated cell being painted (p50/p99: receipt ->
 * the rAF in which the probed cell shows the new value -> the task after that frame).
 * Reference in the same run: the naive page (bench/naive.html) that rebuilds the table's HTML
 * on every message. A second SPA phase, as long as the first, has the strategy builder open on an
 * iron condor (its payoff from the fake gateway's Black-76 bench double) while the chain stays
 * live, and counts the payoff requests the SPA makes meanwhile.
 * Options: --seconds N (default 60, each SPA phase), --ref-seconds N (default 20).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startFakeGateway } from "./fake-server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, "..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg("--seconds", 60);
const REF_SECONDS = arg("--ref-seconds", 20);
const STRIKES = 200;
const HZ = 4;
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];

// Runs in the page before any of its scripts.
function probe() {
  const f2 = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const bench = { longtasks: [], latency: [], missed: 0, messages: 0 };
  window.__bench = bench;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) bench.longtasks.push(e.duration);
    }).observe({ type: "longtask", buffered: true });
  } catch {
    // not supported: the trace still counts
  }
  const Native = window.WebSocket;
  class ProbeSocket extends Native {
    constructor(...args) {
      super(...args);
      // Registered before the page's handler, so t0 is the arrival.
      this.addEventListener("message", (ev) => {
        const t0 = performance.now();
        bench.messages += 1;
        const m = JSON.parse(ev.data);
        if (m.type !== "delta") return;
        const atm = m.set?.atm_strike;
        const ltp = m.set?.strikes?.[String(atm)]?.CE?.ltp;
        if (atm == null || ltp == null) return;
        const want = f2.format(ltp);
        const check = (n) =>
          requestAnimationFrame(() => {
            const el = document.querySelector(`[data-strike="${atm}"] .ltp.CE .v`);
            if (el && el.textContent === want) {
              // The frame whose rAF saw the new text paints next; the task after it ends it.
              const ch = new MessageChannel();
              ch.port1.onmessage = () => bench.latency.push(performance.now() - t0);
              ch.port2.postMessage(0);
            } else if (n < 30) check(n + 1);
            else bench.missed += 1;
          });
        check(0);
      });
    }
  }
  window.WebSocket = ProbeSocket;
  localStorage.setItem("sb.token", "bench");
  localStorage.setItem(
    "sb.preferences",
    JSON.stringify({ columns: ["oi", "oi_change", "volume", "iv", "change", "ltp", "bid", "ask"], strikes: 100, theme: "dark" }),
  );
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Main-thread tasks of the page's renderer from a Chromium trace: wall time (`dur`) and the
 * thread's CPU time (`tdur`). On a shared machine wall time includes waiting for a core, so
 * both are printed.
 */
function tasksFromTrace(buffer) {
  const trace = JSON.parse(buffer.toString("utf8"));
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  const main = new Set();
  for (const e of events) {
    if (e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain") main.add(`${e.pid}:${e.tid}`);
  }
  const out = [];
  for (const e of events) {
    if (e.ph === "X" && (e.name === "RunTask" || e.name === "ThreadControllerImpl::RunTask") && main.has(`${e.pid}:${e.tid}`)) {
      out.push({ wall: (e.dur ?? 0) / 1000, cpu: (e.tdur ?? e.dur ?? 0) / 1000 });
    }
  }
  return out;
}

/**
 * The builder's phase: an iron condor around the synthetic chain's first ATM (26000), opened the
 * way a shared link opens it (`?strategy=`, web/src/strategy/codec.ts's form: expiry yymmdd, C/P,
 * strike, b/s, lots, m = at the mid). The SPA then prices it with POST /api/strategy/payoff.
 */
const CONDOR = [
  [26200, "C", "s"],
  [26400, "C", "b"],
  [25800, "P", "s"],
  [25600, "P", "b"],
];
const condorLink = (expiry) => ["NIFTY", ...CONDOR.map(([k, t, side]) => `${expiry.slice(2).replace(/-/g, "")}${t}${k}${side}1m`)].join("_");

async function measure(browser, url, seconds, rowsWanted, { ready, counted } = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript(probe);
  await page.goto(url);
  // Strikes held (the SPA renders only the rows in view; the naive page renders them all).
  const held = () => window.__strikeboard?.store.getState().chain.rows.ids.length ?? document.querySelectorAll("[data-strike]").length;
  await page.waitForFunction(`(${held})() >= ${rowsWanted}`, null, { timeout: 30_000 });
  if (ready) await page.waitForFunction(ready, null, { timeout: 30_000 });
  await page.waitForTimeout(1000); // settle after the first render
  await page.evaluate(() => {
    window.__bench.latency.length = 0;
    window.__bench.longtasks.length = 0;
    window.__bench.missed = 0;
  });
  const before = counted?.() ?? 0;
  await browser.startTracing(page, { categories: ["toplevel"] });
  await page.waitForTimeout(seconds * 1000);
  const trace = await browser.stopTracing();
  const requests = (counted?.() ?? 0) - before;
  const b = await page.evaluate(() => window.__bench);
  const rows = await page.evaluate(`(${held})()`);
  const domRows = await page.evaluate(() => document.querySelectorAll("[data-strike]").length);
  await context.close();
  const tasks = tasksFromTrace(trace);
  const wall = tasks.map((t) => t.wall);
  const cpu = tasks.map((t) => t.cpu);
  const lat = [...b.latency].sort((x, y) => x - y);
  const load = (await import("node:os")).loadavg()[0];
  return {
    requests,
    rows,
    domRows,
    load,
    tasks: tasks.length,
    longest: wall.length ? Math.max(...wall) : NaN,
    over50: wall.filter((d) => d > 50).length,
    longestCpu: cpu.length ? Math.max(...cpu) : NaN,
    over50Cpu: cpu.filter((d) => d > 50).length,
    busy: cpu.reduce((a, c) => a + c, 0) / (seconds * 1000),
    longtasks: b.longtasks.length,
    longestLongtask: b.longtasks.length ? Math.max(...b.longtasks) : 0,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    max: lat.length ? lat[lat.length - 1] : NaN,
    samples: lat.length,
    missed: b.missed,
  };
}

async function main() {
  if (!existsSync(join(web, "dist", "index.html")) || process.argv.includes("--build")) {
    execFileSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: web, stdio: "inherit" });
  }
  const gw = await startFakeGateway({ dist: join(web, "dist"), strikes: STRIKES, hz: HZ, extra: { "/naive.html": join(here, "naive.html") } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const version = browser.version();
    console.log(`Chromium ${version}; ${STRIKES} strikes x 8 columns a side, a delta ${HZ}x/s (a third of the legs change), synthetic data`);
    const spa = await measure(browser, `${gw.url}/#token=bench`, SECONDS, STRIKES);
    const builder = await measure(browser, `${gw.url}/?underlying=NIFTY&strategy=${condorLink(gw.chain.expiry)}#token=bench`, SECONDS, STRIKES, {
      // The builder open with its four legs and the API's payoff drawn.
      ready: `document.querySelectorAll(".strategy [data-leg]").length === ${CONDOR.length} && !!document.querySelector('.strategy [data-fig="breakevens"]')`,
      counted: () => gw.stats.payoffs,
    });
    const naive = await measure(browser, `${gw.url}/naive.html`, REF_SECONDS, STRIKES);
    const f = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "n/a");
    const line = (name, secs, r) => [
      name, secs, r.rows, r.domRows, r.tasks, f(r.longest), r.over50, r.longtasks, f(r.longestCpu), r.over50Cpu,
      `${(r.busy * 100).toFixed(0)}%`, f(r.p50), f(r.p99), f(r.max), r.samples, r.missed, r.load.toFixed(1),
    ];
    const rows = [
      ["run", "s", "strikes", "DOM rows", "tasks", "longest ms", ">50 ms", "longtask", "longest cpu ms", ">50 cpu", "main busy", "delta->paint p50", "p99", "max", "n", "missed", "load"],
      line("Strikeboard SPA", SECONDS, spa),
      line("SPA + builder (iron condor)", SECONDS, builder),
      line("reference: naive full re-render", REF_SECONDS, naive),
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
    for (const r of rows) console.log(r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  "));
    console.log(`deltas sent: ${gw.stats.deltas}, mean delta ${(gw.stats.bytes / Math.max(1, gw.stats.deltas) / 1024).toFixed(1)} KB; target: no task over 50 ms`);
    const each = builder.requests ? `one per ${(SECONDS / builder.requests).toFixed(1)} s` : "none";
    console.log(
      `builder: POST /api/strategy/payoff ${builder.requests} times in ${SECONDS} s with the chain live (${each}; ${gw.stats.payoffs} in all, ` +
        `mean answer ${(gw.stats.payoffBytes / Math.max(1, gw.stats.payoffs) / 1024).toFixed(1)} KB, from the Black-76 bench double of bench/payoff-double.mjs)`,
    );
    console.log("longest/>50: wall time of renderer main-thread tasks (trace RunTask); cpu: the same tasks' thread CPU time;");
    console.log("longtask: PerformanceObserver entries; delta->paint in ms; load: 1-min load average of this machine");
  } finally {
    await browser.close();
    await gw.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
