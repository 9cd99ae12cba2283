"""The strategy builder's pricing core (`strikeboard.chain.strategy`) on reference cases whose
numbers are derived by hand in the comments."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import numpy as np
import pytest

from strikeboard.chain import bsm
from strikeboard.chain.conventions import IST, time_to_expiry
from strikeboard.chain.strategy import (
    Controls,
    ExpiryMarket,
    Leg,
    Side,
    analyse,
    auto_range_pct,
    entry_vols,
    expiry_close,
)

NOW = datetime(2026, 11, 25, 10, 17, 30, tzinfo=IST)  # a fixed market clock
EXPIRY = date(2026, 12, 1)
LATER = date(2026, 12, 8)
SPOT, RATE, CARRY, ATM_IV = 24_000.0, 0.065, 0.01, 0.2
LOT = 75


def _market(expiry: date) -> ExpiryMarket:
    t = time_to_expiry(NOW, expiry)
    return ExpiryMarket(CARRY, SPOT * math.exp((RATE - CARRY) * t), ATM_IV)


MARKETS = {EXPIRY: _market(EXPIRY), LATER: _market(LATER)}


def _legs(
    *specs: tuple[float, bool, Side, float], lots: int = 1, expiry: date = EXPIRY
) -> list[Leg]:
    """Legs (strike, is_call, side, entry) at the IV their entry implies, as the API builds them."""
    vols = entry_vols([(expiry, k, c, p) for k, c, _, p in specs], SPOT, RATE, MARKETS, NOW)
    return [
        Leg(expiry, k, c, side, lots * LOT, p, v)
        for (k, c, side, p), v in zip(specs, vols, strict=True)
    ]


def _controls(target: datetime = NOW, iv_shift: float = 0.0) -> Controls:
    # 23 000 to 25 000 in 10-point steps: the spot sits on the grid's middle point
    return Controls(23_000.0, 25_000.0, 201, target, iv_shift)


def test_long_straddle() -> None:
    """Buy the 24 000 CE at 200 and the 24 000 PE at 180: premium 380 a unit.
    At expiry the P&L is |S - 24 000| - 380 a unit, so the breakevens are 24 000 - 380 = 23 620
    and 24 000 + 380 = 24 380; the worst is at S = 24 000: -380 x 75 = -28 500; the call makes
    the upside unlimited."""
    legs = _legs((24_000, True, Side.BUY, 200.0), (24_000, False, Side.BUY, 180.0))
    a = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    assert a.breakevens == pytest.approx([23_620.0, 24_380.0], abs=1e-6)
    assert a.max_loss == pytest.approx(-28_500.0)
    assert a.max_profit is None
    assert a.net_premium == pytest.approx(28_500.0)
    i = int(np.argmin(np.abs(a.spots - 24_000.0)))
    assert a.at_expiry[i] == pytest.approx(-28_500.0)
    assert a.horizon == EXPIRY


def test_t0_payoff_at_entry_prices_is_zero() -> None:
    """Each leg's IV is implied from its entry, so revalued now at today's spot the legs are
    worth exactly what was paid: the T+0 P&L at spot is zero (to round-off of ~1e-9 rupees)."""
    legs = _legs(
        (23_500, False, Side.SELL, 61.35),
        (24_000, True, Side.BUY, 212.4),
        (24_500, True, Side.SELL, 48.05),
        lots=3,
    )
    a = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    assert all(math.isfinite(leg.vol) for leg in legs)
    assert abs(a.target_at_spot) < 1e-6
    assert abs(a.at_target[100]) < 1e-6  # the grid's middle point is the spot
    # later, or with IVs shifted, the same position is no longer flat
    later = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls(target=NOW + timedelta(days=3)))
    assert abs(later.target_at_spot) > 1.0


def test_bull_call_spread() -> None:
    """Buy 24 000 CE at 200, sell 24 200 CE at 120: debit 80 a unit. At expiry the P&L is
    -80 below 24 000, S - 24 080 between the strikes, +120 above 24 200 (the 200-point width
    less the debit). One lot of 75: max profit 120 x 75 = 9 000, max loss -80 x 75 = -6 000,
    one breakeven at 24 080; capped both ways."""
    legs = _legs((24_000, True, Side.BUY, 200.0), (24_200, True, Side.SELL, 120.0))
    a = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    assert a.max_profit == pytest.approx(9_000.0)
    assert a.max_loss == pytest.approx(-6_000.0)
    assert a.breakevens == pytest.approx([24_080.0], abs=1e-6)
    assert a.at_expiry[0] == pytest.approx(-6_000.0)
    assert a.at_expiry[-1] == pytest.approx(9_000.0)


def test_short_strangle_loss_is_unlimited_upward_only() -> None:
    """Sell 23 500 PE at 60 and 24 500 CE at 50: credit 110 a unit, so the most it makes is
    110 x 75 = 8 250; breakevens 23 500 - 110 = 23 390 and 24 500 + 110 = 24 610. Above, the
    short call loses without bound (unlimited); below, the put's loss stops at S = 0
    (23 500 - 110 = 23 390 a unit) but the call's side makes the loss unlimited anyway."""
    legs = _legs((23_500, False, Side.SELL, 60.0), (24_500, True, Side.SELL, 50.0))
    a = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    assert a.max_profit == pytest.approx(8_250.0)
    assert a.max_loss is None
    assert a.breakevens == pytest.approx([23_390.0, 24_610.0], abs=1e-6)


