import { describe, expect, it } from "vitest";
import {
  chartTime,
  clockOffset,
  closedLabel,
  DAY_MS,
  expiryCloseMs,
  istDate,
  istDay,
  istTime,
  serverNow,
  sessionText,
  tabDaysToExpiry,
  valuationMs,
} from "./clock";
import marketReducer, { healthReceived } from "./store/marketSlice";
import { CLOSED, health, NSE_HOLIDAY, OPEN, SUNDAY } from "./test/sessions";

describe("the session banner", () => {
  it("says nothing while the market is open", () => {
    expect(sessionText(OPEN)).toBeNull();
    expect(sessionText(null)).toBeNull();
  });

  it("names the session on screen, its close and the next open on a closed trading day", () => {
    expect(sessionText(CLOSED)).toBe(
      "Market closed · showing the session of Wed 25 Nov, closed 15:30 IST · opens Thu 26 Nov 09:15 IST",
    );
  });

  it("says why on a weekend or an NSE holiday, with the last session and the next open", () => {
    expect(sessionText(SUNDAY)).toBe(
      "Market closed (Sunday) · showing the last session, Fri 27 Nov · next open Mon 30 Nov 09:15 IST",
    );
    expect(sessionText(NSE_HOLIDAY)).toBe(
      "Market closed (NSE holiday) · showing the last session, Mon 23 Nov · next open Wed 25 Nov 09:15 IST",
    );
    expect(sessionText({ ...SUNDAY, reason: null })).toBe(
      "Market closed · showing the last session, Fri 27 Nov · next open Mon 30 Nov 09:15 IST",
    );
  });

  it("formats in IST whatever the instant's own offset", () => {
    // 09:45 UTC is 15:15 IST; 20:00 UTC on the 26th is already the 27th in IST.
    expect(istTime("2026-11-25T09:45:00Z")).toBe("15:15");
    expect(istDay("2026-11-26T20:00:00Z")).toBe("Fri 27 Nov");
    expect(istDate(Date.parse("2026-11-26T20:00:00Z"))).toBe("2026-11-27");
    expect(closedLabel("2026-11-28 is a Saturday")).toBe("Saturday");
  });
});

describe("the one clock", () => {
  it("keeps the server's time minus the local time and advances it locally", () => {
    const local = Date.parse("2026-11-29T18:00:00Z"); // the browser thinks so
    const offset = clockOffset("2026-11-29T12:00:00+05:30", local); // the API: 06:30 UTC
    expect(offset).toBe(Date.parse("2026-11-29T06:30:00Z") - local);
    expect(serverNow(offset, local)).toBe(Date.parse("2026-11-29T06:30:00Z"));
    expect(serverNow(offset, local + 7_000)).toBe(Date.parse("2026-11-29T06:30:07Z"));
    expect(serverNow(null, local)).toBe(local);
    expect(clockOffset(undefined, local)).toBeNull();
    expect(clockOffset("not a time", local)).toBeNull();
  });

  it("takes the session, market hours and offset from each health answer", () => {
    const received = Date.parse("2026-11-29T06:30:02Z");
    let s = marketReducer(undefined, healthReceived({ health: health(SUNDAY, "2026-11-29T12:00:00+05:30"), receivedAt: received }));
    expect(s.session?.state).toBe("holiday");
    expect(s.marketOpen).toBe(false);
    expect(s.clockOffsetMs).toBe(-2_000);
    // A later answer replaces the offset (the browser's clock jumped meanwhile).
    s = marketReducer(s, healthReceived({ health: health(SUNDAY, "2026-11-29T12:00:05+05:30"), receivedAt: received + 3_600_000 }));
    expect(s.clockOffsetMs).toBe(3_000 - 3_600_000);
    expect(serverNow(s.clockOffsetMs, received + 3_600_000)).toBe(Date.parse("2026-11-29T06:30:05Z"));
  });
});

describe("chart times", () => {
  it("read as UTC by the charts, they show the IST minute whatever the instant's offset", () => {
    const read = (s: number) => new Date(s * 1000).toISOString().slice(0, 16);
    expect(read(chartTime("2026-11-30T09:15:00+05:30"))).toBe("2026-11-30T09:15");
    expect(read(chartTime("2026-11-30T03:45:30Z"))).toBe("2026-11-30T09:15");
    expect(read(chartTime(Date.parse("2026-11-30T20:00:00Z")))).toBe("2026-12-01T01:30");
  });
});

describe("days to expiry", () => {
  const meta = { expiry: "2026-12-01", days_to_expiry: 4.24 };

  it("is the snapshot's own figure on its tab: the header's", () => {
    // Whatever the clocks say (the API's expiry list said 1.7 at that moment).
    const sunday = Date.parse("2026-11-29T23:53:00+05:30");
    expect(tabDaysToExpiry("2026-12-01", meta, sunday)).toBe(4.24);
  });

  it("counts the other tabs from the same valuation instant", () => {
    const ref = valuationMs(meta)!;
    expect(ref).toBe(expiryCloseMs("2026-12-01") - 4.24 * DAY_MS);
    expect(tabDaysToExpiry("2026-12-08", meta, 0)).toBeCloseTo(11.24, 9);
  });

  it("falls back to the server clock to 15:30 IST of the expiry day", () => {
    const now = Date.parse("2026-11-30T15:30:00+05:30");
    expect(tabDaysToExpiry("2026-12-01", null, now)).toBe(1);
    expect(tabDaysToExpiry("2026-12-01", { expiry: "2026-12-01", days_to_expiry: null }, now)).toBe(1);
    expect(tabDaysToExpiry("2026-11-24", null, now)).toBe(0);
  });

  it("before the API's clock is known, takes the API's expiry list, never the browser's clock", () => {
    expect(tabDaysToExpiry("2026-12-01", null, null, 1.256)).toBe(1.256);
    expect(tabDaysToExpiry("2026-12-01", null, null)).toBeNull();
    // A snapshot's valuation instant still wins over the list.
    expect(tabDaysToExpiry("2026-12-08", meta, null, 99)).toBeCloseTo(11.24, 9);
  });
});
