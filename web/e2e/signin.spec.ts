/**
 * The sign-in (issue 11) against a local stand-in of Cognito's hosted UI.
 *
 * Starts tests/e2e/oauth_standin.py (access tokens live ACCESS_TTL_S seconds) and a
 * `strikeboard dev` stack whose API verifies its tokens (COGNITO_ISSUER and COGNITO_DOMAIN = the
 * stand-in), then in Chromium: the signed-out page, sign-in through the stand-in's login form
 * (code flow with PKCE), the chain live over a ticket socket, silent refreshes with the refresh
 * token while data keeps flowing and the page is not reloaded, a reconnect with a new ticket, and
 * sign-out through the logout URL. No token may appear in any URL the page requests.
 * Run: `npm run e2e:signin` in web/ (or `make test` through tests/e2e/test_web.py).
 */
import { chainRendered, expect, state, test as base } from "./fixtures";
import { log, OAuthStandin } from "./stack";

const ACCESS_TTL_S = 5;
const CLIENT_ID = "strikeboard-e2e";

const test = base.extend<object, { standin: OAuthStandin }>({
  standin: [
    async ({ stackPort }, use) => {
      const standin = new OAuthStandin({ clientId: CLIENT_ID, accessTtlS: ACCESS_TTL_S, spaOrigin: `http://127.0.0.1:${stackPort}` });
      await standin.start();
      try {
        await use(standin);
      } finally {
        standin.stop();
      }
    },
    { scope: "worker", title: "OAuth stand-in" },
  ],
  stackEnv: [
    async ({ standin }, use) => use({ COGNITO_ISSUER: standin.url, COGNITO_DOMAIN: standin.url, COGNITO_CLIENT_ID: CLIENT_ID }),
    { scope: "worker" },
  ],
});

// One signed-in page through the story: a failed step skips the ones after it.
test.describe.configure({ mode: "serial" });

test("signed out: the sign-in page", async ({ app: { page, sockets }, dev }) => {
  await page.goto(`${dev.url}/`);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible({ timeout: 30_000 });
  expect(sockets, "a socket opened before signing in").toEqual([]);
});

test("sign in through the hosted UI stand-in (code flow + PKCE)", async ({ app: { page } }) => {
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/oauth2\/authorize\?/, { timeout: 10_000 });
  const authorize = new URL(page.url()).searchParams;
  expect({
    code_challenge_method: authorize.get("code_challenge_method"),
    response_type: authorize.get("response_type"),
    client_id: authorize.get("client_id"),
  }).toEqual({ code_challenge_method: "S256", response_type: "code", client_id: CLIENT_ID });
  expect(authorize.get("state"), "state").toBeTruthy();
  expect(authorize.get("code_challenge"), "code_challenge").toBeTruthy();
  await page.fill("input[name=username]", "trader");
  await page.click("button[type=submit]");
  await expect(page.locator(".account .user")).toHaveText("trader@example.test", { timeout: 30_000 });
  const here = new URL(page.url());
  // The view's own parameters (underlying, expiry, ...) may be there; the callback's may not.
  expect(here.pathname).toBe("/");
  expect(["code", "state", "error"].filter((k) => here.searchParams.has(k)), `the callback's parameters stayed in the address bar: ${page.url()}`).toEqual([]);
});

test("the chain loads live over a ticket socket", async ({ app: { page, sockets } }) => {
  await chainRendered(page, 90_000);
  await expect.poll(() => state(page, (s) => s.chain.applied), { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  expect(sockets.length).toBeGreaterThan(0);
  for (const u of sockets) expect(u).toMatch(/\/ws\?ticket=[^&]+$/);
});

test(`access tokens of ${ACCESS_TTL_S} s are refreshed silently, data keeps flowing`, async ({ app: { page }, standin }) => {
  // Marks this document: a reload would lose it.
  await page.evaluate(() => (window.__e2eDocument = "before"));
  const t0 = Date.now() / 1000;
  const applied0 = await state(page, (s) => s.chain.applied);
  // Two refreshes: the second proves the first's tokens were kept and used.
  const refreshes = async () => (await standin.grants()).filter((g) => g.grant_type === "refresh_token" && g.at > t0);
  await expect.poll(async () => (await refreshes()).length, { timeout: 6 * ACCESS_TTL_S * 1000, message: "two refresh grants" }).toBeGreaterThanOrEqual(2);
  const grants = await refreshes();
  expect(grants.filter((g) => g.status !== 200), "failed refresh grants").toEqual([]);
  // Past the first token's expiry: REST still answers (health polls every 5 s) and deltas arrive.
  await expect.poll(() => state(page, (s) => s.chain.applied), { timeout: 30_000 }).toBeGreaterThan(applied0 + 3);
  const s = await page.evaluate(() => ({
    doc: window.__e2eDocument,
    unauthorized: window.__strikeboard.store.getState().ui.unauthorized,
    connection: window.__strikeboard.store.getState().ui.connection,
  }));
  expect(s, "not reloaded, no 401 after the refresh, live").toEqual({ doc: "before", unauthorized: false, connection: "live" });
  const status = await page.evaluate(async () => {
    const token = await window.__strikeboard.auth.token();
    return (await fetch("/api/preferences", { headers: { Authorization: `Bearer ${token}` } })).status;
  });
  expect(status, "the refreshed token's answer").toBe(200);
  log(`refresh grants: ${grants.length}`);
});

test("a reconnect fetches a new ticket", async ({ app: { page, sockets } }) => {
  const before = sockets.length;
  await page.evaluate(() => {
    window.__strikeboard.client.stop();
    window.__strikeboard.client.start();
  });
  await expect.poll(() => state(page, (s) => s.ui.connection), { timeout: 30_000 }).toBe("live");
  await expect.poll(() => sockets.length, { message: "a new socket" }).toBeGreaterThan(before);
  const tickets = sockets.map((u) => new URL(u).searchParams.get("ticket"));
  expect(new Set(tickets).size, `a ticket was used twice: ${tickets.join(", ")}`).toBe(tickets.length);
});

test("no token in any URL", async ({ app: { page, sent, sockets } }) => {
  const tokens = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sb.auth") ?? "{}") as Record<string, string | undefined>);
  const secrets = [tokens.access, tokens.id, tokens.refresh].filter((t): t is string => !!t);
  expect(secrets, "tokens kept in sessionStorage").toHaveLength(3);
  const leaked = sent.concat(sockets).filter((u) => /eyJ[\w-]+\.[\w-]+\./.test(u) || secrets.some((t) => u.includes(t)));
  expect(leaked.map((u) => u.slice(0, 120)), "URLs with a token").toEqual([]);
});

test("sign out ends the session here and at the hosted UI", async ({ app: { page }, dev, standin }) => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${dev.url}/`, { timeout: 15_000 });
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible({ timeout: 15_000 });
  expect(await page.evaluate(() => sessionStorage.getItem("sb.auth")), "tokens still stored").toBeNull();
  expect((await standin.grants()).some((g) => g.logout), "the stand-in's /logout was called").toBe(true);
});
