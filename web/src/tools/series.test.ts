import { describe, expect, it } from "vitest";
import type { SurfaceExpiry } from "../api/schema.gen";
import { chartTime } from "../clock";
import {
  closingOi,
  extendLive,
  fieldPoints,
  heatColour,
  legToken,
  liveMinute,
  sessionTime,
  sumPoints,
  surfaceStrikes,
  type Minute,
} from "./series";

const m = (hhmm: string, oi: number | null, ltp: number | null = 10): Minute => ({
  minute: `2026-11-25T${hhmm}:00+05:30`,
  ltp,
  iv: 0.1,
  oi,
  volume: 5,
});
const DAY = [m("10:15", 100), m("10:16", 110), m("10:17", null), m("10:18", 130)];
// 10:20:40 IST on 2026-11-25, as Unix seconds.
const TS = Date.parse("2026-11-25T10:20:40+05:30") / 1000;

describe("a contract's minutes", () => {
  it("are extended by the live leg at its minute, only past the archive's last and on its day", () => {
    const live = { leg: { ltp: 12, iv: 0.11, oi: 150, volume: 9 }, ts: TS, sameDay: true };
    const out = extendLive(DAY, null, live);
    expect(out).toHaveLength(5);
    expect(out[4]).toEqual({ minute: "2026-11-25T04:50:00.000Z", ltp: 12, iv: 0.11, oi: 150, volume: 9 });
    expect(out).not.toBe(DAY);
    expect(extendLive(DAY, null, { ...live, sameDay: false })).toHaveLength(4);
    expect(extendLive(DAY, null, { ...live, ts: Date.parse("2026-11-25T10:18:30+05:30") / 1000 })).toHaveLength(4);
    expect(extendLive(DAY, null, { ...live, leg: undefined })).toHaveLength(4);
  });

  it("end at history mode's minute, with nothing live after it", () => {
    const live = { leg: { oi: 150 }, ts: TS, sameDay: true };
    expect(extendLive(DAY, "2026-11-25T10:16:00+05:30", live).map((x) => x.oi)).toEqual([100, 110]);
  });

  it("become chart points on the IST axis, scaled, without gaps or repeats", () => {
    const pts = fieldPoints([...DAY, m("10:18", 140)], "oi", 2);
    expect(pts.map((p) => p.value)).toEqual([200, 220, 260]);
    expect(pts[0]!.time).toBe(chartTime("2026-11-25T10:15:00+05:30"));
  });

  it("add up minute by minute where every contract has a value", () => {
    const a = [{ time: 1, value: 1 }, { time: 2, value: 2 }, { time: 3, value: 3 }];
    const b = [{ time: 1, value: 10 }, { time: 3, value: 30 }];
    expect(sumPoints([a, b])).toEqual([{ time: 1, value: 11 }, { time: 3, value: 33 }]);
    expect(sumPoints([a])).toBe(a);
  });

  it("close a session at the last OI of the day", () => {
    expect(closingOi([m("10:15", 100), m("10:16", 120), m("10:17", null)])).toBe(120);
    expect(closingOi([])).toBeNull();
    expect(closingOi(undefined)).toBeNull();
    expect(sessionTime("2026-11-25")).toBe(chartTime("2026-11-25T15:30:00+05:30"));
  });

  it("take the live minute and a leg's token", () => {
    expect(liveMinute(TS)).toBe(Date.parse("2026-11-25T10:20:00+05:30") / 1000);
    expect(liveMinute(null)).toBeNull();
    expect(legToken({ strike: 1, CE: { token: 7 } }, "CE")).toBe(7);
    expect(legToken({ strike: 1, CE: { token: 7 } }, "PE")).toBeNull();
    expect(legToken(undefined, "CE")).toBeNull();
  });
});

describe("the surface's grid", () => {
  const expiry = (strikes: number[]): SurfaceExpiry => ({
    expiry: "2026-12-01", days_to_expiry: 1, forward: 24_000, atm_strike: 24_000, atm_iv: 0.1, minute: null,
    source: "live", stale: false,
    points: strikes.map((k) => ({ strike: k, moneyness: Math.log(k / 24_000), iv: 0.1, call_iv: 0.1, put_iv: 0.1 })),
  });

  it("spans the strikes near the forward that any expiry has, thinned around the ATM", () => {
    const near = Array.from({ length: 41 }, (_, i) => 23_000 + 50 * i); // 23 000 .. 25 000
    const far = [22_000, 24_000, 26_000];
    expect(surfaceStrikes([expiry(near), expiry(far)], 24_000, 1, 100)).toEqual(
      near.filter((k) => k >= 23_760 && k <= 24_240),
    );
    const thin = surfaceStrikes([expiry(near)], 24_000, 5, 10);
    expect(thin.length).toBeLessThanOrEqual(11);
    expect(thin).toContain(24_000);
    expect(new Set(thin.slice(1).map((k, i) => k - thin[i]!))).toEqual(new Set([250]));
  });

  it("colours the lowest IV blue and the highest red", () => {
    expect(heatColour(10, 10, 20)).toBe("hsl(230 70% 42%)");
    expect(heatColour(20, 10, 20)).toBe("hsl(0 70% 42%)");
    expect(heatColour(5, 5, 5)).toBe("hsl(115 70% 42%)");
  });
});
