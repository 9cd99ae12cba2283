"""The NSE trading calendar of the whole code base: IST, trading days, market phases, NIFTY
expiries and Kite's daily token flush.

Pure: data and functions only, no I/O, no clock (callers pass ``now``), and no imports from
the rest of the project (every package may import it without a cycle). ``IST`` is the one
time zone object of the code base.

Sources:

* Trading holidays: NSE's annual "Trading holidays for the calendar year" circulars for the
  equity and equity-derivatives segments, as listed on
  https://www.nseindia.com/resources/exchange-communication-holidays, plus NSE circular
  CMTR72260 (2026-01-12, https://nsearchives.nseindia.com/content/circulars/CMTR72260.pdf):
  trading holiday on 2026-01-15 for the Maharashtra municipal corporation elections.
  Holidays that fall on a weekend are not listed (weekends never trade).
* 2027: provisional, until NSE publishes its 2027 circular (usually in December 2026).
* Muhurat trading (the Diwali evening session): ``SPECIAL_SESSIONS``; NSE announces the
  window by circular a few weeks ahead, so an unconfirmed window is marked provisional.
* Session times: NSE equity-derivatives market timings (pre-open 09:00-09:15, normal market
  09:15-15:30, closing session 15:40-16:00 IST).

Weekly NIFTY options expire on a configurable weekday (Tuesday since September 2025); when
that day is an exchange holiday the expiry moves to the previous trading day. The monthly
contract expires on the last weekly expiry of its month.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

IST: Final = ZoneInfo("Asia/Kolkata")
"""India Standard Time (UTC+05:30, no daylight saving): the exchange's and Kite's clock."""

NSE_HOLIDAYS: Final[frozenset[dt.date]] = frozenset(
    dt.date.fromisoformat(d)
    for d in (
        # 2025: NSE circular "Trading holidays for the calendar year 2025".
        "2025-02-26", "2025-03-14", "2025-03-31", "2025-04-10", "2025-04-14", "2025-04-18",
        "2025-05-01", "2025-08-15", "2025-08-27", "2025-10-02", "2025-10-21", "2025-10-22",
        "2025-11-05", "2025-12-25",
        # 2026: NSE circular "Trading holidays for the calendar year 2026" (15 weekday holidays;
        # Mahashivratri 15 Feb, Id-Ul-Fitr 21 Mar, Independence Day 15 Aug and Diwali Laxmi
        # Pujan 8 Nov fall on weekends), plus 2026-01-15 from NSE circular CMTR72260.
        "2026-01-15", "2026-01-26", "2026-03-03", "2026-03-26", "2026-03-31", "2026-04-03",
        "2026-04-14", "2026-05-01", "2026-05-28", "2026-06-26", "2026-09-14", "2026-10-02",
        "2026-10-20", "2026-11-10", "2026-11-24", "2026-12-25",
        # 2027: PROVISIONAL (no NSE circular yet): fixed-date holidays on weekdays and the
        # expected festival dates.
        "2027-01-26", "2027-03-22", "2027-03-26", "2027-04-14", "2027-04-15", "2027-05-17",
        "2027-09-06", "2027-10-11", "2027-10-29", "2027-11-15",
    )
)  # fmt: skip
"""NSE equity-derivatives trading holidays 2025-2027 (weekends are implicit)."""

PROVISIONAL_FROM: Final = dt.date(2027, 1, 1)
"""Holidays on or after this day are provisional (no NSE circular yet)."""


@dataclass(frozen=True)
class SpecialSession:
    """A session on a day that is otherwise closed (Muhurat trading), normal market window
    in IST; ``provisional`` while NSE has not announced the timings."""

    day: dt.date
    start: dt.time
    end: dt.time
    name: str
    provisional: bool = False


SPECIAL_SESSIONS: Final[tuple[SpecialSession, ...]] = (
    # NSE circular of 2025-09-22: Muhurat trading 13:45-14:45 (pre-open 13:30).
    SpecialSession(dt.date(2025, 10, 21), dt.time(13, 45), dt.time(14, 45), "Muhurat trading"),
    # The 2026 holiday circular names 2026-11-08 (Diwali Laxmi Pujan, a Sunday) as the Muhurat
    # day, timings "notified subsequently": the usual evening hour until then.
    SpecialSession(dt.date(2026, 11, 8), dt.time(18, 0), dt.time(19, 0), "Muhurat trading",
                   provisional=True),
)  # fmt: skip
"""Muhurat trading sessions: trading on a holiday or weekend for about an hour."""

PRE_OPEN: Final = dt.time(9, 0)
OPEN: Final = dt.time(9, 15)
CLOSE: Final = dt.time(15, 30)
CLOSING_SESSION: Final = dt.time(15, 40)
CLOSING_SESSION_END: Final = dt.time(16, 0)
TOKEN_FLUSH: Final = dt.time(6, 0)
"""Kite flushes every access token daily at 06:00 IST."""

TUESDAY: Final = 1
"""`date.weekday()` of NIFTY's weekly expiry day since September 2025."""


