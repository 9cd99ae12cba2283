/**
 * The local session of `strikeboard dev`: one bearer token, which the printed link carries as a
 * URL fragment (`/#token=...`). A fragment never leaves the browser (no request line, no access
 * log); it is moved to localStorage and out of the address bar. Kept across restarts because
 * `strikeboard dev` keeps the same token (.local/dev/dev-token). Without one, the 401 banner asks
 * for it to be pasted.
 */
import type { Auth, AuthStatus } from "./session";

const TOKEN_KEY = "sb.token";
// One object: useSyncExternalStore compares snapshots by identity (a new one each call loops).
const SIGNED_IN: AuthStatus = { state: "signed-in", user: "dev" };

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

/** Take `#token=` from the address (kept in localStorage, removed from the bar and history). */
export function takeFragmentToken(loc: Location = window.location, history: History = window.history): string | null {
  const params = new URLSearchParams(loc.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token) {
    setToken(token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(history.state, "", loc.pathname + loc.search + (rest ? `#${rest}` : ""));
  }
  return getToken();
}

export class DevSession implements Auth {
  readonly mode = "dev" as const;

  token(): Promise<string | null> {
    return Promise.resolve(getToken());
  }

  /** Nothing to renew: a refused dev token stays refused until another is pasted. */
  renew(): Promise<string | null> {
    return Promise.resolve(null);
  }

  status(): AuthStatus {
    return SIGNED_IN;
  }

  subscribe(): () => void {
    return () => undefined;
  }

  signOut(): void {
    localStorage.removeItem(TOKEN_KEY);
  }
}
