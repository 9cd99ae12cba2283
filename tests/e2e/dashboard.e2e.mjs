#!/usr/bin/env node
/**
 * End-to-end test of the dashboard against the real local stack (`strikeboard dev`).
 *
 * Starts `scripts/uv run --frozen strikeboard dev --speed 10` itself (own process group, stopped
 * at the end; the repository's scripts/uv by absolute path, so no `uv` on PATH is needed),
 * waits for the printed gateway URL (and dev token; DEV_TOKEN is set for it anyway), drives
 * Debian's Chromium through playwright-core and checks: the chain renders, values update live,
 * switching expiry works, the page recovers after the stack (gateway included) restarts, and
 * saves web/screenshots/dashboard.png. Against a stack that is already running:
 * STRIKEBOARD_URL=http://127.0.0.1:8000 DEV_TOKEN=... (the restart check is then skipped).
 * Run: `npm run e2e` in web/ (or `make test` through tests/e2e/test_web.py).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const web = join(root, "web");
// playwright-core is a dependency of web/, not of this folder.
const { chromium } = createRequire(join(web, "package.json"))("playwright-core");

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];
const SCREENSHOT = join(web, "screenshots", "dashboard.png");
// The repository's uv wrapper (it installs uv into .local/tools when the machine has none):
// a bare `uv` is not on PATH on a fresh machine or CI.
const UV = join(root, "scripts", "uv");
const STARTUP_S = Number(process.env.E2E_STARTUP_S ?? 180);

const log = (...a) => console.log(`[e2e ${new Date().toISOString().slice(11, 19)}]`, ...a);
const results = [];
/** Run one check; a failure is recorded and the later checks still run (fatal: stop here). */
async function check(name, fn, { fatal = false } = {}) {
  const t = Date.now();
  try {
    await fn();
    results.push([name, "ok", Date.now() - t]);
    log(`ok   ${name}`);
  } catch (err) {
    results.push([name, "FAIL", Date.now() - t]);
    log(`FAIL ${name}: ${err.message.split("\n")[0]}`);
    if (fatal) throw err;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The stack's own lines (not the children's access and JSON logs), for error messages. */
function summary(output) {
  return output
    .split("\n")
    .filter((l) => l.trim() && !/^(INFO|DEBUG|WARNING):|^\{/.test(l))
    .slice(-30)
    .map((l) => l.slice(0, 200))
    .join("\n");
}

/** A running `strikeboard dev`: its process group, gateway URL and token. */
class Stack {
  constructor(port, token) {
    this.port = port;
    this.token = token;
    this.proc = null;
    this.output = "";
  }

  static supportsPort() {
    const help = spawnSync(UV, ["run", "--frozen", "strikeboard", "dev", "--help"], { cwd: root, encoding: "utf8" });
    return /--port\b/.test(help.stdout ?? "");
  }

  async start() {
    const argv = ["run", "--frozen", "strikeboard", "dev", "--speed", "10", "--local-dir", ".local/e2e"];
    if (this.port) argv.push("--port", String(this.port));
    log(`starting: ${UV} ${argv.join(" ")}`);
    this.output = "";
    this.proc = spawn(UV, argv, {
      cwd: root,
      env: { ...process.env, DEV_TOKEN: this.token, PYTHONUNBUFFERED: "1" },
      detached: true, // its own process group, so the whole stack stops with it
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise((_, reject) =>
      this.proc.once("exit", (code) => reject(new Error(`strikeboard dev exited with ${code}:\n${summary(this.output)}`))),
    );
    exited.catch(() => {});
    this.proc.stdout.on("data", (d) => (this.output += d));
    this.proc.stderr.on("data", (d) => (this.output += d));
    const found = new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`no gateway URL printed within ${STARTUP_S} s (is the gateway part of strikeboard dev?); output:\n${summary(this.output)}`)),
        STARTUP_S * 1000,
      );
      const scan = setInterval(() => {
        for (const line of this.output.split("\n")) {
          const url = /(https?:\/\/(?:127\.0\.0\.1|localhost|0\.0\.0\.0):\d+)/.exec(line);
          if (url && /gateway|dashboard|open|web|spa|browser/i.test(line) && !/simulator|kite/i.test(line)) {
            // A printed token (`?token=...` or a "dev token" line) wins over the one we set;
            // other "token" strings in the children's logs (Kite's access_token) do not count.
            const tok =
              /[?&]token=([A-Za-z0-9._~-]{8,})/.exec(line) ??
              /dev[ _-]?token\W+([A-Za-z0-9._~-]{8,})/i.exec(this.output);
            if (tok) this.token = tok[1];
            clearInterval(scan);
            clearTimeout(deadline);
            resolve(url[1].replace("0.0.0.0", "127.0.0.1"));
            return;
          }
        }
      }, 200);
    });
    this.url = await Promise.race([found, exited]);
    log(`stack up at ${this.url}`);
    return this.url;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const pid = this.proc.pid;
    const done = new Promise((r) => this.proc.once("exit", r));
    process.kill(-pid, "SIGINT"); // the supervisor stops its children in order
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 40_000);
    await done;
    clearTimeout(timer);
  }
}

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

    await check("the chain renders", async () => {
      await page.goto(`${url}/?token=${encodeURIComponent(tok)}`);
      await page.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 90_000 });
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
