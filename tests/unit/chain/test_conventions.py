"""Conventions: time to expiry, parity forward, carry, shown IV leg."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import pytest

from strikeboard.chain import conventions as cv
from strikeboard.chain.pricing import bs_price, implied_vol
from strikeboard.market.calendar import IST


def test_time_to_expiry_act365_to_1530_ist() -> None:
    now = datetime(2026, 1, 27, 9, 30, tzinfo=IST)
    assert cv.time_to_expiry(now, date(2026, 1, 27)) == pytest.approx(6 / 24 / 365)
    assert cv.time_to_expiry(
        datetime(2026, 1, 27, 4, 0, tzinfo=UTC), date(2026, 1, 28)
    ) == pytest.approx((1 + 6 / 24) / 365)
    assert cv.time_to_expiry(datetime(2026, 1, 27, 16, 0, tzinfo=IST), date(2026, 1, 27)) == 0
    with pytest.raises(ValueError):
        cv.time_to_expiry(datetime(2026, 1, 27, 9, 30), date(2026, 1, 27))


def test_parity_forward_recovers_forward_and_ignores_stale_quote() -> None:
    s, r, q, t = 24_000.0, 0.065, 0.012, 10 / 365
    f = s * math.exp((r - q) * t)
    k = np.arange(23_500.0, 24_550.0, 50.0)
    c = bs_price(s, k, t, r, q, 0.13, True)
    p = bs_price(s, k, t, r, q, 0.13, False)
    cb, ca, pb, pa = c - 0.5, c + 0.5, p - 0.5, p + 0.5
    cb[10] = ca[10] = 1.0  # a stale call quote at the money
    got = cv.parity_forward(k, cb, ca, pb, pa, t, r, spot_hint=s)
    assert got == pytest.approx(f, abs=1e-6)
    none = np.zeros_like(k)
    assert (
        cv.parity_forward(k, none, none, none, none, t, r, spot_hint=s, fallback=24_100.0)
        == 24_100.0
    )
    assert cv.carry_from_forward(s, f, t, r) == pytest.approx(q, abs=1e-12)


def test_carry_gives_one_smile_and_otm_leg_choice() -> None:
    s, r, t = 24_000.0, 0.065, 7 / 365
    f = 24_080.0
    q = cv.carry_from_forward(s, f, t, r)
    k = np.array([23_800.0, 24_300.0])
    vol = np.array([0.15, 0.12])
    c = bs_price(s, k, t, r, q, vol, True)
    p = bs_price(s, k, t, r, q, vol, False)
    civ = implied_vol(c, s, k, t, r, q, True)
    piv = implied_vol(p, s, k, t, r, q, False)
    np.testing.assert_allclose(civ, piv, atol=1e-9)
    shown = cv.shown_iv(k, [0.9, 0.8], [0.1, 0.2], f)
    assert shown.tolist() == [0.1, 0.8]
    assert cv.shown_iv(k, [0.9, 0.8], [0.1, 0.2], f, cv.IvLeg.CALL).tolist() == [0.9, 0.8]
