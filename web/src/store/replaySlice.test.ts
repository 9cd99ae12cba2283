import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeStore } from ".";
import { expirySelected } from "./chainSlice";
import { nextMinute, type Speed, replayPaused, replayPlayed, replaySpeedChanged, sessionEndMs, shiftMinute, stepMs } from "./replaySlice";
import { historyAnswered, timeTravel } from "./uiSlice";
import { viewApplied } from "./view";

const DAY = "2026-11-25";
const m = (hhmm: string) => `${DAY}T${hhmm}:00+05:30`;
const ms = (hhmm: string) => Date.parse(m(hhmm));

describe("the replay's minutes", () => {
  it("steps a minute in the store's form, across hours and days", () => {
    expect(shiftMinute(m("10:59"), 1)).toBe(m("11:00"));
    expect(shiftMinute(m("10:00"), -1)).toBe(m("09:59"));
    expect(shiftMinute("2026-11-25T23:59:00+05:30", 1)).toBe("2026-11-26T00:00:00+05:30");
  });

  it("paces 1x at a minute and 60x at a second", () => {
    expect([1, 5, 10, 30, 60].map((x) => stepMs(x as 1))).toEqual([60_000, 12_000, 6_000, 2_000, 1_000]);
  });

  it("stops at 15:30 IST, at the last archived minute and at the market's now", () => {
    const late = ms("23:00");
    expect(sessionEndMs(m("10:00"))).toBe(ms("15:30"));
    expect(nextMinute(m("15:29"), late, late)).toEqual({ at: m("15:30") });
    expect(nextMinute(m("15:30"), late, late)).toEqual({ stop: "session-end" });
    expect(nextMinute(m("12:00"), ms("12:01"), late)).toEqual({ at: m("12:01") });
    expect(nextMinute(m("12:01"), ms("12:01"), late)).toEqual({ stop: "last-minute" });
    expect(nextMinute(m("12:01"), null, late)).toEqual({ stop: "last-minute" });
    expect(nextMinute(m("12:01"), late, ms("12:01") + 59_000)).toEqual({ stop: "last-minute" });
  });
});

