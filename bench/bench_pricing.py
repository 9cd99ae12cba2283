"""Benchmark: implied vol + five Greeks for realistic NIFTY chains, on one core.

Run: ``uv run --group bench python bench/bench_pricing.py``

Chains: forward 24,000, strikes 0.8F..1.2F every 50 points, calls and puts, expiries spread over
1..60 days, a skewed smile; premiums are exact model prices from the smile vols. For 400, 2,000
and 10,000 options it prints options/s of strikeboard (fused ``implied_vol_and_greeks`` and the
two-call ``implied_vol`` + ``greeks``, and `bsm`, the same algorithm in plain NumPy that the API
uses) next to a QuantLib loop and vollib's Let's Be Rational (pure Python), and the largest IV
error against the generating vols over options whose time value is at least one tick (0.05).
"""

from __future__ import annotations

import os

# One core: thread pools off before numpy/numba load, and the process pinned to one CPU.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from strikeboard.chain import bsm  # noqa: E402
from strikeboard.chain.pricing import (  # noqa: E402
    bs_price,
    greeks,
    implied_vol,
    implied_vol_and_greeks,
)

SPOT = 24_000.0
R = 0.065
Q = 0.012
TICK = 0.05


def make_chain(n: int) -> dict[str, np.ndarray]:
    """A chain of exactly n options: full strike ladders per expiry, truncated to n."""
    strikes = np.arange(math.ceil(0.8 * SPOT / 50) * 50, 1.2 * SPOT + 1, 50.0)
    per_expiry = 2 * strikes.size
    n_exp = math.ceil(n / per_expiry)
    days = np.linspace(1.0, 60.0, n_exp).round()
    k = np.tile(np.concatenate([strikes, strikes]), n_exp)[:n]
    is_call = np.tile(
        np.concatenate([np.ones(strikes.size, bool), np.zeros(strikes.size, bool)]), n_exp
    )[:n]
    t = np.repeat(days / 365.0, per_expiry)[:n]
    fwd = SPOT * np.exp((R - Q) * t)
    m = np.log(k / fwd) / np.sqrt(t / 0.1)  # time-scaled moneyness gives a realistic smile
    vol = 0.12 + 0.02 * np.sqrt(0.1 / t) * 0.1 - 0.10 * m + 0.35 * m * m
    vol = np.clip(vol, 0.06, 1.5)
    price = bs_price(SPOT, k, t, R, Q, vol, is_call)
    intrinsic = np.where(
        is_call,
        np.maximum(SPOT * np.exp(-Q * t) - k * np.exp(-R * t), 0.0),
        np.maximum(k * np.exp(-R * t) - SPOT * np.exp(-Q * t), 0.0),
    )
    return {
        "k": k,
        "t": t,
        "vol": vol,
        "price": price,
        "call": is_call,
        "tv_ok": (price - intrinsic) >= TICK,
    }


def best_time(fn: Callable[[], object], min_total: float = 0.3, repeat: int = 7) -> float:
    """Best-of-`repeat` seconds per call, each sample looping long enough to be measurable."""
    fn()
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - t0 > min_total / repeat:
            break
        loops *= 2
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return min(samples)


def ours_fused(c: dict[str, np.ndarray]) -> np.ndarray:
    iv, _ = implied_vol_and_greeks(c["price"], SPOT, c["k"], c["t"], R, Q, c["call"])
    return iv


def ours_no_jit(c: dict[str, np.ndarray]) -> np.ndarray:
    iv, _ = bsm.implied_vol_and_greeks(c["price"], SPOT, c["k"], c["t"], R, Q, c["call"])
    return iv


def ours_two_calls(c: dict[str, np.ndarray]) -> np.ndarray:
    iv = implied_vol(c["price"], SPOT, c["k"], c["t"], R, Q, c["call"])
    greeks(SPOT, c["k"], c["t"], R, Q, iv, c["call"])
    return iv


