/**
 * Replay: history mode's minute (ui.at) advanced on a timer, so the chain, the header's quotes
 * and every chart (which all follow that minute) play an archived day. 1x is one archived
 * minute per real minute, 60x one a second. A step waits for the chain of the minute before it
 * (a slow answer slows the replay, it never skips a minute). It stops at the session's end
 * (15:30 IST) or after the last archived minute of that day (never past the market's now).
 */
import { createSlice, isAnyOf, type ListenerMiddlewareInstance, type PayloadAction } from "@reduxjs/toolkit";
import { serverNow } from "../clock";
import { api, type IntradayPoint } from "./api";
import { timeTravel } from "./uiSlice";
import { viewApplied } from "./view";
import type { RootState } from "./index";

export const SPEEDS = [1, 5, 10, 30, 60] as const;
export type Speed = (typeof SPEEDS)[number];

/** Why a replay stopped by itself. */
export type ReplayStop = "session-end" | "last-minute";

export interface ReplayState {
  playing: boolean;
  speed: Speed;
  /** Why the last replay stopped by itself, null while playing or after a pause. */
  stopped: ReplayStop | null;
}

const initialState: ReplayState = { playing: false, speed: 1, stopped: null };

const replaySlice = createSlice({
  name: "replay",
  initialState,
  reducers: {
    replayPlayed(state) {
      state.playing = true;
      state.stopped = null;
    },
    replayPaused(state) {
      state.playing = false;
    },
    replayStopped(state, action: PayloadAction<ReplayStop>) {
      state.playing = false;
      state.stopped = action.payload;
    },
    replaySpeedChanged(state, action: PayloadAction<Speed>) {
      if ((SPEEDS as readonly number[]).includes(action.payload)) state.speed = action.payload;
    },
  },
  extraReducers: (b) => {
    // Back to live (the button, the address, back/forward): nothing is left to play.
    b.addMatcher(isAnyOf(timeTravel, viewApplied), (state, action) => {
      const at = timeTravel.match(action) ? action.payload : action.payload.at;
      if (at === null) {
        state.playing = false;
        state.stopped = null;
      }
    });
  },
});

export const { replayPlayed, replayPaused, replayStopped, replaySpeedChanged } = replaySlice.actions;
export default replaySlice.reducer;

/** Real time between two replayed minutes (ms). */
export function stepMs(speed: Speed): number {
  return 60_000 / speed;
}

/** 15:30 IST of the IST day of `at` (an ISO minute with the IST offset, as ui.at keeps it). */
export function sessionEndMs(at: string): number {
  return Date.parse(`${at.slice(0, 10)}T15:30:00+05:30`);
}

/** `at` moved by `minutes`, in the store's form ("YYYY-MM-DDTHH:MM:00+05:30"). */
export function shiftMinute(at: string, minutes: number): string {
  const ist = new Date(Date.parse(at) + minutes * 60_000 + 5.5 * 3_600_000).toISOString();
  return `${ist.slice(0, 16)}:00+05:30`;
}

/**
 * The minute after `at`, or why there is none: past 15:30 IST of its day, or past the last
 * archived minute (`lastMs`, null when the archive has none that day) or the market's now.
 */
export function nextMinute(at: string, lastMs: number | null, nowMs: number): { at: string } | { stop: ReplayStop } {
  const next = shiftMinute(at, 1);
  const t = Date.parse(next);
  if (t > sessionEndMs(at)) return { stop: "session-end" };
  if (lastMs === null || t > lastMs || t > nowMs) return { stop: "last-minute" };
  return { at: next };
}

/** The intraday series' query of the day of `at`, as the charts ask it (one cache entry). */
function dayQuery(s: RootState, at: string): { expiry: string; underlying: string; date: string } | null {
  const expiry = s.chain.expiry;
  return expiry ? { expiry, underlying: s.ui.underlying, date: at.slice(0, 10) } : null;
}

function lastMinuteMs(points: readonly IntradayPoint[] | undefined): number | null {
  const last = points?.length ? Date.parse(points[points.length - 1]!.minute) : NaN;
  return Number.isFinite(last) ? last : null;
}

/** The market's clock for the replay's "never past now"; tests inject theirs. */
export interface ReplayClock {
  now(): number;
}

const browserClock: ReplayClock = { now: () => Date.now() };

/** The chain of the minute on screen has been answered (data, none, or an error). */
function settled(s: RootState): boolean {
  return s.ui.at !== null && s.ui.history !== null && s.ui.history.state !== "loading";
}

/**
 * The replay's timer, on the store's listener middleware: started by play, restarted by a new
 * speed or a minute picked meanwhile, cancelled by pause. Each step waits one step's time and
 * the answer for the minute on screen, then moves to the next minute (replacing the address's
 * minute: a played day adds no history entries).
 */
export function startReplayListener(listener: ListenerMiddlewareInstance, clock: ReplayClock = browserClock): void {
  listener.startListening({
    matcher: isAnyOf(replayPlayed, replayPaused, replayStopped, replaySpeedChanged, timeTravel),
    effect: async (_action, lapi) => {
      lapi.cancelActiveListeners();
      const state = () => lapi.getState() as RootState;
      for (;;) {
        const { replay } = state();
        if (!replay.playing) return;
        // (condition() waits for a later action: the state may already be there)
        const answered = (s: RootState) => settled(s) || !s.replay.playing;
        await Promise.all([
          lapi.delay(stepMs(replay.speed)),
          answered(state()) ? null : lapi.condition((_a, s) => answered(s as RootState)),
        ]);
        const s = state();
        const at = s.ui.at;
        if (!s.replay.playing || at === null) return;
        const query = dayQuery(s, at);
        const now = serverNow(s.market.clockOffsetMs, clock.now());
        let last = query ? lastMinuteMs(api.endpoints.intraday.select(query)(s).data) : null;
        let step = nextMinute(at, last, now);
        // The archive of a day still being recorded grows: ask again before stopping at its end.
        if ("stop" in step && step.stop === "last-minute" && query) {
          const answer = await lapi.pause(lapi.dispatch(api.endpoints.intraday.initiate(query, { subscribe: false, forceRefetch: true })));
          last = lastMinuteMs(answer.data) ?? last;
          step = nextMinute(at, last, serverNow(state().market.clockOffsetMs, clock.now()));
        }
        if (!state().replay.playing || state().ui.at !== at) continue;
        if ("stop" in step) {
          lapi.dispatch(replayStopped(step.stop));
          return;
        }
        lapi.dispatch(viewApplied({ at: step.at }));
      }
    },
  });
}
