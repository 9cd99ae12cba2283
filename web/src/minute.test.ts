import { describe, expect, it } from "vitest";
import { formatIstMinute, parseIstMinute, stepIstMinute } from "./minute";

describe("the IST minute input", () => {
  it("formats an instant as dd-mm-yyyy HH:MM in IST, 24-hour", () => {
    expect(formatIstMinute("2026-11-25T09:45:00Z")).toBe("25-11-2026 15:15");
    expect(formatIstMinute(Date.parse("2026-01-02T18:40:00Z"))).toBe("03-01-2026 00:10");
    expect(formatIstMinute("nonsense")).toBe("");
  });

  it("reads dd-mm-yyyy HH:MM as IST and refuses what is not a minute", () => {
    expect(parseIstMinute("25-11-2026 10:15")).toBe("2026-11-25T10:15:00+05:30");
    expect(parseIstMinute(" 3-1-2026 9:05 ")).toBe("2026-01-03T09:05:00+05:30");
    for (const bad of ["2026-11-25 10:15", "31-11-2026 10:15", "29-02-2026 10:00", "25-11-2026 24:00", "25-11-2026 10:60", "25-11-2026 3 PM", ""]) {
      expect(parseIstMinute(bad), bad).toBeNull();
    }
    expect(parseIstMinute("29-02-2028 10:00")).toBe("2028-02-29T10:00:00+05:30");
  });

  it("steps by minutes across hours and days, never past the latest minute", () => {
    expect(stepIstMinute("25-11-2026 10:59", 1)).toBe("25-11-2026 11:00");
    expect(stepIstMinute("26-11-2026 00:00", -1)).toBe("25-11-2026 23:59");
    const max = Date.parse("2026-11-25T10:20:30+05:30");
    expect(stepIstMinute("25-11-2026 10:20", 1, max)).toBe("25-11-2026 10:20");
    expect(stepIstMinute("not a time", 1)).toBe("not a time");
  });
});