class Phase(enum.StrEnum):
    """Where the market is in its day (IST)."""

    CLOSED = "closed"
    PRE_OPEN = "pre_open"  # 09:00-09:15: order entry and the call auction
    OPEN = "open"  # 09:15-15:30: the normal market
    CLOSING = "closing"  # 15:40-16:00: the closing session (trades at the closing price)
    SPECIAL = "special"  # a special session (Muhurat trading) on an otherwise closed day


class TradingCalendar:
    """Trading days and NIFTY expiries for a holiday list and a weekly expiry weekday."""

    def __init__(
        self, holidays: Iterable[dt.date] = NSE_HOLIDAYS, expiry_weekday: int = TUESDAY
    ) -> None:
        if not 0 <= expiry_weekday <= 4:
            raise ValueError(
                f"expiry_weekday must be 0 (Monday) .. 4 (Friday), got {expiry_weekday}"
            )
        self.holidays = frozenset(holidays)
        self.expiry_weekday = expiry_weekday

    def is_trading_day(self, day: dt.date) -> bool:
        """True on weekdays that are not exchange holidays."""
        return day.weekday() < 5 and day not in self.holidays

    def previous_trading_day(self, day: dt.date) -> dt.date:
        """The last trading day strictly before `day`."""
        d = day - dt.timedelta(days=1)
        while not self.is_trading_day(d):
            d -= dt.timedelta(days=1)
        return d

    def next_trading_day(self, day: dt.date) -> dt.date:
        """The first trading day strictly after `day`."""
        d = day + dt.timedelta(days=1)
        while not self.is_trading_day(d):
            d += dt.timedelta(days=1)
        return d

    def trading_day_on_or_before(self, day: dt.date) -> dt.date:
        """`day` itself when it trades, else the previous trading day."""
        return day if self.is_trading_day(day) else self.previous_trading_day(day)

    def weekly_expiry_of_week(self, day: dt.date) -> dt.date:
        """The weekly expiry of the calendar week (Mon-Sun) holding `day`, holiday-shifted."""
        nominal = day + dt.timedelta(days=self.expiry_weekday - day.weekday())
        return self.trading_day_on_or_before(nominal)

    def weekly_expiries(self, start: dt.date, count: int) -> list[dt.date]:
        """The next `count` weekly expiries on or after `start`."""
        out: list[dt.date] = []
        week = start - dt.timedelta(days=start.weekday())
        while len(out) < count:
            e = self.weekly_expiry_of_week(week)
            if e >= start:
                out.append(e)
            week += dt.timedelta(days=7)
        return out

    def monthly_expiry(self, year: int, month: int) -> dt.date:
        """The last weekly expiry of the month (the monthly contract's expiry)."""
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        last = nxt - dt.timedelta(days=1)
        e = self.weekly_expiry_of_week(last)
        if e.month != month:
            # The month ends before its last week's expiry day: use the previous week's.
            e = self.weekly_expiry_of_week(last - dt.timedelta(days=7))
        return e

    def monthly_expiries(self, start: dt.date, count: int) -> list[dt.date]:
        """The next `count` monthly expiries on or after `start`."""
        out: list[dt.date] = []
        y, m = start.year, start.month
        while len(out) < count:
            e = self.monthly_expiry(y, m)
            if e >= start:
                out.append(e)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    def is_monthly_expiry(self, day: dt.date) -> bool:
        """True when `day` is the monthly expiry of its month."""
        return self.monthly_expiry(day.year, day.month) == day

    def is_holiday(self, day: dt.date) -> bool:
        """True on a weekday listed as an exchange holiday."""
        return day.weekday() < 5 and day in self.holidays

    def closed_reason(self, day: dt.date) -> str | None:
        """Why ``day`` does not trade (``None`` when it does)."""
        if day.weekday() >= 5:
            return f"{day.isoformat()} is a {day.strftime('%A')}"
        if day in self.holidays:
            return f"{day.isoformat()} is an NSE holiday"
        return None

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The trading days from ``start`` to ``end`` (both inclusive)."""
        out: list[dt.date] = []
        d = start
        while d <= end:
            if self.is_trading_day(d):
                out.append(d)
            d += dt.timedelta(days=1)
        return out


CALENDAR: Final = TradingCalendar()
"""NSE's calendar with the default holidays and Tuesday weekly expiries."""


