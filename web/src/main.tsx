/** Entry point: store, live client, React root. */
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Provider } from "react-redux";
import { App } from "./App";
import { authHeaders, initToken, socketUrl } from "./auth";
import { chainPath } from "./store/api";
import { makeStore } from "./store";
import { unauthorizedChanged } from "./store/uiSlice";
import type { MarketResponse, Snapshot } from "./types";
import { LiveClient } from "./ws/client";
import "./styles.css";

initToken();
const store = makeStore({ storage: window.localStorage, syncPrefs: true });
document.documentElement.dataset.theme = store.getState().prefs.theme;

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`/api/${path}`, { headers: authHeaders() });
  if (res.status === 401) store.dispatch(unauthorizedChanged(true));
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const client = new LiveClient({
  url: () => socketUrl(),
  dispatch: store.dispatch,
  convention: () => store.getState().prefs.convention,
  fetchSnapshot: (expiry) => {
    // The whole chain (no strikes=): live deltas may touch any strike of the stream.
    const { convention } = store.getState().prefs;
    return getJson<Snapshot>(chainPath({ expiry, convention }));
  },
  fetchMarket: () => getJson<MarketResponse>("market"),
});
client.start();

// The benchmark and the e2e test read figures from here.
(window as unknown as { __strikeboard: unknown }).__strikeboard = { store, client };

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Provider store={store}>
      <App client={client} />
    </Provider>
  </StrictMode>,
);
