/**
 * Who the SPA is signed in as, and the bearer token it sends (docs/web.md, "Sign-in").
 *
 * Two kinds of session behind one `Auth` interface:
 * - `CognitoSession`: the authorization code flow with PKCE against Cognito's hosted UI (or
 *   any OAuth2 server at the URLs of /api/auth/config), silent refresh with the refresh token
 *   before the access token expires and after a 401, sign-out through the logout URL.
 * - `DevSession` (./dev.ts): the local token of `strikeboard dev`.
 *
 * Everything external (fetch, storage, clock, timers, navigation) is injected for tests.
 */
import { codeChallenge, randomToken } from "./pkce";

export type AuthConfig =
  | {
      mode: "cognito";
      authorize_url: string;
      token_url: string;
      logout_url: string;
      client_id: string;
      scopes: string[];
      redirect_path: string;
    }
  | { mode: "dev" };

export type CognitoConfig = Extract<AuthConfig, { mode: "cognito" }>;

export type AuthStatus =
  | { state: "signed-in"; user: string }
  | { state: "signed-out"; message?: string }
  | { state: "signing-in" };

export interface Auth {
  readonly mode: AuthConfig["mode"];
  /** The bearer token to send now (renewed first when about to expire); null: none. */
  token(): Promise<string | null>;
  /** After a 401: a renewed token to retry with once, or null (then the 401 stands). */
  renew(): Promise<string | null>;
  status(): AuthStatus;
  subscribe(listener: () => void): () => void;
  signOut(): void;
}

/** The stored tokens. `expiresAt` is on this browser's clock (from `expires_in`). */
export interface Tokens {
  access: string;
  id: string | null;
  refresh: string | null;
  expiresAt: number;
}

export interface SessionDeps {
  fetch: typeof fetch;
  /**
   * sessionStorage in the browser. Why: it survives a reload (no round trip through the hosted
   * UI each time), is per tab and gone when the tab closes, and is never sent to a server as a
   * cookie would be. localStorage would keep a 30-day refresh token on disk across browser
   * restarts. Memory only would buy little: script that can read this storage (XSS) can also
   * call the API with the in-memory token.
   */
  storage: Storage;
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  /** Leave the SPA for another page (the hosted UI, the logout URL). */
  navigate: (url: string) => void;
  /** The page's origin, e.g. https://d123.cloudfront.net. */
  origin: string;
}

const TOKENS_KEY = "sb.auth";
const FLOW_KEY = "sb.pkce";
/** Refresh this long before expiry, capped at a fifth of the token's lifetime. */
const REFRESH_MARGIN_MS = 60_000;

export class AuthError extends Error {}

