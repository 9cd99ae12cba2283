/** User preferences; persisted to localStorage and the API by the listener in store/index.ts. */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { COLUMN_KEYS, type ColumnKey, type Preferences } from "../types";
import { sanitizeStrategies } from "../strategy/codec";
import { viewApplied } from "./view";

export const DEFAULT_PREFS: Preferences = {
  columns: ["oi", "oi_change", "volume", "iv", "change", "ltp"],
  strikes: 20,
  theme: "dark",
  default_expiry: null,
  convention: "forward",
  iv_leg: "otm",
  strategies: [],
  flash: true,
};

export const PREFS_KEY = "sb.preferences";

/** Keep only known values: preferences come from storage and the network. */
export function sanitizePrefs(raw: unknown): Partial<Preferences> {
  if (typeof raw !== "object" || raw === null) return {};
  const r = raw as Record<string, unknown>;
  const out: Partial<Preferences> = {};
  if (Array.isArray(r.columns)) {
    const cols = r.columns.filter((c): c is ColumnKey =>
      (COLUMN_KEYS as readonly unknown[]).includes(c),
    );
    if (cols.length) out.columns = cols;
  }
  if (typeof r.strikes === "number" && Number.isFinite(r.strikes)) {
    out.strikes = Math.min(100, Math.max(1, Math.round(r.strikes)));
  }
  if (r.theme === "dark" || r.theme === "light") out.theme = r.theme;
  if (r.default_expiry === null || typeof r.default_expiry === "string") {
    out.default_expiry = r.default_expiry;
  }
  if (r.convention === "forward" || r.convention === "nse") out.convention = r.convention;
  if (r.iv_leg === "otm" || r.iv_leg === "call" || r.iv_leg === "put") out.iv_leg = r.iv_leg;
  if (Array.isArray(r.strategies)) out.strategies = sanitizeStrategies(r.strategies);
  if (typeof r.flash === "boolean") out.flash = r.flash;
  return out;
}

export function loadStoredPrefs(storage: Storage | undefined): Preferences {
  try {
    const text = storage?.getItem(PREFS_KEY);
    return { ...DEFAULT_PREFS, ...sanitizePrefs(text ? JSON.parse(text) : null) };
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

const prefsSlice = createSlice({
  name: "prefs",
  initialState: DEFAULT_PREFS,
  reducers: {
    /** Preferences read from the API: applied without being written back. */
    prefsLoaded(state, action: PayloadAction<unknown>) {
      Object.assign(state, sanitizePrefs(action.payload));
    },
    prefsChanged(state, action: PayloadAction<Partial<Preferences>>) {
      Object.assign(state, sanitizePrefs({ ...state, ...action.payload }));
    },
    themeToggled(state) {
      state.theme = state.theme === "dark" ? "light" : "dark";
    },
    columnToggled(state, action: PayloadAction<ColumnKey>) {
      const has = state.columns.includes(action.payload);
      const next = has
        ? state.columns.filter((c) => c !== action.payload)
        : COLUMN_KEYS.filter((c) => c === action.payload || state.columns.includes(c));
      if (next.length) state.columns = next;
    },
  },
  extraReducers: (b) => {
    // The address's convention is the view's, not a new preference: it is not written back.
    b.addCase(viewApplied, (state, { payload }) => {
      if (payload.convention !== undefined) state.convention = payload.convention;
    });
  },
});

export const { prefsLoaded, prefsChanged, themeToggled, columnToggled } = prefsSlice.actions;
export default prefsSlice.reducer;
