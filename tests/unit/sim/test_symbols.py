"""Strike grid and tradingsymbols of the simulator's universe."""

from __future__ import annotations

import datetime as dt
import itertools

from strikeboard.sim.universe import monthly_symbol, strike_grid, weekly_symbol

D = dt.date


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
