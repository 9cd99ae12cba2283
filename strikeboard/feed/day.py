"""The feed's trading day: when to refresh for a new session and when to close one.

Pure: no I/O and no clock (the caller passes the market's time). Before each trading day's
open (08:30 IST by default) the feed reloads the instrument dump, drops expired series, adds new
ones, reloads baselines and re-selects its universe; at the close (15:30) it writes the final
minute and marks the session closed. Weekends and holidays are closed days, not failures.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


class DayAction(enum.StrEnum):
    REFRESH = "refresh"
    CLOSE = "close"


@dataclass(frozen=True)
class DayPlan:
    refresh_at: time = time(8, 30)
    """Kite lists the day's contracts before the pre-open; tokens expire at 06:00."""
    close_at: time = time(15, 30)
    close_actions_at: time = time(15, 31)
    """The close's work waits a minute for the last ticks in flight (Kite stamps some at
    15:30:00 exactly) so that the session's last minute is complete."""


class DayLifecycle:
    """Tracks which session the feed has loaded and closed; `due(now)` says what to do next."""

    def __init__(self, is_trading_day: Callable[[date], bool], plan: DayPlan | None = None):
        self._is_trading_day = is_trading_day
        self.plan = plan or DayPlan()
        self.loaded: date | None = None
        """The day whose instrument dump and baselines the feed holds."""
        self.closed: date | None = None
        """The last session the feed closed."""

    def due(self, now: datetime) -> DayAction | None:
        today, clock = now.date(), now.time()
        if not self._is_trading_day(today):
            return None
        if self.loaded != today and self.plan.refresh_at <= clock < self.plan.close_at:
            return DayAction.REFRESH
        if self.closed != today and clock >= self.plan.close_actions_at:
            return DayAction.CLOSE
        return None

    def session_of(self, now: datetime) -> date:
        """The session whose data a chain shows at `now`: today from its morning refresh on,
        else the last trading day before it."""
        day = now.date()
        if self._is_trading_day(day) and now.time() >= self.plan.refresh_at:
            return day
        day -= timedelta(days=1)
        while not self._is_trading_day(day):
            day -= timedelta(days=1)
        return day

    def session_state(self, now: datetime) -> str:
        """`open` (09:15-close on a trading day), `closed` (a trading day, outside hours) or
        `holiday` (a weekend or an exchange holiday)."""
        if not self._is_trading_day(now.date()):
            return "holiday"
        if time(9, 15) <= now.time() < self.plan.close_at:
            return "open"
        return "closed"
