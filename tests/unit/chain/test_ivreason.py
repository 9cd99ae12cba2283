"""Why a leg has no IV: each code from a case that `pricing.implied_vol` leaves NaN."""

from __future__ import annotations

import math

import numpy as np

from strikeboard.chain import pricing
from strikeboard.chain.ivreason import IvReason, iv_reasons

SPOT, T, R, Q = 24_000.0, 7 / 365, 0.065, 0.01


def _reasons(prices: list[float], strikes: list[float], is_call: list[bool]) -> list[object]:
    p, k, c = np.array(prices), np.array(strikes), np.array(is_call)
    iv = pricing.implied_vol(p, SPOT, k, T, R, Q, c)
    return list(iv_reasons(iv, p, SPOT, k, T, R, Q, c))


def test_a_priced_leg_has_no_reason_and_each_missing_iv_says_why() -> None:
    fwd = SPOT * math.exp((R - Q) * T)
    disc = math.exp(-R * T)
    deep_call_intrinsic = (fwd - 22_000) * disc
    reasons = _reasons(
        [150.0, math.nan, deep_call_intrinsic - 5, 0.0, 30_000.0, 25_000.0],
        [24_000, 24_000, 22_000, 26_000, 24_000, 24_500],
        [True, True, True, False, True, False],
    )
    assert reasons == [
        None,
        IvReason.NO_PRICE,
        IvReason.INTRINSIC,  # a deep ITM call quoted under intrinsic value: LTP, no IV
        IvReason.INTRINSIC,  # a put at zero premium: no time value
        IvReason.BOUND,  # a call dearer than the forward
        IvReason.BOUND,  # a put dearer than its strike
    ]


def test_no_spot_and_no_time_are_named_before_the_price_checks() -> None:
    p, k = np.array([100.0, 100.0]), np.array([24_000.0, 24_000.0])
    iv = np.array([math.nan, math.nan])
    spot, t = np.array([math.nan, SPOT]), np.array([T, 0.0])
    reasons = list(iv_reasons(iv, p, spot, k, t, R, Q, True))
    assert reasons == [IvReason.NO_SPOT, IvReason.EXPIRED]
