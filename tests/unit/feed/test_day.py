"""The feed's trading day: refresh before each session's open, close once after it."""

from __future__ import annotations

from datetime import date, datetime, time

from strikeboard.feed.day import DayAction, DayLifecycle
from strikeboard.market.calendar import IST

HOLIDAY = date(2026, 11, 24)  # Tuesday, an NSE holiday in this test's calendar


def trading(day: date) -> bool:
    return day.weekday() < 5 and day != HOLIDAY


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, IST)


def test_refresh_each_trading_morning_and_close_once() -> None:
    life = DayLifecycle(trading)
    monday = date(2026, 11, 23)
    assert life.due(at(monday, time(8, 29))) is None  # too early: the day's dump is not out
    assert life.due(at(monday, time(8, 30))) == DayAction.REFRESH
    life.loaded = monday
    assert life.due(at(monday, time(12, 0))) is None
    assert life.due(at(monday, time(15, 30))) is None  # the last ticks are still arriving
    assert life.due(at(monday, time(15, 31))) == DayAction.CLOSE
    life.closed = monday
    assert life.due(at(monday, time(23, 0))) is None
    # The holiday: nothing to do all day; Wednesday morning refreshes.
    assert all(life.due(at(HOLIDAY, time(h, 0))) is None for h in range(24))
    assert life.due(at(date(2026, 11, 25), time(9, 0))) == DayAction.REFRESH


def test_a_start_after_the_close_closes_without_refreshing() -> None:
    life = DayLifecycle(trading)
    friday = date(2026, 11, 20)
    life.loaded = friday  # the start-up loaded today's dump
    assert life.due(at(friday, time(18, 0))) == DayAction.CLOSE
    assert life.due(at(date(2026, 11, 21), time(10, 0))) is None  # Saturday


def test_session_states() -> None:
    life = DayLifecycle(trading)
    assert life.session_state(at(date(2026, 11, 23), time(9, 14, 59))) == "closed"
    assert life.session_state(at(date(2026, 11, 23), time(9, 15))) == "open"
    assert life.session_state(at(date(2026, 11, 23), time(15, 30))) == "closed"
    assert life.session_state(at(HOLIDAY, time(11, 0))) == "holiday"
    assert life.session_state(at(date(2026, 11, 22), time(11, 0))) == "holiday"


def test_the_session_a_chain_shows() -> None:
    life = DayLifecycle(trading)
    friday, monday = date(2026, 11, 20), date(2026, 11, 23)
    assert life.session_of(at(date(2026, 11, 22), time(12, 0))) == friday  # Sunday
    assert life.session_of(at(monday, time(0, 30))) == friday  # before the morning refresh
    assert life.session_of(at(monday, time(8, 30))) == monday
    assert life.session_of(at(date(2026, 11, 25), time(7, 0))) == monday  # over the holiday
