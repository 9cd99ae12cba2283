import { describe, expect, it } from "vitest";
import reducer, { legsChosen, MAX_WATCHED, strikeDrilled, toolOpened, watchToggled, type ToolsState } from "./toolsSlice";
import { underlyingSelected } from "./uiSlice";
import { viewApplied } from "./view";

const start = (): ToolsState => reducer(undefined, { type: "init" });

describe("toolsSlice", () => {
  it("opens one tool at a time and a drilled strike opens the strike tool", () => {
    let s = reducer(start(), toolOpened("surface"));
    expect(s.open).toBe("surface");
    s = reducer(s, strikeDrilled(24_500));
    expect(s).toMatchObject({ open: "strike", strike: 24_500 });
    s = reducer(s, toolOpened(null));
    expect(s.open).toBeNull();
    expect(s.strike).toBe(24_500); // reopening shows it again
  });

  it("watches strikes in strike order, a second pick stops watching", () => {
    let s = start();
    for (const k of [24_600, 24_400, 24_500]) s = reducer(s, watchToggled(k));
    expect(s.watched).toEqual([24_400, 24_500, 24_600]);
    s = reducer(s, watchToggled(24_500));
    expect(s.watched).toEqual([24_400, 24_600]);
    s = reducer(s, legsChosen("PE"));
    expect(s.legs).toBe("PE");
  });

  it("keeps at most MAX_WATCHED: a new pick replaces the farthest strike from it", () => {
    let s = start();
    const ks = Array.from({ length: MAX_WATCHED }, (_, i) => 24_000 + 100 * i);
    for (const k of ks) s = reducer(s, watchToggled(k));
    s = reducer(s, watchToggled(24_050));
    expect(s.watched).toHaveLength(MAX_WATCHED);
    expect(s.watched).toContain(24_050);
    expect(s.watched).not.toContain(ks[ks.length - 1]); // 24 700, the farthest from 24 050
  });

  it("forgets the picks when the underlying changes, not when the view keeps it", () => {
    let s = reducer(reducer(start(), strikeDrilled(24_500)), watchToggled(24_500));
    s = reducer(s, viewApplied({ underlying: "NIFTY", expiry: "2026-12-01" }));
    expect(s).toMatchObject({ strike: 24_500, watched: [24_500], open: "strike" });
    s = reducer(s, underlyingSelected("SENSEX"));
    expect(s).toMatchObject({ strike: null, watched: [], open: null, underlying: "SENSEX" });
    s = reducer(reducer(s, toolOpened("surface")), viewApplied({ underlying: "NIFTY" }));
    expect(s.open).toBe("surface"); // the surface is of whichever underlying is on screen
  });
});
