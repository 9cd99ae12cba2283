import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeStore } from "../store";
import { api } from "../store/api";
import { authFetch, kiteLoginUrl, setAuth, takeFragmentToken, ticketSocketUrl } from ".";
import { DevSession, getToken } from "./dev";
import { codeChallenge, randomToken } from "./pkce";
import { CognitoSession, type Auth, type CognitoConfig, type SessionDeps } from "./session";

const CONFIG: CognitoConfig = {
  mode: "cognito",
  authorize_url: "https://idp.test/oauth2/authorize",
  token_url: "https://idp.test/oauth2/token",
  logout_url: "https://idp.test/logout",
  client_id: "client-1",
  scopes: ["openid", "email"],
  redirect_path: "/auth/callback",
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** A JWT-shaped string whose payload names the user (the SPA only reads it for display). */
function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
}

/** The token endpoint, played by the test: records each grant, answers from a queue. */
class TokenEndpoint {
  grants: Record<string, string>[] = [];
  answers: Response[] = [];
  n = 0;
  fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    expect(String(input)).toBe(CONFIG.token_url);
    expect(new Headers(init?.headers).get("content-type")).toBe("application/x-www-form-urlencoded");
    this.grants.push(Object.fromEntries(new URLSearchParams(String(init?.body))));
    const next = this.answers.shift();
    if (next) return next;
    this.n += 1;
    return json(200, {
      access_token: `access-${this.n}`,
      id_token: jwt({ email: "trader@example.test" }),
      ...(this.n === 1 ? { refresh_token: "refresh-1" } : {}),
      expires_in: 60,
      token_type: "Bearer",
    });
  });
}

let now: number;
let timers: { fn: () => void; at: number }[];
let navigated: string[];
let endpoint: TokenEndpoint;
let deps: SessionDeps;

beforeEach(() => {
  now = 1_000_000;
  timers = [];
  navigated = [];
  endpoint = new TokenEndpoint();
  sessionStorage.clear();
  localStorage.clear();
  deps = {
    fetch: endpoint.fetch as unknown as typeof fetch,
    storage: sessionStorage,
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { fn, at: now + ms };
      timers.push(t);
      return t;
    },
    clearTimeout: (h) => {
      timers = timers.filter((t) => t !== h);
    },
    navigate: (url) => navigated.push(url),
    origin: "https://app.test",
  };
});

afterEach(() => {
  vi.unstubAllGlobals();
  setAuth(new DevSession());
});

/** Advance the injected clock, running due timers in order. */
async function advance(ms: number) {
  const end = now + ms;
  for (;;) {
    const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
    if (!due) break;
    timers = timers.filter((t) => t !== due);
    now = due.at;
    due.fn();
    await vi.waitFor(() => undefined);
    await new Promise((r) => setTimeout(r, 0));
  }
  now = end;
}

/** Sign in: the redirect to the IdP, then its callback with the same state. */
async function signedIn(): Promise<CognitoSession> {
  const s = new CognitoSession(CONFIG, deps);
  await s.signIn("/?x=1");
  const state = new URL(navigated.at(-1)!).searchParams.get("state")!;
  expect(await s.handleCallback(`?code=the-code&state=${state}`)).toBe("/?x=1");
  return s;
}

