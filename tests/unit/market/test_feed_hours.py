"""When the cloud feed runs and its alarms page: the calendar's sessions, injected times only."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from strikeboard.market.calendar import IST, TradingCalendar
from strikeboard.market.feed_hours import (
    Action,
    Alarm,
    decide,
    feed_scheduled,
    regular_times,
    session_of,
)

TRADING = date(2026, 11, 25)  # a Wednesday
HOLIDAY = date(2026, 11, 24)  # Tuesday, an NSE holiday
SATURDAY = date(2026, 11, 28)
MUHURAT_SUNDAY = date(2026, 11, 8)  # Muhurat trading 18:00-19:00 (provisional)
MUHURAT_HOLIDAY = date(2025, 10, 21)  # Tuesday, an NSE holiday; Muhurat 13:45-14:45


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), IST)


def test_the_regular_day_runs_08_30_to_16_05_ist() -> None:
    assert regular_times() == {
        Action.START: time(8, 30), Action.TOKEN: time(9, 10), Action.OPEN: time(9, 16),
        Action.CLOSE: time(15, 30), Action.STOP: time(16, 5),
    }  # fmt: skip


def test_a_trading_day_starts_arms_disarms_and_stops() -> None:
    effects = {}
    for action, when in regular_times().items():
        decision = decide(action, datetime.combine(TRADING, when, IST))
        assert decision.skipped is None and decision.session == "normal market"
        effects[action] = decision.effect
    assert effects[Action.START].desired_count == 1  # type: ignore[union-attr]
    assert effects[Action.TOKEN].arm == (Alarm.TOKEN, Alarm.TASK)  # type: ignore[union-attr]
    assert effects[Action.OPEN].arm == (Alarm.TICKS,)  # type: ignore[union-attr]
    assert set(effects[Action.CLOSE].disarm) == {Alarm.TICKS, Alarm.TOKEN}  # type: ignore[union-attr]
    stop = effects[Action.STOP]
    assert stop is not None and stop.desired_count == 0 and set(stop.disarm) == set(Alarm)
    # The scheduled time in UTC, as EventBridge Scheduler sends it, is the same instant.
    assert decide(Action.START, datetime.fromisoformat("2026-11-25T03:00:00+00:00")).effect


@pytest.mark.parametrize(
    ("day", "reason"),
    [(HOLIDAY, "2026-11-24 is an NSE holiday"), (SATURDAY, "2026-11-28 is a Saturday")],
)
def test_holidays_and_weekends_are_skipped_with_the_reason(day: date, reason: str) -> None:
    for action, when in regular_times().items():
        decision = decide(action, datetime.combine(day, when, IST))
        assert decision.effect is None and decision.skipped == reason


def test_muhurat_trading_runs_around_its_own_session() -> None:
    sunday = session_of(MUHURAT_SUNDAY)
    assert sunday is not None and sunday.name == "Muhurat trading"
    assert decide(Action.START, at(MUHURAT_SUNDAY, 17, 15)).effect.desired_count == 1  # type: ignore[union-attr]
    assert decide(Action.OPEN, at(MUHURAT_SUNDAY, 18, 1)).effect.arm == (Alarm.TICKS,)  # type: ignore[union-attr]
    assert decide(Action.STOP, at(MUHURAT_SUNDAY, 19, 35)).effect.desired_count == 0  # type: ignore[union-attr]
    # The Monday-Friday schedule's 08:30 on a holiday with a Muhurat session does nothing...
    skipped = decide(Action.START, at(MUHURAT_HOLIDAY, 8, 30))
    assert skipped.effect is None
    assert skipped.skipped == (
        "start is due at 13:00 IST on 2025-10-21 (Muhurat trading 13:45-14:45), not 08:30"
    )
    # ...the session's own schedule starts the feed.
    assert decide(Action.START, at(MUHURAT_HOLIDAY, 13, 0)).effect.desired_count == 1  # type: ignore[union-attr]
    # The yearly special-session schedule in a year without that session: a trading day.
    later = decide(Action.START, at(date(2026, 10, 21), 13, 0))
    assert later.effect is None and "due at 08:30" in (later.skipped or "")


def test_the_scheduled_minute_is_what_counts() -> None:
    assert decide(Action.STOP, datetime(2026, 11, 25, 16, 5, 42, tzinfo=IST)).effect
    late = decide(Action.STOP, at(TRADING, 16, 6))
    assert late.effect is None and "due at 16:05" in (late.skipped or "")
    # A calendar with that day as a holiday skips it.
    closed = decide(Action.START, at(TRADING, 8, 30), TradingCalendar(holidays=[TRADING]))
    assert closed.skipped == "2026-11-25 is an NSE holiday"


def test_feed_scheduled_from_start_to_stop() -> None:
    assert not feed_scheduled(at(TRADING, 8, 29))
    assert feed_scheduled(at(TRADING, 8, 30))
    assert feed_scheduled(at(TRADING, 16, 4))
    assert not feed_scheduled(at(TRADING, 16, 5))
    assert not feed_scheduled(at(HOLIDAY, 11, 0))
    assert feed_scheduled(at(MUHURAT_SUNDAY, 18, 30))
    assert not feed_scheduled(at(MUHURAT_SUNDAY, 11, 0))
