import { describe, expect, it } from "vitest";
import { makeStore } from ".";
import { snapshot } from "../test/fixtures";
import { expirySelected, snapshotReceived, deltaReceived } from "./chainSlice";
import { marketOpenChanged } from "./marketSlice";
import { prefsChanged } from "./prefsSlice";
import { atmIndex, badgeFor, niceCeil, selectOiScale, selectVisibleIds } from "./selectors";
import { connectionChanged, timeTravel } from "./uiSlice";

const strikes = Array.from({ length: 41 }, (_, i) => 25000 + i * 50);

function loaded() {
  const store = makeStore();
  store.dispatch(expirySelected("2026-12-01"));
  store.dispatch(snapshotReceived({ snapshot: snapshot(1, strikes), source: "ws" }));
  return store;
}

describe("selectors", () => {
  it("shows n strikes either side of the ATM", () => {
    const store = loaded();
    store.dispatch(prefsChanged({ strikes: 3 }));
    expect(selectVisibleIds(store.getState())).toEqual(["25850", "25900", "25950", "26000", "26050", "26100", "26150"]);
  });

  it("keeps the visible ids array stable across value-only deltas", () => {
    const store = loaded();
    const first = selectVisibleIds(store.getState());
    store.dispatch(
      deltaReceived({ type: "delta", expiry: "2026-12-01", seq: 2, base: 1, set: { strikes: { "26000": { CE: { ltp: 1 } } } } }),
    );
    expect(selectVisibleIds(store.getState())).toBe(first);
  });

  it("finds the nearest strike to the ATM", () => {
    expect(atmIndex(["100", "150", "200"], 160)).toBe(1);
    expect(atmIndex([], 160)).toBe(-1);
  });

  it("rounds the OI scale up to 1-2-5 steps", () => {
    expect(niceCeil(1234)).toBe(2000);
    expect(niceCeil(5000)).toBe(5000);
    expect(niceCeil(0)).toBe(1);
    const store = loaded();
    expect(selectOiScale(store.getState()).oi).toBe(2000);
  });

  it("derives the badge from connection, market hours, staleness and time travel", () => {
    const store = loaded();
    const now = store.getState().chain.receivedAt!;
    store.dispatch(connectionChanged("live"));
    expect(badgeFor(store.getState(), now + 1000)).toBe("live");
    expect(badgeFor(store.getState(), now + 60_000)).toBe("stale");
    store.dispatch(connectionChanged("polling"));
    expect(badgeFor(store.getState(), now)).toBe("polling");
    store.dispatch(marketOpenChanged(false));
    expect(badgeFor(store.getState(), now)).toBe("closed");
    store.dispatch(connectionChanged("live"));
    expect(badgeFor(store.getState(), now)).toBe("live"); // still streaming: live
    expect(badgeFor(store.getState(), now + 60_000)).toBe("closed");
    store.dispatch(timeTravel("2026-11-24T10:30:00+05:30"));
    expect(badgeFor(store.getState(), now)).toBe("history");
  });
});
