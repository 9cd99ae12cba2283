/** /api/health answers at fixed market times (IST), shaped like strikeboard/api/app.py health(). */
import type { Health, Session } from "../types";

export const OPEN: Session = {
  state: "open",
  last_session: "2026-11-25",
  last_close: "2026-11-25T15:30:00+05:30",
  next_open: "2026-11-26T09:15:00+05:30",
  reason: null,
  recorded: { day: "2026-11-25", state: "open", at: "2026-11-25T09:15:02+05:30" },
};

/** Wednesday 25 Nov 2026, 18:00 IST: a trading day after the close. */
export const CLOSED: Session = {
  state: "closed",
  last_session: "2026-11-25",
  last_close: "2026-11-25T15:30:00+05:30",
  next_open: "2026-11-26T09:15:00+05:30",
  reason: null,
  recorded: { day: "2026-11-25", state: "closed", at: "2026-11-25T15:30:01+05:30" },
};

/** Sunday 29 Nov 2026, 12:00 IST. */
export const SUNDAY: Session = {
  state: "holiday",
  last_session: "2026-11-27",
  last_close: "2026-11-27T15:30:00+05:30",
  next_open: "2026-11-30T09:15:00+05:30",
  reason: "2026-11-29 is a Sunday",
  recorded: null,
};

/** Tuesday 24 Nov 2026 (Guru Nanak Jayanti), 11:00 IST. */
export const NSE_HOLIDAY: Session = {
  state: "holiday",
  last_session: "2026-11-23",
  last_close: "2026-11-23T15:30:00+05:30",
  next_open: "2026-11-25T09:15:00+05:30",
  reason: "2026-11-24 is an NSE holiday",
  recorded: null,
};

export function health(session: Session, now: string): Health {
  return {
    status: "ok",
    feed: { connected: true, token: "ok", last_tick_age_s: 1, ticks_per_s: 10 },
    redis: true,
    database: true,
    market_open: session.state === "open",
    session,
    now,
  };
}