describe("PKCE", () => {
  it("derives the S256 challenge of RFC 7636's example verifier", async () => {
    expect(await codeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("makes 43-character base64url verifiers, never the same twice", () => {
    const a = randomToken(32);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(32)).not.toBe(a);
  });

  it("sends the browser to the authorize URL with the challenge of the verifier it keeps", async () => {
    const s = new CognitoSession(CONFIG, deps);
    await s.signIn("/");
    const url = new URL(navigated[0]!);
    expect(url.origin + url.pathname).toBe(CONFIG.authorize_url);
    const q = Object.fromEntries(url.searchParams);
    expect(q).toMatchObject({
      response_type: "code",
      client_id: "client-1",
      redirect_uri: "https://app.test/auth/callback",
      scope: "openid email",
      code_challenge_method: "S256",
    });
    const flow = JSON.parse(sessionStorage.getItem("sb.pkce")!) as { state: string; verifier: string };
    expect(q.state).toBe(flow.state);
    expect(q.code_challenge).toBe(await codeChallenge(flow.verifier));
  });
});

describe("the callback", () => {
  it("exchanges the code with the verifier and keeps the tokens", async () => {
    const s = await signedIn();
    const flowVerifier = endpoint.grants[0]!.code_verifier;
    expect(endpoint.grants[0]).toEqual({
      grant_type: "authorization_code",
      client_id: "client-1",
      code: "the-code",
      code_verifier: flowVerifier,
      redirect_uri: "https://app.test/auth/callback",
    });
    expect(flowVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.status()).toEqual({ state: "signed-in", user: "trader@example.test" });
    expect(await s.token()).toBe("access-1");
    expect(JSON.parse(sessionStorage.getItem("sb.auth")!)).toMatchObject({ access: "access-1", refresh: "refresh-1" });
    expect(sessionStorage.getItem("sb.pkce")).toBeNull();
  });

  it("refuses a state that is not this tab's, without calling the token endpoint", async () => {
    const s = new CognitoSession(CONFIG, deps);
    await s.signIn("/");
    await expect(s.handleCallback("?code=c&state=forged")).rejects.toThrow(/state does not match/);
    expect(endpoint.fetch).not.toHaveBeenCalled();
    expect(s.status()).toMatchObject({ state: "signed-out", message: expect.stringMatching(/refused/) });
    expect(await s.token()).toBeNull();
  });

  it("refuses a callback no sign-in of this tab started, and a replayed one", async () => {
    const s = new CognitoSession(CONFIG, deps);
    await expect(s.handleCallback("?code=c&state=s")).rejects.toThrow(/did not start/);
    await s.signIn("/");
    const state = new URL(navigated[0]!).searchParams.get("state")!;
    await s.handleCallback(`?code=c&state=${state}`);
    await expect(s.handleCallback(`?code=c&state=${state}`)).rejects.toThrow(/did not start/);
    expect(endpoint.grants).toHaveLength(1);
  });

  it("reports the IdP's error and a refused code", async () => {
    const s = new CognitoSession(CONFIG, deps);
    await expect(s.handleCallback("?error=access_denied&error_description=nope")).rejects.toThrow(/nope/);
    await s.signIn("/");
    const state = new URL(navigated[0]!).searchParams.get("state")!;
    endpoint.answers.push(json(400, { error: "invalid_grant" }));
    await expect(s.handleCallback(`?code=c&state=${state}`)).rejects.toThrow(/invalid_grant/);
    expect(s.status()).toMatchObject({ state: "signed-out" });
  });
});

describe("refresh", () => {
  it("refreshes silently before the access token expires, keeping the refresh token", async () => {
    const s = await signedIn();
    await advance(47_000); // a 60 s token refreshes a fifth of its life (12 s) before the end
    expect(endpoint.grants).toHaveLength(1);
    await advance(2_000);
    expect(endpoint.grants[1]).toEqual({ grant_type: "refresh_token", client_id: "client-1", refresh_token: "refresh-1" });
    expect(await s.token()).toBe("access-2");
    await advance(48_000);
    expect(endpoint.grants[2]).toMatchObject({ grant_type: "refresh_token", refresh_token: "refresh-1" });
    expect(await s.token()).toBe("access-3");
    expect(s.status()).toMatchObject({ state: "signed-in" });
  });

  it("refreshes first when asked for an expired token (timers ran late)", async () => {
    const s = await signedIn();
    timers = []; // a sleeping laptop: no timer fired
    now += 61_000;
    expect(await s.token()).toBe("access-2");
    expect(endpoint.grants.map((g) => g.grant_type)).toEqual(["authorization_code", "refresh_token"]);
  });

  it("shares one refresh between concurrent callers", async () => {
    const s = await signedIn();
    const [a, b] = await Promise.all([s.renew(), s.renew()]);
    expect([a, b]).toEqual(["access-2", "access-2"]);
    expect(endpoint.grants).toHaveLength(2);
  });

  it("ends the session when the refresh token is refused", async () => {
    const s = await signedIn();
    endpoint.answers.push(json(400, { error: "invalid_grant" }));
    expect(await s.renew()).toBeNull();
    expect(s.status()).toMatchObject({ state: "signed-out", message: expect.stringMatching(/sign in again/) });
    expect(sessionStorage.getItem("sb.auth")).toBeNull();
  });

  it("keeps the session over a failing network and tries again", async () => {
    const s = await signedIn();
    endpoint.fetch.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    expect(await s.renew()).toBeNull();
    expect(s.status()).toMatchObject({ state: "signed-in" });
    await advance(5_000);
    expect(await s.token()).toBe("access-2");
  });

  it("restores a reloaded tab's tokens, refreshing them when expired", async () => {
    await signedIn();
    const again = new CognitoSession(CONFIG, deps);
    await again.restore();
    expect(await again.token()).toBe("access-1");
    now += 120_000;
    const later = new CognitoSession(CONFIG, deps);
    await later.restore();
    expect(later.status()).toMatchObject({ state: "signed-in" });
    expect(await later.token()).toBe("access-2");
  });
});

describe("a 401 renews the token and retries once", () => {
  function api401(valid: string) {
    return vi.fn(async (_input: RequestInfo | URL, init?: RequestInit) =>
      new Headers(init?.headers).get("authorization") === `Bearer ${valid}` ? json(200, { ok: true }) : json(401, {}),
    );
  }

  it("authFetch: a renewed token gets the answer", async () => {
    const s = await signedIn();
    const apiFetch = api401("access-2");
    const res = await authFetch("/api/market", {}, { auth: s, fetchFn: apiFetch as unknown as typeof fetch });
    expect(res.status).toBe(200);
    expect(apiFetch).toHaveBeenCalledTimes(2);
    expect(endpoint.grants.at(-1)!.grant_type).toBe("refresh_token");
  });

  it("authFetch: a 401 that stands is returned after one retry", async () => {
    const s = await signedIn();
    const apiFetch = api401("never");
    const res = await authFetch("/api/market", {}, { auth: s, fetchFn: apiFetch as unknown as typeof fetch });
    expect(res.status).toBe(401);
    expect(apiFetch).toHaveBeenCalledTimes(2);
  });

  it("RTK Query: the retry carries the renewed token; the prompt stays down", async () => {
    let token = "old";
    const auth: Auth = {
      mode: "cognito",
      token: async () => token,
      renew: vi.fn(async () => (token = "new")),
      status: () => ({ state: "signed-in", user: "u" }),
      subscribe: () => () => undefined,
      signOut: () => undefined,
    };
    setAuth(auth);
    const seen: (string | null)[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        seen.push(req.headers.get("authorization"));
        return req.headers.get("authorization") === "Bearer new" ? json(200, { status: "ok" }) : json(401, {});
      }),
    );
    const store = makeStore();
    const result = await store.dispatch(api.endpoints.health.initiate());
    expect(result.data).toEqual({ status: "ok" });
    expect(seen).toEqual(["Bearer old", "Bearer new"]);
    expect(auth.renew).toHaveBeenCalledTimes(1);
    expect(store.getState().ui.unauthorized).toBe(false);
  });
});

