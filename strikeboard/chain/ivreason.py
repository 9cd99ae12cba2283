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


# In the order of `iv_reasons`' conditions, the last one for none of them.
_NAMES: NDArray[np.object_] = np.array(
    [
        IvReason.NO_PRICE.value,
        IvReason.NO_SPOT.value,
        IvReason.EXPIRED.value,
        IvReason.INTRINSIC.value,
        IvReason.BOUND.value,
        IvReason.UNSOLVED.value,
    ],
    dtype=object,
)


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
    args = (iv, price, spot, strike, t, r, q, is_call)
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    missing = ~np.isfinite(np.broadcast_to(np.asarray(iv, np.float64), shape))
    out: NDArray[np.object_] = np.full(shape, None, dtype=object)
    if not missing.any():
        return out  # the usual case, on the feed's hot path: nothing to explain
    arrays = [np.broadcast_to(np.asarray(a, np.float64), shape) for a in args[1:-1]]
    arrays.append(np.broadcast_to(np.asarray(is_call, np.bool_), shape))
    p, s, k, tt, rr, qq, call = (a[missing] for a in arrays)
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
    # Integer picks, then names from one object array: np.select over strings is slow.
    out[missing] = _NAMES[np.select(conditions, list(range(len(conditions))), len(conditions))]
    return out
