/**
 * The page's session and the calls that carry it: REST with `Authorization: Bearer`, the
 * WebSocket with a one-time ticket from `POST /api/ws/ticket`. No token ever goes in a URL.
 */
import { DevSession } from "./dev";
import type { Auth, AuthConfig } from "./session";

export { getToken, setToken, takeFragmentToken, DevSession } from "./dev";
export { CognitoSession, AuthError, jwtClaims } from "./session";
export type { Auth, AuthConfig, AuthStatus, CognitoConfig, SessionDeps, Tokens } from "./session";

// A dev session until main.tsx sets the real one (unit tests run on this default).
let current: Auth = new DevSession();

export function setAuth(auth: Auth): void {
  current = auth;
}

export function getAuth(): Auth {
  return current;
}

/** The API's sign-in mode; an API without the route (older) is the dev mode. */
export async function loadAuthConfig(fetchFn: typeof fetch = fetch): Promise<AuthConfig> {
  const res = await fetchFn(`${globalThis.location?.origin ?? ""}/api/auth/config`);
  if (res.status === 404) return { mode: "dev" };
  if (!res.ok) throw new Error(`/api/auth/config: HTTP ${res.status}`);
  const cfg = (await res.json()) as AuthConfig;
  if (cfg.mode !== "cognito" && cfg.mode !== "dev") throw new Error(`unknown sign-in mode ${String((cfg as { mode: unknown }).mode)}`);
  return cfg;
}

/**
 * fetch with the session's bearer token; a 401 renews the token and retries once. `onRefused`
 * hears of a 401 that stands (the token prompt in dev mode).
 */
export async function authFetch(
  input: string,
  init: RequestInit = {},
  { auth = current, fetchFn = fetch }: { auth?: Auth; fetchFn?: typeof fetch } = {},
): Promise<Response> {
  const send = (token: string | null) => {
    const headers = new Headers(init.headers);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return fetchFn(input, { ...init, headers });
  };
  const res = await send(await auth.token());
  if (res.status !== 401) return res;
  const renewed = await auth.renew();
  return renewed ? send(renewed) : res;
}

/**
 * The socket URL for one connection attempt: a fresh one-time ticket each time (a ticket is
 * spent by the connect it was fetched for, whether that succeeds or not).
 */
export async function ticketSocketUrl(
  loc: Pick<Location, "protocol" | "host" | "origin"> = window.location,
  opts: { auth?: Auth; fetchFn?: typeof fetch } = {},
): Promise<string> {
  const res = await authFetch(`${loc.origin}/api/ws/ticket`, { method: "POST" }, opts);
  if (!res.ok) throw new Error(`/api/ws/ticket: HTTP ${res.status}`);
  const { ticket } = (await res.json()) as { ticket?: unknown };
  if (typeof ticket !== "string" || !ticket) throw new Error("/api/ws/ticket: no ticket in the answer");
  const proto = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${loc.host}/ws?ticket=${encodeURIComponent(ticket)}`;
}

/** Ask the API for Kite's login URL (admins only); the caller navigates there. */
export async function kiteLoginUrl(opts: { auth?: Auth; fetchFn?: typeof fetch } = {}): Promise<string> {
  const res = await authFetch(`${globalThis.location?.origin ?? ""}/api/auth/kite/login`, { method: "POST" }, opts);
  if (res.status === 403) throw new Error("Only members of the admin group can log in to Kite.");
  if (!res.ok) throw new Error(`Kite login failed: HTTP ${res.status}.`);
  const { url } = (await res.json()) as { url?: unknown };
  if (typeof url !== "string" || !/^https?:\/\//.test(url)) throw new Error("Kite login failed: no login URL in the answer.");
  return url;
}