def test_bull_put_spread_limited_both_ways_beyond_the_grid() -> None:
    """Sell 24 000 PE at 150, buy 23 000 PE at 20 (outside the displayed range's kink-free
    part): credit 130; max profit 130 x 75 = 9 750 above 24 000, max loss -(1 000 - 130) x 75
    = -65 250 at and below 23 000 (reached at S = 0 as well: limited, no call leg)."""
    legs = _legs((24_000, False, Side.SELL, 150.0), (23_000, False, Side.BUY, 20.0))
    a = analyse(legs, SPOT, RATE, MARKETS, NOW,
                Controls(23_500.0, 24_500.0, 11, NOW))  # fmt: skip
    assert a.max_profit == pytest.approx(9_750.0)
    assert a.max_loss == pytest.approx(-65_250.0)
    assert a.breakevens == pytest.approx([23_870.0], abs=1e-6)


def test_put_call_parity_synthetic_future() -> None:
    """Long the 24 000 CE, short the 24 000 PE, both at their model prices: by put-call parity
    C - P = S e^{-q t} - K e^{-r t}, so the pair's value moves as S e^{-q t}: on the T+0 curve
    the P&L is 75 e^{-q t} (S - S0) (a straight line), delta 75 e^{-q t} rupees a point,
    no gamma, no vega. At expiry: 75 (S - K) - 75 (C - P), one breakeven at K + C - P."""
    t = time_to_expiry(NOW, EXPIRY)
    call = float(bsm.price_and_greeks(SPOT, 24_000.0, t, RATE, CARRY, 0.15, True)[0])
    put = float(bsm.price_and_greeks(SPOT, 24_000.0, t, RATE, CARRY, 0.15, False)[0])
    assert call - put == pytest.approx(SPOT * math.exp(-CARRY * t) - 24_000 * math.exp(-RATE * t))
    legs = _legs((24_000, True, Side.BUY, call), (24_000, False, Side.SELL, put))
    a = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    dq = math.exp(-CARRY * t)
    np.testing.assert_allclose(a.at_target, LOT * dq * (a.spots - SPOT), atol=1e-6)
    assert a.greeks.delta == pytest.approx(LOT * dq)
    assert abs(a.greeks.gamma) < 1e-12 and abs(a.greeks.vega) < 1e-9
    assert a.breakevens == pytest.approx([24_000 + call - put], abs=1e-6)
    assert a.max_profit is None and a.max_loss == pytest.approx(-LOT * (24_000 + call - put))


def test_net_greeks_are_the_legs_sum_in_rupees() -> None:
    """Two lots short of the 24 000 CE: each Greek is -150 x the per-unit Greek at its IV."""
    legs = _legs((24_000, True, Side.SELL, 200.0), lots=2)
    t = time_to_expiry(NOW, EXPIRY)
    _, g = bsm.price_and_greeks(SPOT, 24_000.0, t, RATE, CARRY, legs[0].vol, True)
    a = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    for name in ("delta", "gamma", "theta", "vega"):
        assert getattr(a.greeks, name) == pytest.approx(-150 * float(getattr(g, name)))
    assert a.greeks.theta > 0 and a.greeks.vega < 0  # a short option earns time, fears vol


