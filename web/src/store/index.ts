/** The Redux store: slices, RTK Query, and preference persistence. */
import {
  combineReducers,
  configureStore,
  createListenerMiddleware,
  isAnyOf,
} from "@reduxjs/toolkit";
import { api } from "./api";
import chain from "./chainSlice";
import market from "./marketSlice";
import prefs, {
  columnToggled,
  loadStoredPrefs,
  PREFS_KEY,
  prefsChanged,
  themeToggled,
} from "./prefsSlice";
import ui from "./uiSlice";

export const rootReducer = combineReducers({
  chain,
  market,
  prefs,
  ui,
  [api.reducerPath]: api.reducer,
});

export type RootState = ReturnType<typeof rootReducer>;

export interface StoreOptions {
  storage?: Storage;
  /** Write preferences back to the API (off in unit tests without a server). */
  syncPrefs?: boolean;
  preloaded?: Partial<RootState>;
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
  return store;
}

export type AppStore = ReturnType<typeof makeStore>;
export type AppDispatch = AppStore["dispatch"];