def quantlib_loop(c: dict[str, np.ndarray]) -> np.ndarray:
    """IV (Brent, 1e-12) + delta, gamma, theta/day, vega, rho, one QuantLib option at a time."""
    import QuantLib as ql  # noqa: N813, PLC0415 (bench-only references load lazily)

    today = ql.Date(2, 1, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot = ql.SimpleQuote(SPOT)
    volq = ql.SimpleQuote(0.2)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, Q, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(volq), dc)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    out = np.empty(c["k"].size)
    for i in range(c["k"].size):
        days = round(float(c["t"][i]) * 365.0)
        kind = ql.Option.Call if c["call"][i] else ql.Option.Put
        opt = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(c["k"][i])), ql.EuropeanExercise(today + days)
        )
        opt.setPricingEngine(engine)
        try:
            iv = opt.impliedVolatility(float(c["price"][i]), process, 1e-12, 500, 1e-4, 5.0)
        except RuntimeError:
            out[i] = math.nan
            continue
        volq.setValue(iv)
        opt.delta(), opt.gamma(), opt.thetaPerDay(), opt.vega(), opt.rho()
        out[i] = iv
    return out


def vollib_loop(c: dict[str, np.ndarray]) -> np.ndarray:
    """vollib (Let's Be Rational, pure Python): IV + analytical Greeks, one option at a time."""
    from vollib.black_scholes_merton.greeks import analytical as g  # noqa: PLC0415
    from vollib.black_scholes_merton.implied_volatility import (  # noqa: PLC0415
        implied_volatility,
    )

    out = np.empty(c["k"].size)
    for i in range(c["k"].size):
        flag = "c" if c["call"][i] else "p"
        k, t = float(c["k"][i]), float(c["t"][i])
        try:
            iv = implied_volatility(float(c["price"][i]), SPOT, k, t, R, Q, flag)
        except Exception:  # vollib raises below intrinsic / above maximum
            out[i] = math.nan
            continue
        g.delta(flag, SPOT, k, t, R, iv, Q)
        g.gamma(flag, SPOT, k, t, R, iv, Q)
        g.theta(flag, SPOT, k, t, R, iv, Q)
        g.vega(flag, SPOT, k, t, R, iv, Q)
        g.rho(flag, SPOT, k, t, R, iv, Q)
        out[i] = iv
    return out


def max_err(iv: np.ndarray, c: dict[str, np.ndarray]) -> float:
    ok = c["tv_ok"]
    err = np.abs(iv[ok] - c["vol"][ok])
    return float(np.max(np.where(np.isnan(err), np.inf, err)))


def main() -> None:
    warnings.simplefilter("ignore")
    print("IV + delta, gamma, theta, vega, rho; one core (pinned, 1 thread); best of 7")
    header = (
        f"{'options':>8} {'method':<34} {'time/chain':>12} {'options/s':>14} "
        f"{'x QuantLib':>10} {'max IV err (tv>=tick)':>22}"
    )
    print(header)
    print("-" * len(header))
    warm = make_chain(40)  # imports and first-call set-up stay out of the figures
    (
        quantlib_loop(warm),
        vollib_loop(warm),
        ours_fused(warm),
        ours_two_calls(warm),
        ours_no_jit(warm),
    )
    for n in (400, 2_000, 10_000):
        c = make_chain(n)
        rows: list[tuple[str, float, float]] = []
        for name, fn, fast in (
            ("strikeboard implied_vol_and_greeks", ours_fused, True),
            ("strikeboard implied_vol + greeks", ours_two_calls, True),
            ("QuantLib loop (Brent 1e-12)", quantlib_loop, False),
            ("vollib LBR loop (pure Python)", vollib_loop, False),
            ("strikeboard bsm (NumPy, no JIT)", ours_no_jit, True),
        ):
            if fast:
                sec = best_time(lambda fn=fn, c=c: fn(c))
                iv = fn(c)
            else:
                t0 = time.perf_counter()
                iv = fn(c)
                sec = time.perf_counter() - t0
            rows.append((name, sec, max_err(iv, c)))
        ql_sec = rows[2][1]
        for name, sec, err in rows:
            print(
                f"{n:>8} {name:<34} {sec * 1e3:>9.3f} ms {n / sec:>14,.0f} "
                f"{ql_sec / sec:>10.1f} {err:>22.2e}"
            )
        print(f"{'':>8} ({int(c['tv_ok'].sum())} of {n} options have time value >= one tick)")
    print("Target: >= 2,500,000 options/s and >= 50x QuantLib on 2,000 options, IV err <= 1e-9.")


if __name__ == "__main__":
    main()
