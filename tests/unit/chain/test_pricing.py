"""Pricing core: against QuantLib, round trips, parity, monotonicity, bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strikeboard.chain.pricing import bs_price, greeks, implied_vol, implied_vol_and_greeks

ql = pytest.importorskip("QuantLib")

TICK = 0.05


def _random_cases(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = 24_000.0 * np.exp(rng.uniform(-0.3, 0.3, n))
    return {
        "s": s,
        "k": s * np.exp(rng.uniform(-0.4, 0.4, n)),
        "t": np.exp(rng.uniform(math.log(1 / (365 * 24)), math.log(2.0), n)),
        "r": rng.uniform(-0.01, 0.12, n),
        "q": rng.uniform(-0.03, 0.08, n),
        "v": np.exp(rng.uniform(math.log(0.04), math.log(1.5), n)),
        "c": rng.random(n) < 0.5,
    }


def _time_value(p: np.ndarray, c: dict[str, np.ndarray]) -> np.ndarray:
    fs = c["s"] * np.exp(-c["q"] * c["t"])
    kd = c["k"] * np.exp(-c["r"] * c["t"])
    return p - np.where(c["c"], np.maximum(fs - kd, 0), np.maximum(kd - fs, 0))


def test_price_and_greeks_match_quantlib() -> None:
    c = _random_cases(2000, 1)
    # QuantLib works in whole days: use t = days/365 on both sides
    days = np.maximum(np.round(c["t"] * 365), 1).astype(int)
    t = days / 365.0
    price = bs_price(c["s"], c["k"], t, c["r"], c["q"], c["v"], c["c"])
    g = greeks(c["s"], c["k"], t, c["r"], c["q"], c["v"], c["c"])
    today = ql.Date(2, 1, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    for i in range(0, 2000, 4):
        proc = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(float(c["s"][i]))),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(c["q"][i]), dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(c["r"][i]), dc)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(today, ql.NullCalendar(), float(c["v"][i]), dc)
            ),
        )
        kind = ql.Option.Call if c["c"][i] else ql.Option.Put
        opt = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(c["k"][i])), ql.EuropeanExercise(today + int(days[i]))
        )
        opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
        scale = float(c["s"][i])
        assert price[i] == pytest.approx(opt.NPV(), abs=1e-9 * scale)
        assert g.delta[i] == pytest.approx(opt.delta(), abs=1e-12)
        assert g.gamma[i] == pytest.approx(opt.gamma(), rel=1e-9, abs=1e-15)
        assert g.vega[i] == pytest.approx(opt.vega() / 100, rel=1e-9, abs=1e-12)
        assert g.rho[i] == pytest.approx(opt.rho() / 100, rel=1e-9, abs=1e-12)
        assert g.theta[i] == pytest.approx(opt.theta() / 365, rel=1e-9, abs=1e-9)


def test_iv_recovers_generating_vol_across_the_range() -> None:
    c = _random_cases(20_000, 2)
    p = bs_price(c["s"], c["k"], c["t"], c["r"], c["q"], c["v"], c["c"])
    ok = _time_value(p, c) >= TICK
    assert ok.sum() > 5_000
    iv = implied_vol(p, c["s"], c["k"], c["t"], c["r"], c["q"], c["c"])
    err = np.abs(iv[ok] - c["v"][ok])
    assert not np.isnan(err).any()
    assert err.max() <= 1e-9


def test_fused_greeks_equal_greeks_at_the_implied_vol() -> None:
    # the fused path takes N(d1), N(d2) from the solver: it must agree with a fresh evaluation
    c = _random_cases(20_000, 5)
    p = bs_price(c["s"], c["k"], c["t"], c["r"], c["q"], c["v"], c["c"])
    iv, g = implied_vol_and_greeks(p, c["s"], c["k"], c["t"], c["r"], c["q"], c["c"])
    iv2 = implied_vol(p, c["s"], c["k"], c["t"], c["r"], c["q"], c["c"])
    np.testing.assert_array_equal(iv, iv2)
    g2 = greeks(c["s"], c["k"], c["t"], c["r"], c["q"], iv2, c["c"])
    assert np.isfinite(g.delta).sum() > 10_000
    np.testing.assert_allclose(g.delta, g2.delta, rtol=0, atol=1e-13)
    np.testing.assert_allclose(g.gamma, g2.gamma, rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(g.vega, g2.vega, rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(g.theta, g2.theta, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(g.rho, g2.rho, rtol=1e-10, atol=1e-10)


def test_iv_matches_quantlib_solver() -> None:
    c = _random_cases(300, 3)
    days = np.maximum(np.round(c["t"] * 365), 1).astype(int)
    t = days / 365.0
    p = bs_price(c["s"], c["k"], t, c["r"], c["q"], c["v"], c["c"])
    iv = implied_vol(p, c["s"], c["k"], t, c["r"], c["q"], c["c"])
    today = ql.Date(2, 1, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    checked = 0
    for i in np.flatnonzero(_time_value(p, {**c, "t": t}) >= 1.0):
        proc = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(float(c["s"][i]))),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(c["q"][i]), dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(c["r"][i]), dc)),
            ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), 0.2, dc)),
        )
        kind = ql.Option.Call if c["c"][i] else ql.Option.Put
        opt = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(c["k"][i])), ql.EuropeanExercise(today + int(days[i]))
        )
        opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
        ref = opt.impliedVolatility(float(p[i]), proc, 1e-13, 1000, 1e-4, 5.0)
        assert iv[i] == pytest.approx(ref, abs=1e-8)
        checked += 1
    assert checked > 100


def test_iv_nan_outside_bounds_and_on_bad_input() -> None:
    s, k, t, r, q = 24_000.0, 23_000.0, 0.05, 0.07, 0.01
    intrinsic_c = s * math.exp(-q * t) - k * math.exp(-r * t)
    prices = np.array([intrinsic_c - 1, intrinsic_c, s * math.exp(-q * t), 1e9, -1.0, np.nan])
    assert np.isnan(implied_vol(prices, s, k, t, r, q, True)).all()
    assert np.isnan(implied_vol(100.0, s, k, [0.0, -1.0], r, q, True)).all()
    assert np.isnan(implied_vol(100.0, [0.0, -5.0, np.inf], k, t, r, q, False)).all()
    put_upper = k * math.exp(-r * t)
    assert np.isnan(implied_vol(put_upper, s, k, t, r, q, False))
    g = greeks(s, k, t, r, q, np.array([np.nan, 0.0, -0.1]), True)
    assert np.isnan(g.delta).all() and np.isnan(g.rho).all()


def test_broadcasting_shapes_and_fused_equals_two_calls() -> None:
    k = np.linspace(20_000, 28_000, 12).reshape(3, 4)
    vols = 0.1 + 0.2 * np.arange(4) / 4
    p = bs_price(24_000.0, k, 0.02, 0.065, 0.0, vols, np.array([True, False, True, False]))
    assert p.shape == (3, 4)
    iv, g = implied_vol_and_greeks(
        p, 24_000.0, k, 0.02, 0.065, 0.0, np.array([True, False, True, False])
    )
    iv2 = implied_vol(p, 24_000.0, k, 0.02, 0.065, 0.0, np.array([True, False, True, False]))
    np.testing.assert_array_equal(iv, iv2)
    g2 = greeks(24_000.0, k, 0.02, 0.065, 0.0, iv2, np.array([True, False, True, False]))
    for name, arr in g.as_dict().items():
        np.testing.assert_allclose(arr, g2.as_dict()[name], rtol=1e-12, atol=1e-15)
    scalar = implied_vol(float(p[1, 1]), 24_000.0, float(k[1, 1]), 0.02, 0.065, 0.0, False)
    assert scalar.shape == ()
    assert float(scalar) == pytest.approx(0.15, abs=1e-12)


def test_iv_converges_in_few_steps_for_tick_priced_options() -> None:
    from strikeboard.chain.pricing import _solve_total_vol  # noqa: PLC0415

    c = _random_cases(3000, 4)
    p = bs_price(c["s"], c["k"], c["t"], c["r"], c["q"], c["v"], c["c"])
    steps = []
    for i in np.flatnonzero(_time_value(p, c) >= TICK):
        f = c["s"][i] * math.exp((c["r"][i] - c["q"][i]) * c["t"][i])
        x = math.log(f / c["k"][i])
        pu = p[i] * math.exp(c["r"][i] * c["t"][i])
        if c["c"][i] and x > 0:
            pu -= f - c["k"][i]
        if not c["c"][i] and x < 0:
            pu -= c["k"][i] - f
        steps.append(_solve_total_vol(pu / math.sqrt(f * c["k"][i]), -abs(x))[1])
    assert max(steps) <= 12
    assert np.mean(steps) <= 3.5


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    m=st.floats(-0.3, 0.3),
    t=st.floats(1 / (365 * 24 * 2), 1.0),
    v=st.floats(0.05, 1.2),
    r=st.floats(0.0, 0.12),
    q=st.floats(-0.02, 0.06),
    call=st.booleans(),
)
def test_round_trip_price_iv_price(
    m: float, t: float, v: float, r: float, q: float, call: bool
) -> None:
    s = 24_000.0
    k = s * math.exp(m)
    p = float(bs_price(s, k, t, r, q, v, call))
    fs, kd = s * math.exp(-q * t), k * math.exp(-r * t)
    tv = p - max((fs - kd) if call else (kd - fs), 0.0)
    iv = float(implied_vol(p, s, k, t, r, q, call))
    if tv >= TICK:
        assert iv == pytest.approx(v, abs=1e-9)
    if not math.isnan(iv):
        assert float(bs_price(s, k, t, r, q, iv, call)) == pytest.approx(p, rel=1e-12, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    m=st.floats(-0.4, 0.4),
    t=st.floats(1e-3, 2.0),
    v=st.floats(0.02, 1.5),
    r=st.floats(-0.01, 0.12),
    q=st.floats(-0.02, 0.08),
)
def test_put_call_parity_of_prices_and_greeks(
    m: float, t: float, v: float, r: float, q: float
) -> None:
    s = 24_000.0
    k = s * math.exp(m)
    c, p = bs_price(s, k, t, r, q, v, np.array([True, False]))
    gc = greeks(s, k, t, r, q, v, True)
    gp = greeks(s, k, t, r, q, v, False)
    assert c - p == pytest.approx(s * math.exp(-q * t) - k * math.exp(-r * t), abs=1e-8 * s)
    assert float(gc.delta - gp.delta) == pytest.approx(math.exp(-q * t), abs=1e-12)
    assert float(gc.gamma) == pytest.approx(float(gp.gamma), rel=1e-12)
    assert float(gc.vega) == pytest.approx(float(gp.vega), rel=1e-12)
    assert float(gc.rho - gp.rho) == pytest.approx(k * t * math.exp(-r * t) / 100, rel=1e-9)
    theta_diff = (q * s * math.exp(-q * t) - r * k * math.exp(-r * t)) / 365
    assert float(gc.theta - gp.theta) == pytest.approx(theta_diff, abs=1e-9 * s)


@settings(max_examples=100, deadline=None)
@given(t=st.floats(1e-3, 1.0), v=st.floats(0.05, 1.0), call=st.booleans())
def test_monotone_in_strike_and_vol(t: float, v: float, call: bool) -> None:
    s = 24_000.0
    k = np.linspace(0.8 * s, 1.2 * s, 81)
    p = bs_price(s, k, t, 0.065, 0.01, v, call)
    dp = np.diff(p)
    assert (dp <= 1e-9).all() if call else (dp >= -1e-9).all()
    vols = np.linspace(0.05, 1.5, 50)
    pv = bs_price(s, s * 1.05, t, 0.065, 0.01, vols, call)
    assert (np.diff(pv) >= -1e-12 * s).all() and pv[-1] > pv[0]
