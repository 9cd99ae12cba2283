import { describe, expect, it } from "vitest";
import { makeStore } from ".";
import { snapshot } from "../test/fixtures";
import { applyDelta } from "./merge";
import { deltaReceived, expirySelected, snapshotReceived } from "./chainSlice";
import { selectRow } from "./selectors";
import { timeTravel } from "./uiSlice";
import { viewApplied } from "./view";

function loaded() {
  const store = makeStore();
  store.dispatch(expirySelected("2026-12-01"));
  store.dispatch(snapshotReceived({ snapshot: snapshot(10), source: "ws" }));
  return store;
}

describe("chain reducer", () => {
  it("loads a snapshot into rows keyed and sorted by strike", () => {
    const store = loaded();
    const s = store.getState().chain;
    expect(s.rows.ids).toEqual(["25900", "25950", "26000", "26050", "26100"]);
    expect(s.seq).toBe(10);
    expect(s.meta?.spot).toBe(26010.5);
    expect(selectRow(store.getState(), "26000")?.CE?.ltp).toBe(100);
  });

  it("applies a delta in one action, replacing only the touched rows", () => {
    const store = loaded();
    const before = store.getState().chain.rows.entities;
    store.dispatch(
      deltaReceived({
        type: "delta",
        expiry: "2026-12-01",
        seq: 11,
        base: 10,
        set: { spot: 26020, strikes: { "26000": { CE: { ltp: 101.5 } } } },
      }),
    );
    const after = store.getState().chain.rows.entities;
    expect(after["26000"]).not.toBe(before["26000"]);
    expect(after["26050"]).toBe(before["26050"]); // untouched row: same reference
    expect(after["26000"]?.CE?.ltp).toBe(101.5);
    expect(after["26000"]?.CE?.oi).toBe(1000); // merged, not replaced
    expect(store.getState().chain.meta?.spot).toBe(26020);
    expect(store.getState().chain.seq).toBe(11);
  });

  it("removes strikes and fields named by unset, adds new strikes", () => {
    const store = loaded();
    store.dispatch(
      deltaReceived({
        type: "delta",
        expiry: "2026-12-01",
        seq: 11,
        base: 10,
        set: { strikes: { "26150": { strike: 26150, CE: { ltp: 5, oi: 10 } } } },
        unset: [["strikes", "25900"], ["strikes", "26000", "PE"], ["aggregates", "max_pain"]],
      }),
    );
    const s = store.getState().chain;
    expect(s.rows.ids).toEqual(["25950", "26000", "26050", "26100", "26150"]);
    expect(s.rows.entities["26000"]?.PE).toBeUndefined();
    expect(s.meta?.aggregates?.max_pain).toBeUndefined();
  });

  it("ignores deltas of another expiry", () => {
    const store = loaded();
    const before = store.getState().chain;
    store.dispatch(
      deltaReceived({ type: "delta", expiry: "2026-12-08", seq: 11, base: 10, set: { spot: 1 } }),
    );
    expect(store.getState().chain).toBe(before);
  });

  it("keeps NSE-style Greeks from REST when live deltas carry forward ones", () => {
    const store = makeStore();
    store.dispatch(expirySelected("2026-12-01"));
    store.dispatch(snapshotReceived({ snapshot: snapshot(10), source: "rest", convention: "nse" }));
    store.dispatch(
      deltaReceived({
        type: "delta",
        expiry: "2026-12-01",
        seq: 11,
        base: 10,
        set: {
          aggregates: { atm_iv: 0.5, pcr_oi: 1.1 },
          strikes: { "26000": { CE: { ltp: 99, iv: 0.5 }, PE: { iv: null, iv_reason: "intrinsic" } } },
        },
      }),
    );
    const s = store.getState().chain;
    expect(s.rows.entities["26000"]?.CE?.ltp).toBe(99);
    expect(s.rows.entities["26000"]?.CE?.iv).toBe(0.12);
    // The forward IV's reason does not land beside the NSE IV it does not explain.
    expect(s.rows.entities["26000"]?.PE?.iv).toBe(0.12);
    expect(s.rows.entities["26000"]?.PE?.iv_reason).toBeUndefined();
    expect(s.meta?.aggregates?.atm_iv).toBe(0.12);
    expect(s.meta?.aggregates?.pcr_oi).toBe(1.1);
  });

  it("clears the chain when another expiry is selected", () => {
    const store = loaded();
    store.dispatch(expirySelected("2026-12-08"));
    expect(store.getState().chain.rows.ids).toEqual([]);
    expect(store.getState().chain.seq).toBeNull();
  });
});

describe("applyDelta (the rules of strikeboard/store/snapshot.py)", () => {
  it("unsets before merging and replaces non-objects", () => {
    const doc = { a: { b: 1, c: 2 }, d: [1, 2], e: { f: 1 } };
    const out = applyDelta(doc, { a: { b: 3 }, d: [3], e: 5 }, [["a", "c"], ["missing", "x"]]);
    expect(out).toEqual({ a: { b: 3 }, d: [3], e: 5 });
    expect(doc.a.c).toBe(2); // input untouched
  });
});

describe("the chain of one time only", () => {
  const AT = "2026-11-20T10:00:00+05:30";

  it("empties when the view goes to a past minute, and drops live data meanwhile", () => {
    const store = loaded();
    store.dispatch(timeTravel(AT));
    expect(store.getState().chain.rows.ids).toEqual([]);
    expect(store.getState().chain.meta).toBeNull();
    expect(store.getState().chain.expiry).toBe("2026-12-01");
    // A resync answered late, a delta in flight: not this minute's.
    store.dispatch(snapshotReceived({ snapshot: snapshot(11), source: "rest" }));
    store.dispatch(deltaReceived({ type: "delta", expiry: "2026-12-01", seq: 12, base: 11, set: { spot: 1 } }));
    expect(store.getState().chain.rows.ids).toEqual([]);
    store.dispatch(snapshotReceived({ snapshot: snapshot(5), source: "history" }));
    expect(store.getState().chain.rows.ids).toHaveLength(5);
    store.dispatch(deltaReceived({ type: "delta", expiry: "2026-12-01", seq: 6, base: 5, set: { spot: 1 } }));
    expect(store.getState().chain.meta?.spot).toBe(26010.5);
  });

  it("empties again on another minute or back to live, and drops the past minute's answer", () => {
    const store = loaded();
    store.dispatch(viewApplied({ at: AT }));
    store.dispatch(snapshotReceived({ snapshot: snapshot(5), source: "history" }));
    store.dispatch(viewApplied({ at: "2026-11-20T11:00:00+05:30" }));
    expect(store.getState().chain.rows.ids).toEqual([]);
    store.dispatch(snapshotReceived({ snapshot: snapshot(5), source: "history" }));
    store.dispatch(timeTravel(null));
    expect(store.getState().chain.rows.ids).toEqual([]);
    store.dispatch(snapshotReceived({ snapshot: snapshot(6), source: "history" }));
    expect(store.getState().chain.rows.ids).toEqual([]);
    store.dispatch(snapshotReceived({ snapshot: snapshot(20), source: "ws" }));
    expect(store.getState().chain.seq).toBe(20);
    // The same minute again changes nothing.
    store.dispatch(viewApplied({ at: null }));
    expect(store.getState().chain.seq).toBe(20);
  });
});

