/** The API bearer token: from `?token=` once (then kept in localStorage), else localStorage. */
const TOKEN_KEY = "sb.token";

export function initToken(loc: Location = window.location): string | null {
  const url = new URL(loc.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    localStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    // Keep the token out of the address bar and history.
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return getToken();
}

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

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The socket URL of the page's origin (ws://host/ws?token=...). */
export function socketUrl(loc: Location = window.location): string {
  const proto = loc.protocol === "https:" ? "wss:" : "ws:";
  const token = getToken() ?? "";
  return `${proto}//${loc.host}/ws?token=${encodeURIComponent(token)}`;
}
