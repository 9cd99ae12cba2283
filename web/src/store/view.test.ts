import { describe, expect, it } from "vitest";
import { makeStore } from ".";
import { expirySelected } from "./chainSlice";
import { prefsChanged, prefsLoaded } from "./prefsSlice";
import { selectView } from "./selectors";
import { panelToggled, timeTravel } from "./uiSlice";
import { atFromParam, atParam, decodeView, encodeView, viewApplied, type View } from "./view";

const VIEW: View = {
  underlying: "NIFTY",
  expiry: "2026-12-01",
  at: "2026-11-30T10:15:00+05:30",
  convention: "nse",
  panel: "settings",
};

describe("the view in the address", () => {
  it("round-trips every field", () => {
    const search = encodeView(VIEW);
    expect(search).toBe("?underlying=NIFTY&expiry=2026-12-01&at=2026-11-30T10:15&convention=nse&panel=settings");
    expect(decodeView(search)).toEqual(VIEW);
    const live: View = { ...VIEW, at: null, panel: null, convention: "forward", underlying: "M&M" };
    expect(decodeView(encodeView(live))).toEqual(live);
    expect(encodeView(live)).toBe("?underlying=M%26M&expiry=2026-12-01&convention=forward");
  });

  it("writes the minute on the market's clock whatever offset it was given in", () => {
    expect(atParam("2026-11-30T04:45:00Z")).toBe("2026-11-30T10:15");
    expect(atParam("2026-11-30T20:00:00Z")).toBe("2026-12-01T01:30");
    expect(atParam("not a time")).toBeNull();
    expect(atFromParam("2026-12-01T01:30")).toBe("2026-12-01T01:30:00+05:30");
  });

  it("ignores malformed values, and reads no `at` as live and no `panel` as none", () => {
    expect(
      decodeView("?underlying=nifty&expiry=2026-02-30&at=2026-11-30T25:00&convention=bs&panel=admin"),
    ).toEqual({ at: null, panel: null });
    expect(decodeView("")).toEqual({ at: null, panel: null });
    expect(decodeView("?at=2026-11-30T10:15:00")).toEqual({ at: null, panel: null });
    expect(decodeView("?panel=help&expiry=2026-12-01")).toEqual({ at: null, panel: "help", expiry: "2026-12-01" });
  });
});

/** A browser's address bar and session history, enough for the store's writer and popstate. */
function browser(initial: string) {
  const entries = [initial];
  let index = 0;
  const location = {
    pathname: "/",
    hash: "",
    get search() {
      return entries[index]!;
    },
  };
  const searchOf = (href: string | URL | null | undefined) => new URL(String(href), "http://localhost").search;
  const history = {
    pushState(_data: unknown, _unused: string, href?: string | URL | null) {
      entries.splice(index + 1);
      entries.push(searchOf(href));
      index += 1;
    },
    replaceState(_data: unknown, _unused: string, href?: string | URL | null) {
      entries[index] = searchOf(href);
    },
  };
  const store = makeStore({ url: { location, history } });
  store.dispatch(viewApplied(decodeView(location.search)));
  const go = (delta: number) => {
    index += delta;
    store.dispatch(viewApplied(decodeView(location.search))); // what popstate does (main.tsx)
  };
  return { store, entries, location, go, index: () => index };
}

describe("the store keeps the view in the address", () => {
  it("restores a shared link's view, then adds an entry per navigation; back and forward work", () => {
    const b = browser("?underlying=NIFTY&expiry=2026-12-08&at=2026-11-30T10:15&convention=nse&panel=help");
    expect(selectView(b.store.getState())).toEqual({
      underlying: "NIFTY",
      expiry: "2026-12-08",
      at: "2026-11-30T10:15:00+05:30",
      convention: "nse",
      panel: "help",
    });
    expect(b.entries).toHaveLength(1);

    b.store.dispatch(panelToggled(null)); // a panel: the same entry
    expect(b.entries).toEqual(["?underlying=NIFTY&expiry=2026-12-08&at=2026-11-30T10:15&convention=nse"]);
    b.store.dispatch(timeTravel(null)); // back to live: a new entry
    b.store.dispatch(expirySelected("2026-12-15"));
    b.store.dispatch(prefsChanged({ convention: "forward" }));
    expect(b.entries).toEqual([
      "?underlying=NIFTY&expiry=2026-12-08&at=2026-11-30T10:15&convention=nse",
      "?underlying=NIFTY&expiry=2026-12-08&convention=nse",
      "?underlying=NIFTY&expiry=2026-12-15&convention=nse",
      "?underlying=NIFTY&expiry=2026-12-15&convention=forward",
    ]);

    b.go(-3);
    expect(selectView(b.store.getState())).toMatchObject({ expiry: "2026-12-08", at: "2026-11-30T10:15:00+05:30", convention: "nse" });
    b.go(2);
    expect(selectView(b.store.getState())).toMatchObject({ expiry: "2026-12-15", at: null, convention: "nse" });
    expect(b.entries).toHaveLength(4); // going back and forth wrote nothing
    b.store.dispatch(expirySelected("2026-12-22")); // a navigation drops the entries ahead
    expect(b.entries.at(-1)).toBe("?underlying=NIFTY&expiry=2026-12-22&convention=nse");
    expect(b.entries).toHaveLength(4);
  });

  it("fills a bare address in place: the picked expiry and the server's convention add no entry", () => {
    const b = browser("");
    b.store.dispatch(viewApplied({ expiry: "2026-12-01" }));
    b.store.dispatch(prefsLoaded({ convention: "nse" }));
    expect(b.entries).toEqual(["?underlying=NIFTY&expiry=2026-12-01&convention=nse"]);
  });
});
