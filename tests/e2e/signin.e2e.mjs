#!/usr/bin/env node
/**
 * Browser test of the sign-in (issue 11) against a local stand-in of Cognito's hosted UI.
 *
 * Starts tests/e2e/oauth_standin.py (access tokens live ACCESS_TTL_S seconds) and a
 * `strikeboard dev` stack whose API verifies its tokens (COGNITO_ISSUER and COGNITO_DOMAIN = the
 * stand-in), then in Chromium: the signed-out page, sign-in through the stand-in's login form
 * (code flow with PKCE), the chain live over a ticket socket, silent refreshes with the refresh
 * token while data keeps flowing and the page is not reloaded, a reconnect with a new ticket, and
 * sign-out through the logout URL. No token may appear in any URL the page requests.
 * Run: `npm run e2e:signin` in web/ (or `make test` through tests/e2e/test_web.py).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ARGS, CHROMIUM, Stack, UV, check, chromium, freePort, log, results, root, web } from "./stack.mjs";

const ACCESS_TTL_S = 5;
const CLIENT_ID = "strikeboard-e2e";

/** The stand-in as a child process; resolves with its base URL once it listens. */
function startStandin(spaOrigin) {
  const argv = [
    "run", "--frozen", "python", join(root, "tests", "e2e", "oauth_standin.py"),
    "--port", "0", "--client-id", CLIENT_ID, "--access-ttl", String(ACCESS_TTL_S),
    "--redirect-uri", `${spaOrigin}/auth/callback`, "--logout-uri", `${spaOrigin}/`, "--group", "admin",
  ];
  const proc = spawn(UV, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the OAuth stand-in did not start:\n${output}`)), 60_000);
    const onData = (d) => {
      output += d;
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], proc });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.once("exit", (code) => reject(new Error(`the OAuth stand-in exited with ${code}:\n${output}`)));
  });
}

const grants = async (standin) => (await (await fetch(`${standin}/_standin/log`)).json());
const store = (page, fn, arg) => page.evaluate(fn, arg);

async function main() {
  if (!existsSync(join(web, "dist", "index.html"))) {
    log("building the SPA (web/dist is missing)");
    spawnSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: web, stdio: "inherit" });
  }
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const standin = await startStandin(origin);
  log(`OAuth stand-in at ${standin.url}`);
  const stack = new Stack(port, `e2e-${randomBytes(12).toString("hex")}`, {
    COGNITO_ISSUER: standin.url,
    COGNITO_DOMAIN: standin.url,
    COGNITO_CLIENT_ID: CLIENT_ID,
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  let failed = false;
  try {
    const url = await stack.start();
    const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
    const page = await context.newPage();
    const errors = [];
    const sent = [];
    const sockets = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // The gateway's Content-Security-Policy: anything it blocks is an error here.
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    page.on("request", (r) => sent.push(r.url()));
    page.on("websocket", (ws) => sockets.push(ws.url()));

    await check("signed out: the sign-in page", async () => {
      await page.goto(`${url}/`);
      await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 30_000 });
      if (sockets.length) throw new Error("a socket opened before signing in");
    }, { fatal: true });

    await check("sign in through the hosted UI stand-in (code flow + PKCE)", async () => {
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/\/oauth2\/authorize\?/, { timeout: 10_000 });
      const authorize = new URL(page.url());
      for (const [k, want] of [["code_challenge_method", "S256"], ["response_type", "code"], ["client_id", CLIENT_ID]]) {
        if (authorize.searchParams.get(k) !== want) throw new Error(`authorize ${k}=${authorize.searchParams.get(k)}`);
      }
      if (!authorize.searchParams.get("state") || !authorize.searchParams.get("code_challenge")) throw new Error("no state or code_challenge");
      await page.fill("input[name=username]", "trader");
      await page.click("button[type=submit]");
      await page.waitForSelector(".account .user", { timeout: 30_000 });
      const user = await page.locator(".account .user").textContent();
      if (user !== "trader@example.test") throw new Error(`signed in as '${user}'`);
      const here = new URL(page.url());
      // The view's own parameters (underlying, expiry, ...) may be there; the callback's may not.
      if (here.pathname !== "/" || ["code", "state", "error"].some((k) => here.searchParams.has(k))) throw new Error(`the callback's code stayed in the address bar: ${page.url()}`);
    }, { fatal: true });

    await check("the chain loads live over a ticket socket", async () => {
      await page.waitForFunction(() => document.querySelectorAll("[data-strike]").length >= 10, null, { timeout: 90_000 });
      await page.waitForFunction(() => window.__strikeboard.store.getState().chain.applied >= 3, null, { timeout: 60_000 });
      if (!sockets.length || !sockets.every((u) => /\/ws\?ticket=[^&]+$/.test(u))) throw new Error(`sockets: ${sockets.join(", ")}`);
    }, { fatal: true });

    // Marks this document: a reload would lose it.
    await page.evaluate(() => (window.__e2eDocument = "before"));

    await check(`access tokens of ${ACCESS_TTL_S} s are refreshed silently, data keeps flowing`, async () => {
      const t0 = Date.now() / 1000;
      const applied0 = await store(page, () => window.__strikeboard.store.getState().chain.applied);
      // Two refreshes: the second proves the first's tokens were kept and used.
      const deadline = Date.now() + 6 * ACCESS_TTL_S * 1000;
      let refreshes = [];
      while (Date.now() < deadline) {
        refreshes = (await grants(standin.url)).filter((g) => g.grant_type === "refresh_token" && g.at > t0);
        if (refreshes.length >= 2) break;
        await page.waitForTimeout(500);
      }
      if (refreshes.length < 2 || refreshes.some((g) => g.status !== 200)) throw new Error(`refresh grants: ${JSON.stringify(refreshes)}`);
      // Past the first token's expiry: REST still answers (health polls every 5 s) and deltas arrive.
      await page.waitForFunction((n) => window.__strikeboard.store.getState().chain.applied > n + 3, applied0, { timeout: 30_000 });
      const s = await store(page, () => ({ doc: window.__e2eDocument, unauthorized: window.__strikeboard.store.getState().ui.unauthorized, connection: window.__strikeboard.store.getState().ui.connection }));
      if (s.doc !== "before") throw new Error("the page was reloaded");
      if (s.unauthorized) throw new Error("the API answered 401 after the refresh");
      if (s.connection !== "live") throw new Error(`connection is ${s.connection}`);
      const status = await page.evaluate(async () => {
        const token = await window.__strikeboard.auth.token();
        return (await fetch("/api/preferences", { headers: { Authorization: `Bearer ${token}` } })).status;
      });
      if (status !== 200) throw new Error(`the refreshed token is refused: HTTP ${status}`);
      log(`refresh grants: ${refreshes.length}`);
    });

    await check("a reconnect fetches a new ticket", async () => {
      const before = sockets.length;
      await page.evaluate(() => {
        window.__strikeboard.client.stop();
        window.__strikeboard.client.start();
      });
      await page.waitForFunction(() => window.__strikeboard.store.getState().ui.connection === "live", null, { timeout: 30_000 });
      await page.waitForTimeout(200);
      const tickets = sockets.map((u) => new URL(u).searchParams.get("ticket"));
      if (sockets.length <= before) throw new Error("no new socket");
      if (new Set(tickets).size !== tickets.length) throw new Error("a ticket was used twice");
    });

    await check("no token in any URL", async () => {
      const tokens = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sb.auth") ?? "{}"));
      const secrets = [tokens.access, tokens.id, tokens.refresh].filter(Boolean);
      if (secrets.length < 3) throw new Error("tokens are not kept in sessionStorage");
      const leaked = sent.concat(sockets).filter((u) => /eyJ[\w-]+\.[\w-]+\./.test(u) || secrets.some((t) => u.includes(t)));
      if (leaked.length) throw new Error(`a token went out in a URL: ${leaked[0].slice(0, 120)}`);
    });

    await check("sign out ends the session here and at the hosted UI", async () => {
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(`${url}/`, { timeout: 15_000 });
      await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 15_000 });
      const kept = await page.evaluate(() => sessionStorage.getItem("sb.auth"));
      if (kept) throw new Error("tokens are still stored");
      const log_ = await grants(standin.url);
      if (!log_.some((g) => g.logout)) throw new Error("the stand-in's /logout was not called");
    });

    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  } catch (err) {
    failed = true;
    console.error(err);
  } finally {
    await browser.close();
    await stack.stop();
    try {
      process.kill(-standin.proc.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  for (const [name, status, ms] of results) console.log(`${status.padEnd(4)}  ${String(ms).padStart(6)} ms  ${name}`);
  failed ||= results.some(([, status]) => status !== "ok");
  process.exit(failed ? 1 : 0);
}

main();
