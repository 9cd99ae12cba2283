/** Entry point: session, store, live client, React root. */
import { StrictMode, useEffect, useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import { Provider } from "react-redux";
import { App } from "./App";
import {
  authFetch,
  CognitoSession,
  DevSession,
  loadAuthConfig,
  setAuth,
  takeFragmentToken,
  ticketSocketUrl,
  type Auth,
  type AuthConfig,
} from "./auth";
import { SignIn } from "./components/SignIn";
import { chainPath } from "./store/api";
import { decodeView, viewApplied, type View } from "./store/view";
import { makeStore } from "./store";
import { unauthorizedChanged } from "./store/uiSlice";
import { strategyLoaded } from "./store/strategySlice";
import { decodeStrategy } from "./strategy/codec";
import type { MarketResponse, Snapshot } from "./types";
import { LiveClient } from "./ws/client";
import "./styles.css";

const store = makeStore({
  storage: window.localStorage,
  syncPrefs: true,
  url: { location: window.location, history: window.history },
});
document.documentElement.dataset.theme = store.getState().prefs.theme;

async function getJson<T>(path: string): Promise<T> {
  const res = await authFetch(`/api/${path}`);
  if (res.status === 401) store.dispatch(unauthorizedChanged(true));
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const client = new LiveClient({
  // A fresh one-time ticket for every connect and reconnect.
  url: () => ticketSocketUrl(),
  dispatch: store.dispatch,
  convention: () => store.getState().prefs.convention,
  fetchSnapshot: (expiry) => {
    // The whole chain (no strikes=): live deltas may touch any strike of the stream.
    const { prefs, ui } = store.getState();
    return getJson<Snapshot>(chainPath({ expiry, convention: prefs.convention, underlying: ui.underlying }));
  },
  fetchMarket: () => getJson<MarketResponse>("market"),
});

/** The session of the API's mode; in Cognito mode the callback page is handled here. */
async function startSession(): Promise<Auth> {
  let config: AuthConfig;
  try {
    config = await loadAuthConfig();
  } catch {
    config = { mode: "dev" }; // the API is down: the dev prompt and the 401 banner tell
  }
  if (config.mode === "dev") {
    takeFragmentToken();
    return new DevSession();
  }
  const session = new CognitoSession(config, {
    fetch: (input, init) => fetch(input, init),
    storage: window.sessionStorage,
    now: () => Date.now(),
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (h) => window.clearTimeout(h as number),
    navigate: (url) => window.location.assign(url),
    origin: window.location.origin,
  });
  if (window.location.pathname === config.redirect_path) {
    try {
      const next = await session.handleCallback(window.location.search);
      window.history.replaceState(null, "", next);
    } catch {
      // Refused or failed: the code leaves the address bar; the status carries the message,
      // unless this tab already had a session, which a forged callback must not end.
      window.history.replaceState(null, "", "/");
      await session.restore();
    }
  } else {
    await session.restore();
  }
  return session;
}

function Root({ auth, initialView }: { auth: Auth; initialView: Partial<View> }) {
  const status = useSyncExternalStore(
    (l) => auth.subscribe(l),
    () => auth.status(),
  );
  const signedIn = status.state === "signed-in";
  useEffect(() => {
    if (!signedIn) return;
    client.start();
    return () => client.stop();
  }, [signedIn]);
  if (!signedIn) {
    const path = window.location.pathname + window.location.search + window.location.hash;
    return <SignIn status={status} onSignIn={() => void (auth as CognitoSession).signIn(path)} />;
  }
  return <App client={client} initialView={initialView} />;
}

void startSession().then((auth) => {
  setAuth(auth);
  // The view of the address (a reload, a shared link, the page a sign-in returned to), and of
  // every history entry that back and forward reach.
  const initialView = decodeView(window.location.search);
  // A shared strategy (`?strategy=`) opens the builder; the view's address then drops it.
  const shared = decodeStrategy(new URLSearchParams(window.location.search).get("strategy") ?? "");
  if (shared) store.dispatch(strategyLoaded({ name: "", ...shared }));
  store.dispatch(viewApplied(initialView));
  window.addEventListener("popstate", () => store.dispatch(viewApplied(decodeView(window.location.search))));
  // The benchmark and the e2e tests read figures from here.
  (window as unknown as { __strikeboard: unknown }).__strikeboard = { store, client, auth };
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <Provider store={store}>
        <Root auth={auth} initialView={initialView} />
      </Provider>
    </StrictMode>,
  );
});