/** The claims of a JWT, unverified: for display only (the API verifies every token). */
export function jwtClaims(token: string | null): Record<string, unknown> {
  const part = token?.split(".")[1];
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function userOf(t: Tokens): string {
  const c = { ...jwtClaims(t.access), ...jwtClaims(t.id) };
  for (const k of ["email", "cognito:username", "username", "sub"]) {
    if (typeof c[k] === "string" && c[k]) return c[k];
  }
  return "signed in";
}

interface TokenResponse {
  access_token?: unknown;
  id_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
  error?: unknown;
  error_description?: unknown;
}

export class CognitoSession implements Auth {
  readonly mode = "cognito" as const;
  private tokens: Tokens | null = null;
  private current: AuthStatus = { state: "signed-out" };
  private listeners = new Set<() => void>();
  private refreshing: Promise<string | null> | null = null;
  private timer: unknown = null;
  /** Counters for diagnostics and the browser test. */
  readonly stats = { refreshes: 0, refreshFailures: 0 };

  constructor(
    readonly config: CognitoConfig,
    private readonly deps: SessionDeps,
  ) {}

  get redirectUri(): string {
    return this.deps.origin + this.config.redirect_path;
  }

  status(): AuthStatus {
    return this.current;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setStatus(status: AuthStatus): void {
    this.current = status;
    for (const l of [...this.listeners]) l();
  }

  /** Pick up the tab's tokens (a reload); an expired access token is refreshed first. */
  async restore(): Promise<void> {
    let saved: Tokens | null;
    try {
      saved = JSON.parse(this.deps.storage.getItem(TOKENS_KEY) ?? "null") as Tokens | null;
    } catch {
      saved = null;
    }
    if (!saved || typeof saved.access !== "string" || typeof saved.expiresAt !== "number") return;
    this.tokens = saved;
    if (this.deps.now() >= saved.expiresAt - this.marginMs(saved)) {
      await this.refresh();
    } else {
      this.schedule();
      this.setStatus({ state: "signed-in", user: userOf(saved) });
    }
  }

  /** Off to the hosted UI; `returnTo` is where the callback lands afterwards. */
  async signIn(returnTo = "/"): Promise<void> {
    const verifier = randomToken(32);
    const state = randomToken(16);
    // One flow at a time per tab: a second sign-in replaces the first's state and verifier.
    this.deps.storage.setItem(FLOW_KEY, JSON.stringify({ state, verifier, returnTo }));
    const url = new URL(this.config.authorize_url);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: this.config.client_id,
      redirect_uri: this.redirectUri,
      scope: this.config.scopes.join(" "),
      state,
      code_challenge: await codeChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();
    this.deps.navigate(url.toString());
  }

  /**
   * The hosted UI sent the browser back with `?code=&state=` (or `?error=`): check the state
   * against this tab's flow and exchange the code. Returns where to go next; throws AuthError
   * (the status then says why) on a refused callback, without calling the token endpoint.
   */
  async handleCallback(search: string): Promise<string> {
    const params = new URLSearchParams(search);
    const raw = this.deps.storage.getItem(FLOW_KEY);
    // One use only: a replayed callback URL finds no flow.
    this.deps.storage.removeItem(FLOW_KEY);
    let flow: { state?: unknown; verifier?: unknown; returnTo?: unknown } = {};
    try {
      flow = JSON.parse(raw ?? "{}") as typeof flow;
    } catch {
      flow = {};
    }
    const fail = (message: string): never => {
      this.setStatus({ state: "signed-out", message });
      throw new AuthError(message);
    };
    const error = params.get("error");
    if (error) fail(`Sign-in failed: ${params.get("error_description") ?? error}.`);
    const code = params.get("code");
    const state = params.get("state");
    if (!code || !state) fail("Sign-in failed: the callback carries no code or state.");
    if (typeof flow.state !== "string" || typeof flow.verifier !== "string") {
      fail("Sign-in refused: this tab did not start a sign-in (or it was already used).");
    }
    if (state !== flow.state) fail("Sign-in refused: the state does not match this tab's sign-in.");
    this.setStatus({ state: "signing-in" });
    await this.grant(
      {
        grant_type: "authorization_code",
        client_id: this.config.client_id,
        code: code!,
        code_verifier: flow.verifier as string,
        redirect_uri: this.redirectUri,
      },
      "Sign-in failed",
    );
    const back = typeof flow.returnTo === "string" && flow.returnTo.startsWith("/") ? flow.returnTo : "/";
    return back.startsWith(this.config.redirect_path) ? "/" : back;
  }

  async token(): Promise<string | null> {
    const t = this.tokens;
    if (!t) return null;
    // Timers may run late (a sleeping laptop): refresh now when the token is (nearly) expired.
    if (this.deps.now() >= t.expiresAt - Math.min(5_000, this.marginMs(t) / 2)) return this.refresh();
    return t.access;
  }

  renew(): Promise<string | null> {
    return this.refresh();
  }

  /** One refresh at a time; callers during it share its result. */
  refresh(): Promise<string | null> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<string | null> {
    const refresh = this.tokens?.refresh;
    if (!refresh) {
      this.end("Your session has ended: sign in again.");
      return null;
    }
    this.stats.refreshes += 1;
    try {
      await this.grant(
        { grant_type: "refresh_token", client_id: this.config.client_id, refresh_token: refresh },
        "Refreshing the session failed",
      );
      return this.tokens?.access ?? null;
    } catch (err) {
      this.stats.refreshFailures += 1;
      if (err instanceof AuthError) {
        // The server refused the refresh token (revoked, expired): sign in again.
        this.end("Your session has ended: sign in again.");
        return null;
      }
      // The network: keep the tokens and try again shortly (the API says 401 meanwhile).
      this.schedule(5_000);
      return null;
    }
  }

  /** POST a grant to the token endpoint and keep the tokens. AuthError when refused. */
  private async grant(body: Record<string, string>, what: string): Promise<void> {
    let res: Response;
    try {
      res = await this.deps.fetch(this.config.token_url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(body).toString(),
      });
    } catch (err) {
      if (body.grant_type === "authorization_code") {
        this.setStatus({ state: "signed-out", message: `${what}: the sign-in server is unreachable.` });
        throw new AuthError(String(err));
      }
      throw err;
    }
    let json: TokenResponse;
    try {
      json = (await res.json()) as TokenResponse;
    } catch {
      json = {};
    }
    if (!res.ok || typeof json.access_token !== "string") {
      const why = typeof json.error === "string" ? json.error : `HTTP ${res.status}`;
      const message = `${what} (${why}).`;
      if (body.grant_type === "authorization_code") this.setStatus({ state: "signed-out", message });
      // A refresh the server could not answer (5xx) is retried; one it refused ends the session.
      if (res.status >= 500 && body.grant_type === "refresh_token") throw new Error(message);
      throw new AuthError(message);
    }
    const lifetimeS = typeof json.expires_in === "number" && json.expires_in > 0 ? json.expires_in : 3600;
    this.tokens = {
      access: json.access_token,
      id: typeof json.id_token === "string" ? json.id_token : (this.tokens?.id ?? null),
      // Cognito answers a refresh without a new refresh token (unless rotation is on).
      refresh: typeof json.refresh_token === "string" ? json.refresh_token : (this.tokens?.refresh ?? null),
      expiresAt: this.deps.now() + lifetimeS * 1000,
    };
    this.deps.storage.setItem(TOKENS_KEY, JSON.stringify(this.tokens));
    this.schedule();
    this.setStatus({ state: "signed-in", user: userOf(this.tokens) });
  }

  private marginMs(t: Tokens): number {
    // Lifetime is unknown after a reload: the margin then caps at the default.
    return Math.min(REFRESH_MARGIN_MS, Math.max(1_000, (t.expiresAt - this.deps.now()) / 5));
  }

  /** The next silent refresh: `inMs`, else `margin` before the access token expires. */
  private schedule(inMs?: number): void {
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
    const t = this.tokens;
    if (!t) return;
    const delay = inMs ?? Math.max(0, t.expiresAt - this.deps.now() - this.marginMs(t));
    this.timer = this.deps.setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, delay);
  }

  private clear(): void {
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
    this.tokens = null;
    this.deps.storage.removeItem(TOKENS_KEY);
  }

  private end(message: string): void {
    this.clear();
    this.setStatus({ state: "signed-out", message });
  }

  /** Forget the tokens here, then end the hosted UI's session too (its logout URL). */
  signOut(): void {
    this.clear();
    this.setStatus({ state: "signed-out" });
    const url = new URL(this.config.logout_url);
    // Cognito's /logout needs both; a configured URL that has them already keeps its own.
    if (!url.searchParams.has("client_id")) url.searchParams.set("client_id", this.config.client_id);
    if (!url.searchParams.has("logout_uri") && !url.searchParams.has("redirect_uri")) {
      url.searchParams.set("logout_uri", `${this.deps.origin}/`);
    }
    this.deps.navigate(url.toString());
  }
}
