"""Option-chain analytics: pure NumPy functions over per-strike arrays (no I/O, no clock).

Arrays are aligned by strike (ascending). NaN in an input means "no data" and is treated as 0 in
sums (``nansum``) unless a function says otherwise.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Buildup",
    "Pcr",
    "Smile",
    "atm_index",
    "atm_iv",
    "atm_straddle",
    "expected_move",
    "gex_by_strike",
    "gex_flip",
    "gex_total",
    "iv_percentile",
    "iv_rank",
    "iv_smile",
    "max_pain",
    "oi_buildup",
    "oi_totals",
    "pcr",
    "support_resistance",
]

FloatArray = NDArray[np.float64]


def _f(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 and math.isfinite(den) else math.nan


@dataclass(frozen=True, slots=True)
class Pcr:
    """Put-call ratios; NaN where the call side is zero."""

    oi: float
    volume: float
    oi_change: float


def pcr(
    call_oi: ArrayLike,
    put_oi: ArrayLike,
    call_volume: ArrayLike,
    put_volume: ArrayLike,
    call_oi_change: ArrayLike,
    put_oi_change: ArrayLike,
) -> Pcr:
    """PCR = sum(put X) / sum(call X) for X in OI, volume and change in OI."""
    return Pcr(
        oi=_ratio(float(np.nansum(_f(put_oi))), float(np.nansum(_f(call_oi)))),
        volume=_ratio(float(np.nansum(_f(put_volume))), float(np.nansum(_f(call_volume)))),
        oi_change=_ratio(float(np.nansum(_f(put_oi_change))), float(np.nansum(_f(call_oi_change)))),
    )


def max_pain(strikes: ArrayLike, call_oi: ArrayLike, put_oi: ArrayLike) -> float:
    """Max pain: the listed strike S* minimising the writers' payout at settlement S,

    ``payout(S) = sum_K call_oi(K) max(S - K, 0) + put_oi(K) max(K - S, 0)``.
    Ties go to the lowest strike. NaN for an empty chain.
    """
    k = _f(strikes)
    if k.size == 0:
        return math.nan
    c = np.nan_to_num(_f(call_oi))
    p = np.nan_to_num(_f(put_oi))
    settle = k[:, None]
    payout = (c * np.maximum(settle - k, 0.0) + p * np.maximum(k - settle, 0.0)).sum(axis=1)
    return float(k[int(np.argmin(payout))])


def atm_index(strikes: ArrayLike, forward: float) -> int:
    """Index of the ATM strike: the listed strike nearest the forward (lower one on a tie)."""
    k = _f(strikes)
    if k.size == 0 or not math.isfinite(forward):
        raise ValueError("atm_index needs strikes and a finite forward")
    return int(np.argmin(np.abs(k - forward)))


def atm_iv(strikes: ArrayLike, iv: ArrayLike, forward: float) -> float:
    """ATM IV: the shown IV linearly interpolated in strike at the forward (NaN-skipping)."""
    k, v = _f(strikes), _f(iv)
    ok = np.isfinite(v)
    if not np.any(ok):
        return math.nan
    return float(np.interp(forward, k[ok], v[ok]))


def atm_straddle(
    strikes: ArrayLike, call_ltp: ArrayLike, put_ltp: ArrayLike, forward: float
) -> float:
    """ATM straddle premium: call + put last price at the ATM strike."""
    i = atm_index(strikes, forward)
    return float(_f(call_ltp)[i] + _f(put_ltp)[i])


def expected_move(forward: float, atm_vol: float, t: float) -> float:
    """One-standard-deviation move to expiry, ``F * sigma_ATM * sqrt(t)``.

    (The straddle itself is ~0.8 of this: ``straddle ~ sqrt(2/pi) F sigma sqrt(t)``.)
    """
    if not (t >= 0 and math.isfinite(atm_vol)):
        return math.nan
    return forward * atm_vol * math.sqrt(t)


@dataclass(frozen=True, slots=True)
class OiTotals:
    """Total OI per side and change against the previous session's close."""

    call_oi: float
    put_oi: float
    call_oi_change: float
    put_oi_change: float


def oi_totals(
    call_oi: ArrayLike, put_oi: ArrayLike, prev_call_oi: ArrayLike, prev_put_oi: ArrayLike
) -> OiTotals:
    """Sums of OI and of ``oi - prev_close_oi`` per side."""
    c, p = _f(call_oi), _f(put_oi)
    return OiTotals(
        call_oi=float(np.nansum(c)),
        put_oi=float(np.nansum(p)),
        call_oi_change=float(np.nansum(c - _f(prev_call_oi))),
        put_oi_change=float(np.nansum(p - _f(prev_put_oi))),
    )