def special_session(day: dt.date) -> SpecialSession | None:
    """The special session held on ``day``, if any."""
    return next((s for s in SPECIAL_SESSIONS if s.day == day), None)


def phase(now: dt.datetime, calendar: TradingCalendar = CALENDAR) -> Phase:
    """The market phase at ``now`` (aware; naive means IST). Weekends and holidays are
    closed except during a special session; 15:30-15:40 is closed (between the normal market
    and the closing session)."""
    local = now.replace(tzinfo=IST) if now.tzinfo is None else now.astimezone(IST)
    day, t = local.date(), local.time()
    if not calendar.is_trading_day(day):
        s = special_session(day)
        return Phase.SPECIAL if s is not None and s.start <= t < s.end else Phase.CLOSED
    if PRE_OPEN <= t < OPEN:
        return Phase.PRE_OPEN
    if OPEN <= t < CLOSE:
        return Phase.OPEN
    if CLOSING_SESSION <= t < CLOSING_SESSION_END:
        return Phase.CLOSING
    return Phase.CLOSED


def market_open(now: dt.datetime, calendar: TradingCalendar = CALENDAR) -> bool:
    """True while orders match continuously: the normal market 09:15-15:30 IST on trading
    days, and special sessions (Muhurat trading)."""
    return phase(now, calendar) in (Phase.OPEN, Phase.SPECIAL)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The IST day ``day`` as [start, end): its midnight and the next one, in IST."""
    start = dt.datetime.combine(day, dt.time(0, 0), IST)
    return start, start + dt.timedelta(days=1)


def token_expiry(issued: dt.datetime) -> dt.datetime:
    """When a Kite access token issued at ``issued`` dies: the next 06:00 IST strictly after
    it (Kite flushes every token daily at 06:00)."""
    at = issued.replace(tzinfo=IST) if issued.tzinfo is None else issued.astimezone(IST)
    flush = dt.datetime.combine(at.date(), TOKEN_FLUSH, IST)
    return flush if at < flush else flush + dt.timedelta(days=1)


@dataclass(frozen=True)
class SessionView:
    """What a trader's screen should say about the market at a moment."""

    state: str
    """`open` (live), `closed` (a trading day outside 09:15-15:30) or `holiday` (a weekend
    or an exchange holiday)."""
    last_session: dt.date
    """The session whose data is on screen: today once it has opened, else the previous one."""
    last_close: dt.datetime
    next_open: dt.datetime
    reason: str | None
    """Why the market is shut today, on a weekend or holiday."""


def session_view(now: dt.datetime, calendar: TradingCalendar = CALENDAR) -> SessionView:
    """Open, closed or holiday at ``now``, the session on screen and the next open."""
    local = now.replace(tzinfo=IST) if now.tzinfo is None else now.astimezone(IST)
    today, t = local.date(), local.time()
    trading = calendar.is_trading_day(today)
    last = today if trading and t >= OPEN else calendar.previous_trading_day(today)
    following = today if trading and t < OPEN else calendar.next_trading_day(today)
    if market_open(local, calendar):
        state = "open"
    elif trading:
        state = "closed"
    else:
        state = "holiday"
    return SessionView(
        state=state,
        last_session=last,
        last_close=dt.datetime.combine(last, CLOSE, IST),
        next_open=dt.datetime.combine(following, OPEN, IST),
        reason=calendar.closed_reason(today),
    )
