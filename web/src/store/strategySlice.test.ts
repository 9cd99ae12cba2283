import { describe, expect, it } from "vitest";
import { makeStore } from ".";
import { prefsLoaded, sanitizePrefs } from "./prefsSlice";
import {
  controlsChanged,
  legChanged,
  legPicked,
  legRemoved,
  MAX_LEGS,
  strategyLoaded,
} from "./strategySlice";
import { decodeStrategy, encodeStrategy, MAX_SAVED, sanitizeStrategies, withSaved } from "../strategy/codec";
import type { StrategyLeg } from "../strategy/types";

const pick = (strike: number, option_type: "CE" | "PE", side: "buy" | "sell" = "buy", underlying = "NIFTY") =>
  legPicked({ underlying, expiry: "2026-12-01", strike, option_type, side });

describe("strategy builder state", () => {
  it("adds a leg per contract and side at the mid, one more lot when picked again", () => {
    const store = makeStore();
    store.dispatch(pick(24000, "CE"));
    store.dispatch(pick(24000, "PE"));
    store.dispatch(pick(24000, "CE"));
    store.dispatch(pick(24000, "CE", "sell"));
    const s = store.getState().strategy;
    expect(s.open).toBe(true);
    expect(s.legs.map((l) => [l.strike, l.option_type, l.side, l.lots, l.entry])).toEqual([
      [24000, "CE", "buy", 2, "mid"],
      [24000, "PE", "buy", 1, "mid"],
      [24000, "CE", "sell", 1, "mid"],
    ]);
  });

  it("bounds legs, lots and controls as the API does", () => {
    const store = makeStore();
    for (let k = 0; k < MAX_LEGS + 3; k += 1) store.dispatch(pick(20000 + 50 * k, "CE"));
    expect(store.getState().strategy.legs).toHaveLength(MAX_LEGS);
    store.dispatch(legChanged({ index: 0, patch: { lots: 0 } }));
    expect(store.getState().strategy.legs[0]!.lots).toBe(1);
    store.dispatch(legChanged({ index: 0, patch: { lots: 1e9 } }));
    expect(store.getState().strategy.legs[0]!.lots).toBe(10_000);
    store.dispatch(legChanged({ index: 0, patch: { entry: "typed", price: -3 } }));
    expect(store.getState().strategy.legs[0]!.price).toBeNull();
    store.dispatch(legRemoved(0));
    expect(store.getState().strategy.legs).toHaveLength(MAX_LEGS - 1);
    store.dispatch(controlsChanged({ rangePct: 900, ivShift: -80 }));
    expect(store.getState().strategy.controls).toMatchObject({ rangePct: 50, ivShift: -50 });
  });

  it("another underlying starts a new strategy", () => {
    const store = makeStore();
    store.dispatch(pick(24000, "CE"));
    store.dispatch(pick(51000, "PE", "sell", "BANKNIFTY"));
    const s = store.getState().strategy;
    expect(s.underlying).toBe("BANKNIFTY");
    expect(s.legs).toHaveLength(1);
  });
});

const LEGS: StrategyLeg[] = [
  { expiry: "2026-12-01", strike: 27550, option_type: "CE", side: "buy", lots: 1, entry: "mid", price: null },
  { expiry: "2026-12-08", strike: 27550.5, option_type: "PE", side: "sell", lots: 12, entry: "typed", price: 201.35 },
  { expiry: "2026-12-29", strike: 28000, option_type: "CE", side: "sell", lots: 3, entry: "ask", price: null },
];

describe("share links", () => {
  it("round-trip the legs in a short URL-safe text", () => {
    const text = encodeStrategy("NIFTY", LEGS);
    expect(text).toBe("NIFTY_261201C27550b1m_261208P27550.5s12t201.35_261229C28000s3a");
    expect(encodeURIComponent(text)).toBe(text);
    expect(decodeStrategy(text)).toEqual({ underlying: "NIFTY", legs: LEGS });
  });

  it("refuse anything malformed as a whole", () => {
    for (const bad of ["", "NIFTY", "nifty_261201C27550b1m", "NIFTY_261301C27550b1m", "NIFTY_261201X27550b1m",
      "NIFTY_261201C27550b0m", "NIFTY_261201C27550b1t0", "NIFTY_261201C27550b1m_junk", `NIFTY${"_261201C1b1m".repeat(21)}`]) {
      expect(decodeStrategy(bad)).toBeNull();
    }
  });

  it("open the builder with the shared legs", () => {
    const store = makeStore();
    const shared = decodeStrategy(encodeStrategy("NIFTY", LEGS))!;
    store.dispatch(strategyLoaded({ name: "", ...shared }));
    expect(store.getState().strategy).toMatchObject({ open: true, underlying: "NIFTY", legs: LEGS });
  });
});

describe("saved strategies (preferences)", () => {
  it("keep what the API accepts: names unique, legs well formed, at most ten", () => {
    const good = { name: "straddle", underlying: "NIFTY", legs: LEGS };
    const raw = [
      good,
      { ...good }, // the same name again
      { name: "", underlying: "NIFTY", legs: LEGS },
      { name: "bad leg", underlying: "NIFTY", legs: [{ ...LEGS[0], option_type: "XX" }] },
      { name: "typed without a price", underlying: "NIFTY", legs: [{ ...LEGS[0], entry: "typed", price: null }] },
      ...Array.from({ length: 12 }, (_, i) => ({ ...good, name: `s${i}` })),
    ];
    const kept = sanitizeStrategies(raw);
    expect(kept).toHaveLength(MAX_SAVED);
    expect(kept[0]).toEqual(good);
    expect(kept.map((s) => s.name)).not.toContain("bad leg");
    expect(sanitizePrefs({ strategies: [good] }).strategies).toEqual([good]);
  });

  it("saving under a name replaces that one and puts it first", () => {
    const a = { name: "a", underlying: "NIFTY", legs: LEGS };
    const b = { name: "b", underlying: "NIFTY", legs: LEGS.slice(0, 1) };
    expect(withSaved([a, b], { ...b, legs: LEGS }).map((s) => [s.name, s.legs.length])).toEqual([["b", 3], ["a", 3]]);
  });

  it("arrive with the server's preferences", () => {
    const store = makeStore();
    store.dispatch(prefsLoaded({ theme: "light", strategies: [{ name: "x", underlying: "NIFTY", legs: LEGS }] }));
    expect(store.getState().prefs.strategies.map((s) => s.name)).toEqual(["x"]);
  });
});