describe("the replay's timer", () => {
  let archived: string[];
  let asked: string[];
  let answer: boolean;
  let now: number;

  beforeEach(() => {
    vi.useFakeTimers();
    archived = ["10:00", "10:01", "10:02", "10:03", "10:04", "10:05"].map(m);
    asked = [];
    answer = true;
    now = ms("16:00");
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        const url = new URL(req.url);
        asked.push(`${url.pathname}?${url.searchParams.toString()}`);
        const found = url.pathname === "/api/analytics/intraday";
        const body = found ? { points: archived.map((minute) => ({ minute })) } : { detail: "no" };
        return new Response(JSON.stringify(body), { status: found ? 200 : 404, headers: { "content-type": "application/json" } });
      }),
    );
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  /** A store in history mode at `start`, whose chain answers each minute at once (unless `answer` is off). */
  function replayAt(start: string) {
    const store = makeStore({ replayClock: { now: () => now } });
    store.dispatch(expirySelected("2026-12-01"));
    store.subscribe(() => {
      const { ui } = store.getState();
      if (answer && ui.at && ui.history === null) store.dispatch(historyAnswered({ state: "loaded", detail: null, nearest: null }));
    });
    store.dispatch(timeTravel(m(start)));
    return store;
  }
  /** The same, playing at `speed`. */
  function playingAt(start: string, speed: Speed = 60) {
    const store = replayAt(start);
    store.dispatch(replaySpeedChanged(speed));
    store.dispatch(replayPlayed());
    return store;
  }
  const at = (store: ReturnType<typeof replayAt>) => store.getState().ui.at;

  it("at 60x moves one minute a second, and pause stops it", async () => {
    const store = playingAt("10:00");
    await vi.advanceTimersByTimeAsync(999);
    expect(at(store)).toBe(m("10:00"));
    await vi.advanceTimersByTimeAsync(1);
    expect(at(store)).toBe(m("10:01"));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(at(store)).toBe(m("10:02"));
    expect(asked.filter((a) => a.startsWith("/api/analytics/intraday")).at(-1)).toBe(
      "/api/analytics/intraday?expiry=2026-12-01&date=2026-11-25&underlying=NIFTY",
    );
    store.dispatch(replayPaused());
    await vi.advanceTimersByTimeAsync(10_000);
    expect(at(store)).toBe(m("10:02"));
    expect(store.getState().replay).toMatchObject({ playing: false, stopped: null });
  });

  it("at 1x waits a minute a step; a new speed applies from the next step", async () => {
    const store = playingAt("10:00", 1);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(at(store)).toBe(m("10:00"));
    await vi.advanceTimersByTimeAsync(1);
    expect(at(store)).toBe(m("10:01"));
    store.dispatch(replaySpeedChanged(5));
    await vi.advanceTimersByTimeAsync(12_000);
    expect(at(store)).toBe(m("10:02"));
  });

  it("waits for the chain of the minute on screen before the next step", async () => {
    const store = playingAt("10:00");
    answer = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(at(store)).toBe(m("10:01"));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(at(store)).toBe(m("10:01"));
    store.dispatch(historyAnswered({ state: "loading", detail: null, nearest: null }));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(at(store)).toBe(m("10:01"));
    // No data at a minute is an answer too: the replay goes on.
    store.dispatch(historyAnswered({ state: "missing", detail: "none", nearest: null }));
    await vi.advanceTimersByTimeAsync(0);
    expect(at(store)).toBe(m("10:02"));
  });

  it("stops after the last archived minute, asking the archive again first", async () => {
    const store = playingAt("10:03");
    await vi.advanceTimersByTimeAsync(2_000);
    expect(at(store)).toBe(m("10:05"));
    const before = asked.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(asked.length, "the archive asked again at its end").toBe(before + 1);
    expect(at(store)).toBe(m("10:05"));
    expect(store.getState().replay).toMatchObject({ playing: false, stopped: "last-minute" });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(at(store)).toBe(m("10:05"));
  });

  it("goes on when the day's archive has grown meanwhile", async () => {
    const store = playingAt("10:05");
    archived.push(m("10:06"));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(at(store)).toBe(m("10:06"));
    expect(store.getState().replay.playing).toBe(true);
  });

  it("never passes the market's now", async () => {
    now = ms("10:02") + 30_000;
    const store = playingAt("10:01");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(at(store)).toBe(m("10:02"));
    expect(store.getState().replay.stopped).toBe("last-minute");
  });

  it("stops at the session's end", async () => {
    archived = ["15:28", "15:29", "15:30", "15:31"].map(m);
    const store = playingAt("15:29", 30);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(at(store)).toBe(m("15:30"));
    expect(store.getState().replay).toMatchObject({ playing: false, stopped: "session-end" });
    // Playing again from there stops again at once.
    store.dispatch(replayPlayed());
    await vi.advanceTimersByTimeAsync(2_000);
    expect(store.getState().replay).toMatchObject({ playing: false, stopped: "session-end" });
  });

  it("back to live ends the replay, from the button or the address", async () => {
    const store = playingAt("10:00");
    store.dispatch(timeTravel(null));
    expect(store.getState().replay.playing).toBe(false);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(at(store)).toBeNull();
    store.dispatch(timeTravel(m("10:00")));
    store.dispatch(replayPlayed());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(at(store)).toBe(m("10:01"));
    store.dispatch(viewApplied({ at: null }));
    await vi.advanceTimersByTimeAsync(3_000);
    expect(at(store)).toBeNull();
    expect(store.getState().replay.playing).toBe(false);
  });

  it("a minute picked while playing plays on from that minute", async () => {
    const store = playingAt("10:00");
    await vi.advanceTimersByTimeAsync(500);
    store.dispatch(timeTravel(m("10:03")));
    await vi.advanceTimersByTimeAsync(999);
    expect(at(store)).toBe(m("10:03"));
    await vi.advanceTimersByTimeAsync(1);
    expect(at(store)).toBe(m("10:04"));
  });
});
