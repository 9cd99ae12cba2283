"""Market conventions: time to expiry, the parity forward, carry, and which leg's IV a strike shows.

See docs/conventions.md. Pure functions: callers pass timestamps, nothing reads a clock.
"""

from __future__ import annotations

import enum
import math
from datetime import date, datetime, time

import numpy as np
from numpy.typing import ArrayLike, NDArray

from strikeboard.market.calendar import IST

__all__ = [
    "EXPIRY_TIME",
    "IST",
    "NSE_RATE",
    "Convention",
    "IvLeg",
    "carry_from_forward",
    "parity_forward",
    "shown_iv",
    "time_to_expiry",
]

FloatArray = NDArray[np.float64]

#: NSE options expire at the close, 15:30 IST.
EXPIRY_TIME = time(15, 30)
#: The rate the NSE option chain page uses for its Black-Scholes IVs.
NSE_RATE = 0.10


class Convention(enum.StrEnum):
    """How IVs and Greeks are computed for a request."""

    #: Black-76 on the put-call parity forward (q implied from it): one smile, as Sensibull/Kite.
    FORWARD = "forward"
    #: Black-Scholes on spot, r = 10 %, q = 0, separate call and put IVs, as the NSE page.
    NSE = "nse"


class IvLeg(enum.StrEnum):
    """Which leg's IV a strike shows."""

    OTM = "otm"  # the out-of-the-money leg (default): puts below the forward, calls above
    CALL = "call"
    PUT = "put"


def time_to_expiry(now: datetime, expiry: date, *, days_per_year: float = 365.0) -> float:
    """Years from ``now`` to ``expiry`` at 15:30 IST, ACT/365 (calendar time, to the second).

    ``now`` must be timezone-aware (a naive datetime raises ValueError: guessing its zone would
    silently shift every IV). Returns 0.0 at or after expiry.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("time_to_expiry needs a timezone-aware datetime")
    end = datetime.combine(expiry, EXPIRY_TIME, tzinfo=IST)
    seconds = (end - now).total_seconds()
    return max(seconds, 0.0) / (days_per_year * 86_400.0)


def parity_forward(
    strikes: ArrayLike,
    call_bid: ArrayLike,
    call_ask: ArrayLike,
    put_bid: ArrayLike,
    put_ask: ArrayLike,
    t: float,
    r: float,
    *,
    spot_hint: float,
    n_strikes: int = 5,
    fallback: float | None = None,
) -> float:
    """Forward of one expiry from put-call parity, ``F = K + e^{rt} (C - P)``.

    Uses mid prices of the ``n_strikes`` strikes nearest ``spot_hint`` where both legs have a
    two-sided quote (bid > 0, ask >= bid); the median of their per-strike forwards resists a stale
    or crossed quote. Returns ``fallback`` (e.g. the future's price) when no strike qualifies, or
    NaN if there is no fallback either.
    """
    k = np.asarray(strikes, dtype=np.float64)
    cb, ca = np.asarray(call_bid, np.float64), np.asarray(call_ask, np.float64)
    pb, pa = np.asarray(put_bid, np.float64), np.asarray(put_ask, np.float64)
    two_sided = (cb > 0) & (ca >= cb) & (pb > 0) & (pa >= pb) & np.isfinite(k)
    if not np.any(two_sided) or not math.isfinite(t) or t <= 0:
        return math.nan if fallback is None else float(fallback)
    idx = np.flatnonzero(two_sided)
    nearest = idx[np.argsort(np.abs(k[idx] - spot_hint), kind="stable")[:n_strikes]]
    growth = math.exp(r * t)
    fwds = k[nearest] + growth * (
        0.5 * (cb[nearest] + ca[nearest]) - 0.5 * (pb[nearest] + pa[nearest])
    )
    return float(np.median(fwds))


def carry_from_forward(spot: float, forward: float, t: float, r: float) -> float:
    """Carry q with ``F = S e^{(r - q) t}``, i.e. ``q = r - ln(F/S)/t``; NaN if undefined.

    With the parity forward this makes BSM on spot identical to Black-76 on the forward, so
    calls and puts give one smile.
    """
    if not (spot > 0 and forward > 0 and t > 0 and math.isfinite(r)):
        return math.nan
    return r - math.log(forward / spot) / t


def shown_iv(
    strikes: ArrayLike,
    call_iv: ArrayLike,
    put_iv: ArrayLike,
    forward: float,
    leg: IvLeg = IvLeg.OTM,
) -> FloatArray:
    """The IV a strike shows: the OTM leg's (put for K < F, call for K >= F), or one leg's."""
    k = np.asarray(strikes, dtype=np.float64)
    c = np.asarray(call_iv, dtype=np.float64)
    p = np.asarray(put_iv, dtype=np.float64)
    if leg is IvLeg.CALL:
        return np.broadcast_to(c, np.broadcast_shapes(k.shape, c.shape)).astype(np.float64)
    if leg is IvLeg.PUT:
        return np.broadcast_to(p, np.broadcast_shapes(k.shape, p.shape)).astype(np.float64)
    return np.where(k < forward, p, c).astype(np.float64)
