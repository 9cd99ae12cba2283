import { describe, expect, it } from "vitest";
import type { FiredAlert } from "../alerts/types";
import reducer, { alertDraftStarted, alertEventsLoaded, alertReceived, alertsToggled, FIRED_KEPT } from "./alertsSlice";

function fired(id: number, text = `alert ${id}`): FiredAlert {
  return {
    id, rule_id: 1, crossing: id, kind: "spot", underlying: "NIFTY", expiry: null, strike: null, option_type: null,
    op: "crosses_above", level: 24_600, value: 24_612.35, previous: 24_597.1, text, note: "", fired_at: "2026-11-25T10:41:12+05:30",
  };
}

describe("fired alerts", () => {
  it("keeps each id once, newest first, whether live or listed by the API", () => {
    let s = reducer(undefined, alertReceived(fired(5)));
    s = reducer(s, alertEventsLoaded([fired(5), fired(3), fired(4)]));
    s = reducer(s, alertReceived(fired(4)));
    s = reducer(s, alertReceived(fired(7)));
    expect(s.fired.map((a) => a.id)).toEqual([7, 5, 4, 3]);
  });

  it("counts what arrives live while the panel is closed; opening it clears the count", () => {
    let s = reducer(undefined, alertEventsLoaded([fired(1), fired(2)])); // listed on load: already seen
    expect(s.unseen).toBe(0);
    s = reducer(s, alertReceived(fired(3)));
    s = reducer(s, alertReceived(fired(3))); // the same alert pushed twice
    s = reducer(s, alertReceived(fired(4)));
    expect(s.unseen).toBe(2);
    s = reducer(s, alertsToggled());
    expect(s.open).toBe(true);
    expect(s.unseen).toBe(0);
    s = reducer(s, alertReceived(fired(5)));
    expect(s.unseen).toBe(0);
  });

  it("is bounded", () => {
    const many = Array.from({ length: FIRED_KEPT + 20 }, (_, i) => fired(i + 1));
    const s = reducer(undefined, alertEventsLoaded(many));
    expect(s.fired).toHaveLength(FIRED_KEPT);
    expect(s.fired[0]!.id).toBe(FIRED_KEPT + 20);
  });

  it("a draft opens the panel with its fields over the defaults", () => {
    const s = reducer(undefined, alertDraftStarted({ kind: "iv", strike: 24_500, option_type: "PE", level: "14.2" }));
    expect(s.open).toBe(true);
    expect(s.draft).toMatchObject({ kind: "iv", strike: 24_500, option_type: "PE", level: "14.2", op: "crosses_above", email: false });
  });
});
