import { describe, expect, it } from "vitest";
import { makeStore } from ".";
import { columnToggled, DEFAULT_PREFS, PREFS_KEY, prefsChanged, prefsLoaded, sanitizePrefs, themeToggled } from "./prefsSlice";

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

describe("preferences", () => {
  it("drops unknown values from storage or the network", () => {
    expect(sanitizePrefs({ theme: "pink", strikes: 1e9, columns: ["ltp", "bogus"], convention: "nse" })).toEqual({
      strikes: 100,
      columns: ["ltp"],
      convention: "nse",
    });
    expect(sanitizePrefs("nope")).toEqual({});
    expect(sanitizePrefs({ flash: "no" })).toEqual({});
    expect(sanitizePrefs({ flash: false })).toEqual({ flash: false });
  });

  it("persists changes to localStorage and restores them", async () => {
    const storage = memoryStorage();
    const store = makeStore({ storage });
    store.dispatch(themeToggled());
    store.dispatch(columnToggled("delta"));
    store.dispatch(prefsChanged({ flash: false }));
    await Promise.resolve();
    const saved = JSON.parse(storage.getItem(PREFS_KEY)!);
    expect(saved.theme).toBe("light");
    expect(saved.columns).toContain("delta");
    expect(makeStore({ storage }).getState().prefs.theme).toBe("light");
    expect(makeStore({ storage }).getState().prefs.flash).toBe(false);
  });

  it("keeps columns in the canonical order and never empties them", () => {
    const store = makeStore();
    store.dispatch(prefsChanged({ columns: ["ltp"] }));
    store.dispatch(columnToggled("ltp"));
    expect(store.getState().prefs.columns).toEqual(["ltp"]);
    store.dispatch(columnToggled("oi"));
    expect(store.getState().prefs.columns).toEqual(["oi", "ltp"]);
  });

  it("applies server preferences", () => {
    const store = makeStore();
    store.dispatch(prefsLoaded({ ...DEFAULT_PREFS, strikes: 7, default_expiry: "2026-12-01" }));
    expect(store.getState().prefs.strikes).toBe(7);
    expect(store.getState().prefs.default_expiry).toBe("2026-12-01");
  });
});
