/** The Redux store: slices, RTK Query, and preference persistence. */
import {
  combineReducers,
  configureStore,
  createListenerMiddleware,
  isAnyOf,
} from "@reduxjs/toolkit";
import { api } from "./api";
import alerts from "./alertsSlice";
import chain from "./chainSlice";
import market from "./marketSlice";
import prefs, {
  columnToggled,
  loadStoredPrefs,
  PREFS_KEY,
  prefsChanged,
  prefsLoaded,
  themeToggled,
} from "./prefsSlice";
import replay, { startReplayListener, type ReplayClock } from "./replaySlice";
import strategy from "./strategySlice";
import tools from "./toolsSlice";
import ui from "./uiSlice";
import { selectView } from "./selectors";
import { encodeView, navigated, viewApplied } from "./view";

export const rootReducer = combineReducers({
  alerts,
  chain,
  market,
  prefs,
  replay,
  strategy,
  tools,
  ui,
  [api.reducerPath]: api.reducer,
});

export type RootState = ReturnType<typeof rootReducer>;

export interface StoreOptions {
  storage?: Storage;
  /** Write preferences back to the API (off in unit tests without a server). */
  syncPrefs?: boolean;
  preloaded?: Partial<RootState>;
  /** The replay's clock (its "never past the market's now"); the browser's by default. */
  replayClock?: ReplayClock;
  /**
   * Keep the view in this address bar: a navigation (another expiry, minute or convention)
   * adds a history entry, the rest (a panel, a view applied from the address itself, the
   * server's preferences) replaces the current one.
   */
  url?: { location: Pick<Location, "pathname" | "search" | "hash">; history: Pick<History, "pushState" | "replaceState"> };
}

export function makeStore(options: StoreOptions = {}) {
  const storage = options.storage;
  const listener = createListenerMiddleware();
  const store = configureStore({
    reducer: rootReducer,
    preloadedState: { prefs: loadStoredPrefs(storage), ...options.preloaded },
    // The chain holds plain JSON; the checks would walk 200 strikes 4 times a second.
    middleware: (getDefault) =>
      getDefault({ serializableCheck: false, immutableCheck: false })
        .prepend(listener.middleware)
        .concat(api.middleware),
  });
  listener.startListening({
    matcher: isAnyOf(prefsChanged, themeToggled, columnToggled),
    effect: async (_action, lapi) => {
      const current = (lapi.getState() as RootState).prefs;
      try {
        storage?.setItem(PREFS_KEY, JSON.stringify(current));
      } catch {
        // Storage full or disabled: the API copy still persists it.
      }
      if (options.syncPrefs) {
        // Debounce: a burst of changes (typing a strike count) sends one PUT.
        lapi.cancelActiveListeners();
        await lapi.delay(400);
        const latest = (lapi.getState() as RootState).prefs;
        await lapi.dispatch(api.endpoints.savePreferences.initiate(latest));
      }
    },
  });
  startReplayListener(listener, options.replayClock);
  const url = options.url;
  if (url) {
    listener.startListening({
      predicate: (_action, current, previous) =>
        selectView(current as RootState) !== selectView(previous as RootState),
      effect: (action, lapi) => {
        const view = selectView(lapi.getState() as RootState);
        const search = encodeView(view);
        if (search === url.location.search) return;
        const href = url.location.pathname + search + url.location.hash;
        const before = selectView(lapi.getOriginalState() as RootState);
        // No entry for the first expiry of a page (picked, not navigated to).
        const replace = viewApplied.match(action) || prefsLoaded.match(action) || before.expiry === null || !navigated(before, view);
        if (replace) url.history.replaceState(null, "", href);
        else url.history.pushState(null, "", href);
      },
    });
  }
  return store;
}

export type AppStore = ReturnType<typeof makeStore>;
export type AppDispatch = AppStore["dispatch"];
