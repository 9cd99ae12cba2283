"""NSE trading calendar for the simulator: trading days, weekly and monthly NIFTY expiries.

Pure functions, no I/O. Weekly NIFTY options expire on a configurable weekday (Tuesday by
default); when that day is an exchange holiday the expiry moves to the previous trading day.
The monthly contract expires on the last weekly expiry of its month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final

NSE_HOLIDAYS: Final[frozenset[dt.date]] = frozenset(
    dt.date.fromisoformat(d)
    for d in (
        # 2025 (NSE circular)
        "2025-02-26", "2025-03-14", "2025-03-31", "2025-04-10", "2025-04-14", "2025-04-18",
        "2025-05-01", "2025-08-15", "2025-08-27", "2025-10-02", "2025-10-21", "2025-10-22",
        "2025-11-05", "2025-12-25",
        # 2026 (NSE circular)
        "2026-01-26", "2026-03-03", "2026-03-26", "2026-03-31", "2026-04-03", "2026-04-14",
        "2026-05-01", "2026-05-28", "2026-06-26", "2026-09-14", "2026-10-02", "2026-10-20",
        "2026-11-10", "2026-11-24", "2026-12-25",
        # 2027 (provisional: fixed-date holidays on weekdays and expected festival dates)
        "2027-01-26", "2027-03-22", "2027-03-26", "2027-04-14", "2027-04-15", "2027-05-17",
        "2027-09-06", "2027-10-11", "2027-10-29", "2027-11-15",
    )
)  # fmt: skip
"""Default NSE equity-derivatives trading holidays 2025-2027 (weekends are implicit)."""

TUESDAY: Final = 1
"""`date.weekday()` of NIFTY's weekly expiry day since September 2025."""


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
