"""Analytics: hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strikeboard.chain import analytics as a


def test_max_pain_hand_worked() -> None:
    k = [100.0, 110.0, 120.0]
    call_oi = [10.0, 20.0, 5.0]
    put_oi = [5.0, 15.0, 30.0]
    # payout(100) = puts 15*10 + 30*20 = 750
    # payout(110) = calls 10*10 + puts 30*10 = 400
    # payout(120) = calls 10*20 + 20*10 = 400 -> tie, lowest strike wins
    assert a.max_pain(k, call_oi, put_oi) == 110.0
    assert a.max_pain([100.0, 110.0], [0.0, 0.0], [0.0, 10.0]) == 110.0
    assert math.isnan(a.max_pain([], [], []))


def test_pcr_hand_worked() -> None:
    r = a.pcr([100, 200], [150, 150], [10, 30], [20, 0], [5, -1], [2, 6])
    assert r.oi == pytest.approx(1.0)
    assert r.volume == pytest.approx(0.5)
    assert r.oi_change == pytest.approx(2.0)
    assert math.isnan(a.pcr([0], [5], [0], [1], [0], [1]).oi)


def test_buildup_codes() -> None:
    codes = a.oi_buildup([1.0, -1.0, 2.0, -3.0, 0.0, np.nan], [5.0, 5.0, -5.0, -1.0, 3.0, 1.0])
    assert codes.tolist() == [
        a.Buildup.LONG_BUILDUP,
        a.Buildup.SHORT_BUILDUP,
        a.Buildup.SHORT_COVERING,
        a.Buildup.LONG_UNWINDING,
        a.Buildup.NONE,
        a.Buildup.NONE,
    ]


def test_atm_straddle_move_and_iv() -> None:
    k = [23_900.0, 24_000.0, 24_100.0]
    assert a.atm_index(k, 24_040.0) == 1
    assert a.atm_straddle(k, [200, 150, 100], [90, 140, 190], 24_040.0) == 290.0
    assert a.atm_iv(k, [0.14, 0.12, np.nan], 24_050.0) == pytest.approx(0.12)
    assert a.atm_iv(k, [0.14, 0.12, 0.13], 23_950.0) == pytest.approx(0.13)
    assert a.expected_move(24_000.0, 0.12, 0.04) == pytest.approx(24_000 * 0.12 * 0.2)


def test_totals_support_resistance_gex() -> None:
    tot = a.oi_totals([10, 20], [30, 40], [5, 25], [30, 10])
    assert (tot.call_oi, tot.put_oi, tot.call_oi_change, tot.put_oi_change) == (30, 70, 0, 30)
    sup, res = a.support_resistance([100.0, 110.0, 120.0], [1, 9, 5], [7, 2, 3], n=2)
    assert sup.tolist() == [100.0, 120.0] and res.tolist() == [110.0, 120.0]
    gex = a.gex_by_strike(100.0, [0.01, 0.02], [0.01, 0.03], [10, 0], [0, 10], lot_size=2)
    assert gex.tolist() == pytest.approx([0.01 * 10 * 2 * 100.0, -0.03 * 10 * 2 * 100.0])


def test_iv_rank_percentile_and_smile() -> None:
    h = [0.10, 0.20, 0.15, np.nan, 0.30]
    assert a.iv_rank(h, 0.25) == pytest.approx(75.0)
    assert a.iv_percentile(h, 0.25) == pytest.approx(75.0)
    assert math.isnan(a.iv_rank([0.2, 0.2], 0.2))
    smile = a.iv_smile([0.0, 90.0, 100.0, 110.0], [0.3, 0.2, np.nan, 0.18], 100.0)
    assert smile.positions.tolist() == [1, 3]  # no IV at 100, no log-moneyness at a 0 strike
    assert smile.moneyness == pytest.approx([math.log(0.9), math.log(1.1)])


def test_gex_total_and_flip() -> None:
    assert a.gex_total([-5.0, np.nan, 10.0]) == 5.0
    # Cumulative -5, -6, 4, 7: the sign turns at the third strike.
    assert a.gex_flip([1, 2, 3, 4], [-5, -1, 10, 3]) == 3
    assert a.gex_flip([1, 2, 3], [-5, np.nan, 10]) == 3  # a strike with no GEX counts as 0
    assert a.gex_flip([1, 2], [1, 1]) is None
    assert a.gex_flip([], []) is None