describe("sign-out", () => {
  it("forgets the tokens and ends the hosted UI's session", async () => {
    const s = await signedIn();
    s.signOut();
    expect(sessionStorage.getItem("sb.auth")).toBeNull();
    expect(await s.token()).toBeNull();
    expect(s.status()).toEqual({ state: "signed-out" });
    const url = new URL(navigated.at(-1)!);
    expect(url.origin + url.pathname).toBe(CONFIG.logout_url);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: "client-1", logout_uri: "https://app.test/" });
    expect(timers).toHaveLength(0); // no refresh left scheduled
  });
});

describe("dev mode: the token in the URL fragment", () => {
  function fakeLocation(href: string) {
    const url = new URL(href);
    const history = { state: null, replaceState: vi.fn() } as unknown as History;
    return { loc: url as unknown as Location, history };
  }

  it("keeps #token= in localStorage and takes it out of the address bar", () => {
    const { loc, history } = fakeLocation("http://127.0.0.1:8000/?x=1#token=abc123&panel=2");
    expect(takeFragmentToken(loc, history)).toBe("abc123");
    expect(getToken()).toBe("abc123");
    expect(history.replaceState).toHaveBeenCalledWith(null, "", "/?x=1#panel=2");
  });

  it("leaves the address alone without a fragment token, keeping the stored one", () => {
    localStorage.setItem("sb.token", "kept");
    const { loc, history } = fakeLocation("http://127.0.0.1:8000/");
    expect(takeFragmentToken(loc, history)).toBe("kept");
    expect(history.replaceState).not.toHaveBeenCalled();
  });
});

describe("WebSocket tickets", () => {
  it("asks for a ticket with the bearer token and puts only the ticket in the URL", async () => {
    localStorage.setItem("sb.token", "devtok");
    const apiFetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      expect(String(input)).toBe("https://app.test/api/ws/ticket");
      expect(init?.method).toBe("POST");
      expect(new Headers(init?.headers).get("authorization")).toBe("Bearer devtok");
      return json(200, { ticket: "t/1", expires_in: 30 });
    });
    const url = await ticketSocketUrl(
      { protocol: "https:", host: "app.test", origin: "https://app.test" },
      { auth: new DevSession(), fetchFn: apiFetch as unknown as typeof fetch },
    );
    expect(url).toBe("wss://app.test/ws?ticket=t%2F1");
    expect(url).not.toContain("devtok");
  });

  it("fails clearly when the API gives no ticket", async () => {
    const apiFetch = vi.fn(async () => json(403, {}));
    await expect(
      ticketSocketUrl({ protocol: "http:", host: "h", origin: "http://h" }, { auth: new DevSession(), fetchFn: apiFetch as unknown as typeof fetch }),
    ).rejects.toThrow(/HTTP 403/);
  });
});

describe("Kite login (admins only)", () => {
  const call = (res: Response) =>
    kiteLoginUrl({ auth: new DevSession(), fetchFn: vi.fn(async () => res) as unknown as typeof fetch });

  it("returns the login URL the API gives", async () => {
    expect(await call(json(200, { url: "https://kite.zerodha.com/connect/login?v=3&api_key=k" }))).toMatch(/^https:\/\/kite/);
  });

  it("says plainly that a 403 means the account is not an admin", async () => {
    await expect(call(json(403, { detail: "forbidden" }))).rejects.toThrow("Only members of the admin group can log in to Kite.");
  });
});
