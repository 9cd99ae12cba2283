"""The NSE trading calendar: holidays, trading days, phases, NIFTY expiries, token expiry."""

from __future__ import annotations

import datetime as dt

import pytest

from strikeboard.market import calendar as cal_mod
from strikeboard.market.calendar import (
    CALENDAR,
    IST,
    NSE_HOLIDAYS,
    SPECIAL_SESSIONS,
    Phase,
    TradingCalendar,
    market_open,
    phase,
    session_view,
    token_expiry,
)

D = dt.date


def test_weeklies_are_tuesdays_and_holidays_move_to_previous_trading_day() -> None:
    cal = TradingCalendar()
    # 2026-11-24 (Tuesday) is Guru Nanak Jayanti: that week's expiry is Monday 23rd.
    assert cal.weekly_expiries(D(2026, 11, 18), 3) == [
        D(2026, 11, 23),
        D(2026, 12, 1),
        D(2026, 12, 8),
    ]
    assert all(e.weekday() == 1 for e in cal.weekly_expiries(D(2026, 12, 1), 4))


def test_holiday_shift_skips_several_days() -> None:
    cal = TradingCalendar(holidays={D(2026, 12, 8), D(2026, 12, 7)})
    assert cal.weekly_expiry_of_week(D(2026, 12, 9)) == D(2026, 12, 4)


def test_monthly_is_last_weekly_of_month() -> None:
    cal = TradingCalendar()
    assert cal.monthly_expiry(2026, 12) == D(2026, 12, 29)
    # March 2026: last Tuesday the 31st is a holiday (Mahavir Jayanti) -> Monday 30th.
    assert cal.monthly_expiry(2026, 3) == D(2026, 3, 30)
    # A month ending on Monday: the last Tuesday is the previous week's.
    assert cal.monthly_expiry(2025, 3) == D(2025, 3, 25)
    assert cal.is_monthly_expiry(D(2026, 12, 29)) and not cal.is_monthly_expiry(D(2026, 12, 22))


def test_configurable_weekday() -> None:
    cal = TradingCalendar(holidays=(), expiry_weekday=3)
    assert cal.weekly_expiries(D(2025, 1, 1), 2) == [D(2025, 1, 2), D(2025, 1, 9)]
    with pytest.raises(ValueError):
        TradingCalendar(expiry_weekday=6)


# NSE's published list of 2026 trading holidays (equity and equity derivatives) that fall on
# weekdays: the annual circular "Trading holidays for the calendar year 2026" as listed on
# https://www.nseindia.com/resources/exchange-communication-holidays, plus 15 January from
# NSE circular CMTR72260 (Maharashtra municipal corporation elections).
NSE_2026: dict[str, str] = {
    "2026-01-15": "Municipal Corporation Election - Maharashtra",
    "2026-01-26": "Republic Day",
    "2026-03-03": "Holi",
    "2026-03-26": "Shri Ram Navami",
    "2026-03-31": "Shri Mahavir Jayanti",
    "2026-04-03": "Good Friday",
    "2026-04-14": "Dr. Baba Saheb Ambedkar Jayanti",
    "2026-05-01": "Maharashtra Day",
    "2026-05-28": "Bakri Id",
    "2026-06-26": "Muharram",
    "2026-09-14": "Ganesh Chaturthi",
    "2026-10-02": "Mahatma Gandhi Jayanti",
    "2026-10-20": "Dussehra",
    "2026-11-10": "Diwali-Balipratipada",
    "2026-11-24": "Prakash Gurpurb Sri Guru Nanak Dev",
    "2026-12-25": "Christmas",
}


def test_2026_holidays_are_nses_published_list() -> None:
    assert {d for d in NSE_HOLIDAYS if d.year == 2026} == {D.fromisoformat(d) for d in NSE_2026}
    assert all(d.weekday() < 5 for d in NSE_HOLIDAYS)  # weekend holidays are implicit
    assert {d.year for d in NSE_HOLIDAYS} == {2025, 2026, 2027}


