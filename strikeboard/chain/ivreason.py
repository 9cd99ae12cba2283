"""Why a leg has no implied volatility: one compact code per leg, for the chain document.

`pricing.implied_vol` returns NaN where the vol is not determined; this names the cause so the
SPA can say it (a deep in-the-money call with an LTP and no IV is a quote at or below intrinsic
value, not a bug). Pure NumPy, no I/O; the same bounds as `pricing._iv_scalar`.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["IvReason", "iv_reasons"]


class IvReason(StrEnum):
    """Codes of the chain document's ``iv_reason`` (null when the leg has an IV)."""

    NO_PRICE = "no_price"
    """No last traded price: the contract has not traded."""
    NO_SPOT = "no_spot"
    """No spot or forward to price against."""
    EXPIRED = "expired"
    """No time left to expiry."""
    INTRINSIC = "intrinsic"
    """The price is at or below intrinsic value (no time value to imply a vol from)."""
    BOUND = "bound"
    """The price is at or above the model's upper bound (forward for a call, strike for a put)."""
    UNSOLVED = "unsolved"
    """Inside the bounds, yet no vol was found (should not happen; reported, not hidden)."""


def iv_reasons(
    iv: ArrayLike,
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> NDArray[np.object_]:
    """The `IvReason` value of each leg whose ``iv`` is not finite, None where it is.

    Arguments broadcast together as in `pricing.implied_vol`. Prices are compared undiscounted
    with the forward ``F = S exp((r - q) t)``: intrinsic value ``max(±(F - K), 0)``, upper bound
    ``F`` for a call and ``K`` for a put.
    """
    arrays = np.broadcast_arrays(
        np.asarray(iv, np.float64),
        np.asarray(price, np.float64),
        np.asarray(spot, np.float64),
        np.asarray(strike, np.float64),
        np.asarray(t, np.float64),
        np.asarray(r, np.float64),
        np.asarray(q, np.float64),
        np.asarray(is_call, np.bool_),
    )
    vol, p, s, k, tt, rr, qq, call = arrays
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        discount = np.exp(-rr * tt)
        fwd = s * np.exp(-qq * tt) / discount
        undiscounted = p / discount
        intrinsic = np.where(call, np.maximum(fwd - k, 0.0), np.maximum(k - fwd, 0.0))
        bound = np.where(call, fwd, k)
        conditions = [
            ~np.isfinite(p),
            ~(np.isfinite(s) & (s > 0) & np.isfinite(fwd)),
            ~(tt > 0),
            undiscounted <= intrinsic + 1e-9 * np.maximum(undiscounted, 1.0),
            undiscounted >= bound,
        ]
    codes = [IvReason.NO_PRICE, IvReason.NO_SPOT, IvReason.EXPIRED, IvReason.INTRINSIC]
    codes.append(IvReason.BOUND)
    chosen = np.select(conditions, [c.value for c in codes], default=IvReason.UNSOLVED.value)
    out: NDArray[np.object_] = chosen.astype(object)
    out[np.isfinite(vol)] = None
    return out