def test_iv_shift_raises_a_long_options_value() -> None:
    legs = _legs((24_000, True, Side.BUY, 200.0))
    up = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls(iv_shift=0.02))
    # +2 vol points is worth about 2 x vega (per vol point) at spot
    flat = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    assert up.target_at_spot == pytest.approx(2 * flat.greeks.vega, rel=0.02)
    np.testing.assert_array_equal(up.at_expiry, flat.at_expiry)  # expiry has no vol


def test_probability_of_profit_at_the_median() -> None:
    """A long call whose breakeven is the lognormal median F e^{-sigma^2 t / 2}: d2 = 0 at the
    breakeven, so the probability of ending above it is exactly one half."""
    t = time_to_expiry(NOW, EXPIRY)
    forward = MARKETS[EXPIRY].forward
    median = forward * math.exp(-0.5 * ATM_IV * ATM_IV * t)
    legs = _legs((23_900, True, Side.BUY, median - 23_900))
    a = analyse(legs, SPOT, RATE, MARKETS, NOW, _controls())
    assert a.breakevens == pytest.approx([median], abs=1e-6)
    assert a.pop == pytest.approx(0.5, abs=1e-12)


def test_probability_of_profit_long_and_short_add_to_one() -> None:
    long = _legs((24_000, True, Side.BUY, 200.0), (24_000, False, Side.BUY, 180.0))
    short = _legs((24_000, True, Side.SELL, 200.0), (24_000, False, Side.SELL, 180.0))
    a, b = (analyse(x, SPOT, RATE, MARKETS, NOW, _controls()) for x in (long, short))
    assert a.pop is not None and b.pop is not None
    assert a.pop + b.pop == pytest.approx(1.0)
    # the ATM IV (20 %) is above the straddle's own (~15 %): the buyer's odds beat a coin's
    assert 0.5 < a.pop < 1.0


def test_calendar_values_the_later_leg_at_the_first_expiry() -> None:
    """Sell the December 1st 24 000 CE, buy the December 8th one: at the first expiry the near
    leg pays intrinsic and the far leg keeps a week of time value, so the payoff peaks near
    the strike and is not piecewise linear."""
    near = _legs((24_000, True, Side.SELL, 200.0))
    far = _legs((24_000, True, Side.BUY, 330.0), expiry=LATER)
    a = analyse(near + far, SPOT, RATE, MARKETS, NOW, _controls())
    assert a.horizon == EXPIRY
    assert int(np.argmax(a.at_expiry)) == 100  # at the strike (the grid's middle)
    assert len(a.breakevens) == 2
    assert abs(a.target_at_spot) < 1e-6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": NOW - timedelta(minutes=1)}, "target"),
        ({"target": expiry_close(EXPIRY) + timedelta(minutes=1)}, "target"),
        ({"low": 25_000.0}, "spot range"),
    ],
)
def test_bad_controls_are_refused(change: dict[str, object], message: str) -> None:
    base = {"low": 23_000.0, "high": 25_000.0, "points": 11, "target": NOW, "iv_shift": 0.0}
    legs = _legs((24_000, True, Side.BUY, 200.0))
    with pytest.raises(ValueError, match=message):
        analyse(legs, SPOT, RATE, MARKETS, NOW, Controls(**{**base, **change}))  # type: ignore[arg-type]


def test_a_settled_expiry_is_refused() -> None:
    legs = _legs((24_000, True, Side.BUY, 200.0))
    after = datetime.combine(EXPIRY, time(15, 31), IST)
    with pytest.raises(ValueError, match="settled"):
        analyse(legs, SPOT, RATE, MARKETS, after, Controls(1.0, 2.0, 2, after))


def test_auto_range_is_four_standard_deviations() -> None:
    """sigma 20 % over a quarter year: sd = 0.2 x 0.5 = 10 %, four of them 40 %; a day at 10 %:
    4 x 0.1 x sqrt(1/365) = 2.1 %; clamped to 1-50 %, the default without a vol."""
    assert auto_range_pct(0.2, 0.25) == pytest.approx(40.0)
    assert auto_range_pct(0.1, 1 / 365) == pytest.approx(2.1)
    assert auto_range_pct(0.01, 1 / 365) == 1.0
    assert auto_range_pct(1.5, 1.0) == 50.0
    assert auto_range_pct(math.nan, 0.1) == 5.0