class Buildup(enum.IntEnum):
    """OI buildup of one contract, from the signs of price change and OI change."""

    NONE = 0
    LONG_BUILDUP = 1  # price up, OI up
    SHORT_BUILDUP = 2  # price down, OI up
    SHORT_COVERING = 3  # price up, OI down
    LONG_UNWINDING = 4  # price down, OI down


def oi_buildup(price_change: ArrayLike, oi_change: ArrayLike) -> NDArray[np.int8]:
    """Per contract :class:`Buildup` codes; NONE where either change is 0 or NaN."""
    dp, do = _f(price_change), _f(oi_change)
    out = np.zeros(np.broadcast_shapes(dp.shape, do.shape), dtype=np.int8)
    out[(dp > 0) & (do > 0)] = Buildup.LONG_BUILDUP
    out[(dp < 0) & (do > 0)] = Buildup.SHORT_BUILDUP
    out[(dp > 0) & (do < 0)] = Buildup.SHORT_COVERING
    out[(dp < 0) & (do < 0)] = Buildup.LONG_UNWINDING
    return out


def support_resistance(
    strikes: ArrayLike, call_oi: ArrayLike, put_oi: ArrayLike, n: int = 1
) -> tuple[FloatArray, FloatArray]:
    """(supports, resistances): the ``n`` strikes with the highest put OI and call OI."""
    k = _f(strikes)
    p = np.nan_to_num(_f(put_oi), nan=-np.inf)
    c = np.nan_to_num(_f(call_oi), nan=-np.inf)
    sup = k[np.argsort(-p, kind="stable")[:n]]
    res = k[np.argsort(-c, kind="stable")[:n]]
    return sup, res


def gex_by_strike(
    spot: float,
    call_gamma: ArrayLike,
    put_gamma: ArrayLike,
    call_oi: ArrayLike,
    put_oi: ArrayLike,
    lot_size: float = 1.0,
) -> FloatArray:
    """Dealer gamma exposure per strike, per 1 % move of spot (in rupees of delta change).

    ``GEX(K) = (gamma_C OI_C - gamma_P OI_P) * lot * S^2 * 0.01``, the usual convention that
    dealers are long the calls and short the puts the public holds. OI in contracts if
    ``lot_size`` is the lot, in units if 1.
    """
    cg, pg = np.nan_to_num(_f(call_gamma)), np.nan_to_num(_f(put_gamma))
    co, po = np.nan_to_num(_f(call_oi)), np.nan_to_num(_f(put_oi))
    return (cg * co - pg * po) * lot_size * spot * spot * 0.01


class Smile(NamedTuple):
    """The points of a smile: which strikes have a finite IV, and their log-moneyness."""

    positions: NDArray[np.intp]
    moneyness: FloatArray


def iv_smile(strikes: ArrayLike, iv: ArrayLike, reference: float) -> Smile:
    """The strikes with a finite IV (and a positive strike) and ln(K/reference) of each; the
    reference is the forward (Black-76) or spot (the NSE convention, which has no forward)."""
    k, v = _f(strikes), _f(iv)
    positions = np.flatnonzero(np.isfinite(v) & (k > 0))
    return Smile(positions, np.log(k[positions] / reference))


def gex_total(gex: ArrayLike) -> float:
    """The chain's dealer gamma exposure: the sum over strikes, strikes without one as 0."""
    return float(np.nansum(_f(gex)))


def gex_flip(strikes: ArrayLike, gex: ArrayLike) -> float | None:
    """The strike where cumulative GEX (from the lowest strike up) first changes sign: below
    it dealers' net gamma is of one sign, above it of the other. Strikes in ascending order."""
    signs = np.sign(np.cumsum(np.nan_to_num(_f(gex))))
    k = _f(strikes)
    for i in range(1, signs.size):
        if signs[i - 1] != 0 and signs[i] != 0 and signs[i] != signs[i - 1]:
            return float(k[i])
    return None


def iv_rank(history: ArrayLike, current: float) -> float:
    """IV rank = (current - min) / (max - min) over the history, in 0..100; NaN if flat/empty."""
    h = _f(history)
    h = h[np.isfinite(h)]
    if h.size == 0 or not math.isfinite(current):
        return math.nan
    lo, hi = float(h.min()), float(h.max())
    if hi == lo:
        return math.nan
    return 100.0 * (current - lo) / (hi - lo)


def iv_percentile(history: ArrayLike, current: float) -> float:
    """IV percentile = share of history values strictly below current, in 0..100."""
    h = _f(history)
    h = h[np.isfinite(h)]
    if h.size == 0 or not math.isfinite(current):
        return math.nan
    return 100.0 * float(np.count_nonzero(h < current)) / h.size
