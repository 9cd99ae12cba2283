"""The no-JIT pricing path (`bsm`, the API's NSE recompute) against the compiled kernels
(`pricing`, the feed's): same NaNs, same numbers to round-off."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strikeboard.chain import bsm, pricing
from strikeboard.chain.conventions import NSE_RATE

LEGS = np.array([[True], [False]])  # row 0 calls, row 1 puts
GREEKS = ("delta", "gamma", "theta", "vega", "rho")


def _compare(
    args: tuple[np.ndarray | float, ...], iv_atol: float, greeks_rtol: float
) -> np.ndarray:
    """Both paths on the same input: NaN where the other is NaN, values within the bounds.
    Returns the compiled kernel's IVs."""
    iv_jit, g_jit = pricing.implied_vol_and_greeks(*args)
    iv, g = bsm.implied_vol_and_greeks(*args)
    assert iv.shape == iv_jit.shape
    np.testing.assert_array_equal(np.isnan(iv), np.isnan(iv_jit))
    np.testing.assert_allclose(iv, iv_jit, rtol=0, atol=iv_atol)
    for name in GREEKS:
        a, b = getattr(g, name), getattr(g_jit, name)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        # atol: a Greek that is ~0 (deep OTM gamma, vega) differs by round-off of its size
        np.testing.assert_allclose(a, b, rtol=greeks_rtol, atol=1e-12, err_msg=name)
    return iv_jit


@pytest.mark.parametrize("hours", [0.25, 1.0, 6.25, 24.0, 72.0, 168.0, 720.0])
def test_nse_chain_matches_the_compiled_kernel(hours: float) -> None:
    """A NIFTY chain as the feed stores it (every 50-point strike from -20 % to +20 %, both
    legs, tick-rounded last prices from a skewed smile on the market forward), recomputed the
    NSE way (spot, r = 10 %, q = 0), from 15 minutes to a month before expiry.
    Tolerance: IV within 1e-11 absolute (observed 1.5e-13), Greeks within 1e-10 relative."""
    spot, r, q = 24_137.35, 0.065, 0.012
    strikes = np.arange(19_300.0, 28_951.0, 50.0)
    t = hours / (365.0 * 24.0)
    moneyness = np.log(strikes / (spot * math.exp((r - q) * t))) / math.sqrt(max(t, 1e-4) / 0.1)
    vol = np.clip(0.12 - 0.1 * moneyness + 0.35 * moneyness**2, 0.06, 2.0)
    premium = pricing.bs_price(spot, strikes, t, r, q, vol, LEGS)
    ltp = np.maximum(np.round(premium * 20.0) / 20.0, 0.05)
    iv = _compare((ltp, spot, strikes, t, NSE_RATE, 0.0, LEGS), 1e-11, 1e-10)
    # most of the chain has an IV; deep ITM legs under spot's model often have none
    assert np.isfinite(iv).sum() > 0.7 * iv.size


def test_whole_range_and_ill_conditioned_premiums_match() -> None:
    """Random options well beyond a chain (quarter-hour to 2 years, vols 2 % to 300 %,
    +-40 % moneyness, rates and carries of either sign), tick-rounded, some premiums pushed
    off the model (below intrinsic, above the bound). Where the time value is under a tick the
    vol is ill-conditioned and last-digit differences of exp/log move it more: 1e-8 there,
    1e-10 where the time value is at least a tick."""
    rng = np.random.default_rng(7)
    n = 20_000
    s = 24_000.0 * np.exp(rng.uniform(-0.3, 0.3, n))
    k = s * np.exp(rng.uniform(-0.4, 0.4, n))
    t = np.exp(rng.uniform(math.log(1 / (365 * 96)), math.log(2.0), n))
    r, q = rng.uniform(-0.01, 0.12, n), rng.uniform(-0.03, 0.08, n)
    v = np.exp(rng.uniform(math.log(0.02), math.log(3.0), n))
    call = rng.random(n) < 0.5
    p = np.round(pricing.bs_price(s, k, t, r, q, v, call) * 20.0) / 20.0
    p[::7] += rng.normal(0.0, 1.0, p[::7].size)
    iv_jit = _compare((p, s, k, t, r, q, call), 1e-8, 1e-6)
    fs, kd = s * np.exp(-q * t), k * np.exp(-r * t)
    tick_ok = p - np.where(call, np.maximum(fs - kd, 0), np.maximum(kd - fs, 0)) >= 0.05
    iv, _ = bsm.implied_vol_and_greeks(p, s, k, t, r, q, call)
    assert np.nanmax(np.abs(iv - iv_jit)[tick_ok]) <= 1e-10
    assert np.isnan(iv_jit).sum() > 1_000 and np.isfinite(iv_jit[tick_ok]).all()


def test_bad_input_and_broadcasting_follow_the_compiled_kernel() -> None:
    s, k, t, r, q = 24_000.0, 23_000.0, 0.05, 0.07, 0.01
    intrinsic = s * math.exp(-q * t) - k * math.exp(-r * t)
    prices = np.array([intrinsic - 1, intrinsic, s * math.exp(-q * t), 1e9, -1.0, np.nan, 1100.0])
    _compare((prices, s, k, t, r, q, True), 0.0, 0.0)
    _compare((100.0, s, k, np.array([0.0, -1.0, np.inf, 0.05]), r, q, False), 0.0, 0.0)
    _compare((100.0, np.array([0.0, -5.0, np.inf, np.nan]), k, t, r, q, False), 0.0, 0.0)
    grid = np.linspace(20_000, 28_000, 12).reshape(3, 4)
    p = pricing.bs_price(s, grid, t, r, q, 0.15, np.array([True, False, True, False]))
    _compare((p, s, grid, t, r, q, np.array([True, False, True, False])), 1e-12, 1e-10)
    iv, g = bsm.implied_vol_and_greeks(float(p[1, 1]), s, float(grid[1, 1]), t, r, q, False)
    assert iv.shape == () and g.delta.shape == ()
    assert float(iv) == pytest.approx(0.15, abs=1e-12)
    empty, _ = bsm.implied_vol_and_greeks(np.empty(0), s, k, t, r, q, True)
    assert empty.shape == (0,)


def test_price_and_greeks_match_the_compiled_kernel() -> None:
    """The strategy builder's no-JIT pricer against `pricing.greeks`/`bs_price`, with NaN
    where an input is unusable (zero time, negative vol, NaN spot)."""
    spot = np.array([24_000.0, 24_000.0, 24_000.0, 24_000.0, math.nan])
    strikes = np.array([[23_000.0], [24_000.0], [25_500.0]])
    t = np.array([0.02, 0.0, 0.1, 0.3, 0.1])
    vol = np.array([0.14, 0.14, -0.1, 0.22, 0.14])
    args = (spot, strikes, t, 0.065, 0.01, vol)
    for call in (True, False):
        price, g = bsm.price_and_greeks(*args, call)
        np.testing.assert_allclose(price, pricing.bs_price(*args, call), rtol=1e-12)
        g_jit = pricing.greeks(*args, call)
        for name in GREEKS:
            np.testing.assert_allclose(getattr(g, name), getattr(g_jit, name), rtol=1e-12)
        assert np.isnan(price[:, 1:3]).all() and np.isnan(price[:, 4]).all()
        assert np.isfinite(price[:, [0, 3]]).all()