@pytest.mark.parametrize(
    ("month", "days"),
    [(1, 20), (2, 20), (3, 19), (4, 20), (8, 21), (11, 19), (12, 22)],
)
def test_2026_trading_days_per_month(month: int, days: int) -> None:
    start = D(2026, month, 1)
    end = D(2026 + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    assert len(CALENDAR.trading_days(start, end)) == days


def test_closed_reason() -> None:
    assert CALENDAR.closed_reason(D(2026, 11, 24)) == "2026-11-24 is an NSE holiday"
    assert CALENDAR.closed_reason(D(2026, 11, 28)) == "2026-11-28 is a Saturday"
    assert CALENDAR.closed_reason(D(2026, 11, 25)) is None
    assert CALENDAR.is_holiday(D(2026, 11, 24)) and not CALENDAR.is_holiday(D(2026, 11, 28))


def test_2026_weekly_expiries() -> None:
    assert CALENDAR.weekly_expiries(D(2026, 1, 1), 5) == [
        D(2026, 1, 6), D(2026, 1, 13), D(2026, 1, 20), D(2026, 1, 27), D(2026, 2, 3),
    ]  # fmt: skip
    # Holi (Tuesday 3 March) -> Monday 2 March; Ambedkar Jayanti (14 April) -> Monday 13th;
    # Dussehra (20 October) -> Monday 19th; Guru Nanak Jayanti (24 November) -> Monday 23rd.
    assert CALENDAR.weekly_expiry_of_week(D(2026, 3, 4)) == D(2026, 3, 2)
    assert CALENDAR.weekly_expiry_of_week(D(2026, 4, 14)) == D(2026, 4, 13)
    assert CALENDAR.weekly_expiry_of_week(D(2026, 10, 22)) == D(2026, 10, 19)
    assert CALENDAR.weekly_expiry_of_week(D(2026, 11, 24)) == D(2026, 11, 23)


def test_monthly_expiry_is_last_weekly_of_every_2026_month() -> None:
    for month in range(1, 13):
        monthly = CALENDAR.monthly_expiry(2026, month)
        weeklies = [e for e in CALENDAR.weekly_expiries(D(2026, month, 1), 6) if e.month == month]
        assert monthly == weeklies[-1], month
    # November: the last Tuesday (24th) is a holiday and the 30th a Monday -> Monday 23rd.
    assert CALENDAR.monthly_expiry(2026, 11) == D(2026, 11, 23)


def _ist(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=IST)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ((2026, 11, 25, 8, 59, 59), Phase.CLOSED),
        ((2026, 11, 25, 9, 0), Phase.PRE_OPEN),
        ((2026, 11, 25, 9, 14, 59), Phase.PRE_OPEN),
        ((2026, 11, 25, 9, 15), Phase.OPEN),
        ((2026, 11, 25, 15, 29, 59), Phase.OPEN),
        ((2026, 11, 25, 15, 30), Phase.CLOSED),
        ((2026, 11, 25, 15, 40), Phase.CLOSING),
        ((2026, 11, 25, 15, 59, 59), Phase.CLOSING),
        ((2026, 11, 25, 16, 0), Phase.CLOSED),
        ((2026, 11, 28, 11, 0), Phase.CLOSED),  # Saturday
        ((2026, 11, 24, 11, 0), Phase.CLOSED),  # Guru Nanak Jayanti
        ((2026, 11, 24, 9, 5), Phase.CLOSED),
    ],
)
def test_phase_boundaries(when: tuple[int, ...], expected: Phase) -> None:
    assert phase(_ist(*when)) == expected
    assert market_open(_ist(*when)) == (expected == Phase.OPEN)


def test_phase_takes_any_zone_and_naive_means_ist() -> None:
    utc = dt.datetime(2026, 11, 25, 3, 45, tzinfo=dt.UTC)  # 09:15 IST
    assert phase(utc) == Phase.OPEN
    assert phase(dt.datetime(2026, 11, 25, 9, 14)) == Phase.PRE_OPEN


def test_special_sessions() -> None:
    muhurat = next(s for s in SPECIAL_SESSIONS if s.day == D(2026, 11, 8))
    assert muhurat.provisional and muhurat.day.weekday() == 6  # Diwali 2026 is a Sunday
    inside = dt.datetime.combine(muhurat.day, muhurat.start, IST)
    assert phase(inside) == Phase.SPECIAL and market_open(inside)
    assert phase(inside - dt.timedelta(seconds=1)) == Phase.CLOSED
    assert cal_mod.special_session(D(2026, 11, 9)) is None


def test_ist_is_plus_0530_all_year() -> None:
    for month in (1, 7):
        offset = dt.datetime(2026, month, 1, tzinfo=IST).utcoffset()
        assert offset == dt.timedelta(hours=5, minutes=30)


def test_token_expiry_is_the_next_0600_ist() -> None:
    assert token_expiry(_ist(2026, 11, 25, 9, 15)) == _ist(2026, 11, 26, 6, 0)
    assert token_expiry(_ist(2026, 11, 25, 23, 59)) == _ist(2026, 11, 26, 6, 0)
    assert token_expiry(_ist(2026, 11, 25, 5, 59)) == _ist(2026, 11, 25, 6, 0)
    assert token_expiry(_ist(2026, 11, 26, 6, 0)) == _ist(2026, 11, 27, 6, 0)
    utc = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)  # 06:00 IST: just flushed
    assert token_expiry(utc) == _ist(2026, 11, 26, 6, 0)


def test_session_view_tells_open_closed_and_holiday_apart() -> None:
    def at(day: str, clock: str) -> dt.datetime:
        return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(clock), IST)

    live = session_view(at("2026-11-25", "11:00"))
    assert (live.state, live.last_session) == ("open", dt.date(2026, 11, 25))
    evening = session_view(at("2026-11-25", "18:00"))
    assert (evening.state, evening.last_session) == ("closed", dt.date(2026, 11, 25))
    assert evening.last_close == at("2026-11-25", "15:30")
    assert evening.next_open == at("2026-11-26", "09:15")
    morning = session_view(at("2026-11-26", "08:00"))
    assert (morning.state, morning.last_session) == ("closed", dt.date(2026, 11, 25))
    assert morning.next_open == at("2026-11-26", "09:15")
    sunday = session_view(at("2026-11-29", "12:00"))
    assert (sunday.state, sunday.last_session) == ("holiday", dt.date(2026, 11, 27))
    assert sunday.next_open == at("2026-11-30", "09:15")
    assert sunday.reason == "2026-11-29 is a Sunday"
    holiday = session_view(at("2026-11-24", "10:00"))  # Tuesday, an NSE holiday
    assert (holiday.state, holiday.last_session) == ("holiday", dt.date(2026, 11, 23))
    assert holiday.next_open == at("2026-11-25", "09:15")
