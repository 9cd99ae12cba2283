"""When the cloud feed runs, and which of its alarms may page: the calendar's sessions turned
into five scheduled actions. Pure: data and functions, no I/O, no clock (callers pass times).

A session is the normal market of a trading day (09:15-15:30 IST) or a special session
(Muhurat trading) on an otherwise closed day. Around each session, in IST:

- ``start`` (open - 45 min, 08:30): the feed is started (time for the image pull, the
  instrument load and the day's Kite login before the pre-open);
- ``token`` (open - 5 min, 09:10): the token and task alarms may page (no token by now, or no
  feed running, is worth waking someone for);
- ``open`` (open + 1 min, 09:16): the no-tick alarm may page (the first ticks are in: before
  the open nothing ticks, so a tick age means nothing);
- ``close`` (close, 15:30): the no-tick and token alarms stop paging;
- ``stop`` (close + 35 min, 16:05): the feed is stopped, after the closing session (15:40-16:00)
  and its final archive; the task alarm stops paging.

CloudWatch alarms cannot follow a calendar, so the scheduled Lambda (lambdas.feed_schedule)
turns their actions on and off at these times (infra/stacks/ops.py defines the alarms).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Final

from strikeboard.market.calendar import (
    CALENDAR,
    CLOSE,
    IST,
    OPEN,
    SpecialSession,
    TradingCalendar,
    special_session,
)


class Action(enum.StrEnum):
    START = "start"
    TOKEN = "token"
    OPEN = "open"
    CLOSE = "close"
    STOP = "stop"


class Alarm(enum.StrEnum):
    """The alarms that page only around a session (their names end with these)."""

    TOKEN = "feed-token"
    TASK = "feed-task"
    TICKS = "feed-no-tick"


@dataclass(frozen=True)
class Effect:
    desired_count: int | None  # the feed service's desired count, None = unchanged
    arm: tuple[Alarm, ...] = ()
    disarm: tuple[Alarm, ...] = ()


# (the session edge it follows, the offset from it)
WHEN: Final[dict[Action, tuple[str, dt.timedelta]]] = {
    Action.START: ("open", dt.timedelta(minutes=-45)),
    Action.TOKEN: ("open", dt.timedelta(minutes=-5)),
    Action.OPEN: ("open", dt.timedelta(minutes=1)),
    Action.CLOSE: ("close", dt.timedelta(0)),
    Action.STOP: ("close", dt.timedelta(minutes=35)),
}
EFFECTS: Final[dict[Action, Effect]] = {
    Action.START: Effect(1),
    Action.TOKEN: Effect(None, arm=(Alarm.TOKEN, Alarm.TASK)),
    Action.OPEN: Effect(None, arm=(Alarm.TICKS,)),
    Action.CLOSE: Effect(None, disarm=(Alarm.TICKS, Alarm.TOKEN)),
    # Everything, so that a missed close still leaves the night quiet.
    Action.STOP: Effect(0, disarm=(Alarm.TICKS, Alarm.TOKEN, Alarm.TASK)),
}


@dataclass(frozen=True)
class Session:
    name: str
    open: dt.datetime
    close: dt.datetime

    def at(self, action: Action) -> dt.datetime:
        """When ``action`` is due for this session (IST)."""
        edge, offset = WHEN[action]
        return (self.open if edge == "open" else self.close) + offset


def normal_market(day: dt.date) -> Session:
    """The normal market's session on ``day`` (09:15-15:30 IST), whether or not it trades."""
    return Session(
        "normal market", dt.datetime.combine(day, OPEN, IST), dt.datetime.combine(day, CLOSE, IST)
    )


def session_of(day: dt.date, calendar: TradingCalendar = CALENDAR) -> Session | None:
    """The session held on ``day``: the normal market of a trading day, a special session on
    a closed day, or None."""
    if calendar.is_trading_day(day):
        return normal_market(day)
    special = special_session(day)
    return None if special is None else special_window(special)


def special_window(special: SpecialSession) -> Session:
    """A special session (Muhurat trading) as a session."""
    return Session(
        special.name,
        dt.datetime.combine(special.day, special.start, IST),
        dt.datetime.combine(special.day, special.end, IST),
    )


def regular_times() -> dict[Action, dt.time]:
    """The IST times of the actions on a trading day (the Monday-Friday schedules)."""
    session = normal_market(dt.date(2026, 3, 2))  # any day: the times are the same
    return {action: session.at(action).time() for action in Action}


@dataclass(frozen=True)
class Decision:
    action: Action
    at: dt.datetime  # IST, to the minute
    effect: Effect | None  # None when skipped
    skipped: str | None = None
    session: str | None = None


def decide(action: Action, at: dt.datetime, calendar: TradingCalendar = CALENDAR) -> Decision:
    """What ``action`` scheduled at ``at`` does: its effect when ``at`` is exactly (to the
    minute) when that action is due for the session of the day, else a skip with the reason
    (a weekend or holiday without a session, or a schedule of the normal market on a special
    session's day and the other way round)."""
    local = (at.replace(tzinfo=IST) if at.tzinfo is None else at.astimezone(IST)).replace(
        second=0, microsecond=0
    )
    day = local.date()
    session = session_of(day, calendar)
    if session is None:
        reason = calendar.closed_reason(day) or f"{day.isoformat()} has no session"
        return Decision(action, local, None, skipped=reason)
    due = session.at(action)
    if due != local:
        return Decision(
            action, local, None, session=session.name,
            skipped=f"{action} is due at {due:%H:%M} IST on {day.isoformat()} "
            f"({session.name} {session.open:%H:%M}-{session.close:%H:%M}), not {local:%H:%M}",
        )  # fmt: skip
    return Decision(action, local, EFFECTS[action], session=session.name)


def feed_scheduled(now: dt.datetime, calendar: TradingCalendar = CALENDAR) -> bool:
    """True from a session's start to its stop: the feed should be running."""
    local = now.replace(tzinfo=IST) if now.tzinfo is None else now.astimezone(IST)
    session = session_of(local.date(), calendar)
    return session is not None and session.at(Action.START) <= local < session.at(Action.STOP)
