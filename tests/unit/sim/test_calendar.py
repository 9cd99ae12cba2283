"""Expiry calendar and strike grid of the simulator."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from strikeboard.sim.calendar import TradingCalendar
from strikeboard.sim.universe import monthly_symbol, strike_grid, weekly_symbol

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


def test_strike_grid_fine_near_money_coarse_far() -> None:
    g = strike_grid(26_010, 50, 100, 1500, 0.75 * 26_010, 1.25 * 26_010)
    assert 26_050 in g and 27_450 in g and 24_550 in g
    assert 27_550 not in g and 27_600 in g and 28_050 not in g
    assert min(g) >= 0.75 * 26_010 and max(g) <= 1.25 * 26_010
    steps = {b - a for a, b in itertools.pairwise(g)}
    assert steps == {50, 100}


def test_symbols() -> None:
    assert weekly_symbol(D(2025, 12, 2), 26000, "CE") == "NIFTY25D0226000CE"
    assert weekly_symbol(D(2025, 10, 7), 25000, "PE") == "NIFTY25O0725000PE"
    assert monthly_symbol(D(2025, 12, 30), 26000, "CE") == "NIFTY25DEC26000CE"
