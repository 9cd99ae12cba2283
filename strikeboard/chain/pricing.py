"""Generalised Black-Scholes-Merton pricing, implied volatility and Greeks, vectorised.

Model: European option on spot ``S`` with continuous rate ``r`` and continuous carry (dividend
yield) ``q``; ``t`` in years. The forward is ``F = S exp((r - q) t)`` and the discount factor
``D = exp(-r t)``, so with ``q`` implied from a put-call parity forward this is exactly Black-76
on that forward (the Sensibull/Kite convention); with ``q = 0`` it is Black-Scholes on spot (NSE).

All functions take NumPy arrays (or scalars) that broadcast together and return float64 arrays of
the broadcast shape. Bad input never raises: a result that is not determined is NaN.

Implied volatility works in Jaeckel's normalised coordinates (``x = ln(F/K)``, normalised price
``beta = p / sqrt(F K)`` of the out-of-the-money leg, total vol ``s = sigma sqrt(t)``) and runs a
safeguarded third-order Householder iteration on region-wise transformed objectives (``1/ln b``
below the inflection point, ``b`` around it, ``ln(b_max - b)`` above it, as in "Let's Be
Rational"), started from asymptotic guesses. It reaches machine precision in 2-4 steps for
options whose time value is at least a tick; a bracket guarantees convergence everywhere else.
The per-option kernels are compiled with numba (one thread, no parallelism): the feed's hot
path. `strikeboard.chain.bsm` runs the same algorithm in plain NumPy for a process that prices
one chain and must not wait for numba (the API's NSE recompute).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

# The model's constants and result type are shared with the no-JIT copy of these kernels.
from strikeboard.chain.bsm import (
    _INV_SQRT_2,
    _MAX_ITER,
    _NAN,
    _REL_TOL,
    _ROUNDOFF,
    _SQRT_2PI,
    _STEP_TOL,
    _TAIL_H,
    DAYS_PER_YEAR,
    Greeks,
)

__all__ = [
    "DAYS_PER_YEAR",
    "Greeks",
    "bs_price",
    "greeks",
    "implied_vol",
    "implied_vol_and_greeks",
]

FloatArray = NDArray[np.float64]
_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def _jit(fn: _Fn) -> _Fn:
    """numba-compile a scalar kernel; errors follow NumPy (x/0 -> inf, not an exception)."""
    return cast(_Fn, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))


# --------------------------------------------------------------------------------------------
# scalar kernels
# --------------------------------------------------------------------------------------------


@_jit
def _ncdf(z: float) -> float:
    # erfc keeps full relative precision in the lower tail, where OTM prices live.
    return 0.5 * math.erfc(-z * _INV_SQRT_2)


@_jit
def _inv_ncdf(p: float) -> float:
    """Acklam's rational approximation of the normal quantile (|rel err| < 1.2e-9).

    Only used for a starting guess, so its accuracy is ample.
    """
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    plow = 0.02425
    if p < plow:
        u = math.sqrt(-2.0 * math.log(p))
        return (
            (
                (
                    (
                        (-7.784894002430293e-03 * u - 3.223964580411365e-01) * u
                        - 2.400758277161838e00
                    )
                    * u
                    - 2.549732539343734e00
                )
                * u
                + 4.374664141464968e00
            )
            * u
            + 2.938163982698783e00
        ) / (
            (
                ((7.784695709041462e-03 * u + 3.224671290700398e-01) * u + 2.445134137142996e00) * u
                + 3.754408661907416e00
            )
            * u
            + 1.0
        )
    if p > 1.0 - plow:
        return -_inv_ncdf(1.0 - p)
    v = p - 0.5
    w = v * v
    return (
        (
            (
                (
                    ((-3.969683028665376e01 * w + 2.209460984245205e02) * w - 2.759285104469687e02)
                    * w
                    + 1.383577518672690e02
                )
                * w
                - 3.066479806614716e01
            )
            * w
            + 2.506628277459239e00
        )
        * v
    ) / (
        (
            (
                ((-5.447609879822406e01 * w + 1.615858368580409e02) * w - 1.556989798598866e02) * w
                + 6.680131188771972e01
            )
            * w
            - 1.328068155288572e01
        )
        * w
        + 1.0
    )


@_jit
def _norm_black(x: float, s: float, ex2: float) -> float:
    """Normalised OTM call price b(x, s) for x <= 0; ex2 = exp(x / 2)."""
    h = x / s
    t = 0.5 * s
    return ex2 * _ncdf(h + t) - _ncdf(h - t) / ex2


@_jit
def _lower_guess(beta: float, x: float, s_c: float, ex2: float) -> tuple[float, float]:
    """Starting total vol below the inflection point s_c (beta < b(x, s_c)), and b there.

    Two candidates, keeping the one whose price is closer in log terms: the near-the-money
    expansion b ~ s / sqrt(2 pi) - |x| / 2 and the tail expansion
    ln b ~ -(h^2 + t^2) / 2 + ln(2 t / ((h^2 - t^2) sqrt(2 pi))) (Mills ratio), solved for s by
    two fixed-point steps from s = |x| / sqrt(-2 ln beta).
    """
    ln_beta = math.log(beta)
    s_near = _SQRT_2PI * (beta - 0.5 * x)
    if s_near >= s_c:
        s_near = 0.9 * s_c
    s_tail = -x / math.sqrt(-2.0 * ln_beta)
    for _ in range(2):
        h = x / s_tail
        t = 0.5 * s_tail
        d = h * h - t * t
        if d <= 0.0:
            break
        rhs = -2.0 * ln_beta + 2.0 * math.log(2.0 * t / (d * _SQRT_2PI)) - t * t
        if rhs <= 0.0:
            break
        s_tail = -x / math.sqrt(rhs)
    if s_tail < s_c and x < -_TAIL_H * s_tail:
        # deep in the tail the Mills-ratio candidate is the better one: price only it
        return s_tail, _norm_black(x, s_tail, ex2)
    b_near = _norm_black(x, s_near, ex2)
    if not s_tail < s_c:
        return s_near, b_near
    b_tail = _norm_black(x, s_tail, ex2)
    if not b_tail > 0.0:
        return s_near, b_near
    if not b_near > 0.0:
        return s_tail, b_tail
    if abs(math.log(b_near) - ln_beta) < abs(math.log(b_tail) - ln_beta):
        return s_near, b_near
    return s_tail, b_tail


@_jit
def _solve_full(beta: float, x: float) -> tuple[float, int, float, float, bool]:
    """(s, iterations, N(x/s + s/2), N(x/s - s/2), have_n) with b(x, s) = beta for x <= 0 and
    0 < beta < exp(x / 2). The two normal probabilities at the returned s come from the last
    iterate by a third-order Taylor step (the final step is below 1e-6 s), saving the Greeks two
    erfc calls; ``have_n`` is False when they were not computed."""
    ex2 = math.exp(0.5 * x)
    b_max = ex2
    if x < 0.0:
        s_c = math.sqrt(-2.0 * x)
        b_c = 0.5 * ex2 - _ncdf(-s_c) / ex2  # b(x, s_c): h + t = 0 there, one erfc saved
    else:
        s_c = 0.0
        b_c = 0.0
    lo = 0.0
    hi = math.inf
    if beta < b_c:
        hi = s_c
        s, b = _lower_guess(beta, x, s_c, ex2)
    else:
        lo = s_c
        # Upper branch: b_max - b ~ (e^{x/2} + e^{-x/2}) Phi(-s/2) for large s (exact at x = 0).
        z = (b_max - beta) / (ex2 + 1.0 / ex2)
        s = -2.0 * _inv_ncdf(z)
        if not s > s_c:
            s = s_c * 1.5 if s_c > 0.0 else 1e-3
        b = _norm_black(x, s, ex2)
    ln_beta = math.log(beta)
    x2 = x * x
    pa = _NAN
    pb = _NAN
    for it in range(1, _MAX_ITER + 1):
        h = x / s
        t = 0.5 * s
        if it > 1:  # the guesses above already priced the first iterate
            pa = _ncdf(h + t)
            pb = _ncdf(h - t)
            b = ex2 * pa - pb / ex2
        bp = math.exp(-0.5 * (h * h + t * t)) / _SQRT_2PI  # db/ds
        if b < beta:
            lo = max(lo, s)
        elif b > beta:
            hi = min(hi, s)
        else:
            return s, it, pa, pb, it > 1
        b_h2 = x2 / (s * s * s) - 0.25 * s  # b''/b'
        b_h3 = b_h2 * b_h2 - 3.0 * x2 / (s * s * s * s) - 0.25  # b'''/b'
        if b <= 0.0 or bp <= 0.0:
            nu = _NAN
            h2 = 0.0
            h3 = 0.0
        elif beta < b_c and b < b_c:
            # objective 1/ln b - 1/ln beta: almost linear in s^2 in the lower region
            ln_b = math.log(b)
            bpob = bp / b
            nu = (ln_beta - ln_b) * ln_b / ln_beta / bpob
            lam = 1.0 / ln_b
            otilde = 1.0 + 2.0 * lam
            h2 = b_h2 - bpob * otilde
            mu = 6.0 * lam * (1.0 + lam)
            h3 = b_h3 + bpob * bpob * (2.0 + mu) - b_h2 * bpob * 3.0 * otilde
        elif beta > b_c and (b_max - beta) < 0.5 * (b_max - b_c):
            # objective ln((b_max - beta) / (b_max - b)): near-quadratic in s when b -> b_max
            bmb = b_max - b
            if bmb <= 0.0:
                nu = _NAN
                h2 = 0.0
                h3 = 0.0
            else:
                g = math.log((b_max - beta) / bmb)
                gp = bp / bmb
                nu = -g / gp
                h2 = b_h2 + gp
                h3 = b_h3 + gp * (2.0 * gp + 3.0 * b_h2)
        else:
            nu = (beta - b) / bp
            h2 = b_h2
            h3 = b_h3
        # third-order Householder step
        den = 1.0 + nu * (h2 + h3 * nu / 6.0)
        step = nu * (1.0 + 0.5 * h2 * nu) / den if den > 0.0 else nu
        if abs(step) <= _STEP_TOL * s:
            # fourth-order convergence: the error after a step this small is below round-off
            s_f = s + step
            if it == 1:
                return s_f, it, _NAN, _NAN, False
            za = h + t
            zb = h - t
            da = x / s_f + 0.5 * s_f - za
            db = x / s_f - 0.5 * s_f - zb
            phia = bp / ex2  # phi(h + t)
            phib = bp * ex2  # phi(h - t)
            pa += phia * da * (1.0 - 0.5 * za * da + (za * za - 1.0) * da * da / 6.0)
            pb += phib * db * (1.0 - 0.5 * zb * db + (zb * zb - 1.0) * db * db / 6.0)
            return s_f, it, pa, pb, True
        s_new = s + step
        if not (s_new > lo and s_new < hi):
            # outside the bracket (or NaN): bisect, geometrically once the bracket is finite
            if math.isinf(hi):
                s_new = 2.0 * max(s, lo) + 1e-3
            elif lo > 0.0:
                s_new = math.sqrt(lo * hi)
            else:
                s_new = 0.5 * hi
            if hi - lo <= _REL_TOL * hi:
                return s_new, it, _NAN, _NAN, False
        s = s_new
    return s, _MAX_ITER, _NAN, _NAN, False


@_jit
def _solve_total_vol(beta: float, x: float) -> tuple[float, int]:
    """(s, iterations) with b(x, s) = beta for x <= 0 and 0 < beta < exp(x / 2)."""
    r = _solve_full(beta, x)
    return r[0], r[1]


@_jit
def _implied_total_vol(beta: float, x: float) -> float:
    return _solve_total_vol(beta, x)[0]


@_jit
def _iv_scalar(
    price: float, spot: float, strike: float, t: float, r: float, q: float, is_call: bool
) -> float:
    if not (
        spot > 0.0
        and strike > 0.0
        and t > 0.0
        and math.isfinite(price)
        and math.isfinite(spot)
        and math.isfinite(strike)
        and math.isfinite(t)
        and math.isfinite(r)
        and math.isfinite(q)
    ):
        return _NAN
    dr = math.exp(-r * t)
    fwd = spot * math.exp(-q * t) / dr
    p = price / dr  # undiscounted
    x = math.log(fwd / strike)
    # Put-call parity maps an in-the-money price onto the out-of-the-money leg (x <= 0).
    if is_call:
        if x > 0.0:
            p -= fwd - strike
            if p >= strike:
                return _NAN
    elif x < 0.0:
        p -= strike - fwd
        if p >= fwd:
            return _NAN
    beta = p / math.sqrt(fwd * strike)
    xn = -abs(x)
    # time value within round-off of the premium is zero: the vol is not determined
    if not (beta > 0.0 and beta < math.exp(0.5 * xn)) or p <= _ROUNDOFF * price / dr:
        return _NAN
    return _implied_total_vol(beta, xn) / math.sqrt(t)


@_jit
def _greeks_scalar(
    spot: float,
    strike: float,
    t: float,
    r: float,
    q: float,
    vol: float,
    is_call: bool,
    out: Any,
    i: int,
) -> None:
    """Writes price, delta, gamma, theta/day, vega/pt, rho/% into out[0..5, i]."""
    if not (
        spot > 0.0
        and strike > 0.0
        and t > 0.0
        and vol > 0.0
        and math.isfinite(vol)
        and math.isfinite(spot)
        and math.isfinite(strike)
        and math.isfinite(t)
        and math.isfinite(r)
        and math.isfinite(q)
    ):
        for k in range(6):
            out[k, i] = _NAN
        return
    sq = math.sqrt(t)
    sig_t = vol * sq
    dq = math.exp(-q * t)
    dr = math.exp(-r * t)
    d1 = (math.log(spot / strike) + (r - q) * t) / sig_t + 0.5 * sig_t
    d2 = d1 - sig_t
    pdf1 = math.exp(-0.5 * d1 * d1) / _SQRT_2PI
    sdq = spot * dq
    kdr = strike * dr
    if is_call:
        n1 = _ncdf(d1)
        n2 = _ncdf(d2)
        price = sdq * n1 - kdr * n2
        delta = dq * n1
        theta = -sdq * pdf1 * vol / (2.0 * sq) - r * kdr * n2 + q * sdq * n1
        rho = kdr * t * n2
    else:
        n1 = _ncdf(-d1)
        n2 = _ncdf(-d2)
        price = kdr * n2 - sdq * n1
        delta = -dq * n1
        theta = -sdq * pdf1 * vol / (2.0 * sq) + r * kdr * n2 - q * sdq * n1
        rho = -kdr * t * n2
    out[0, i] = price
    out[1, i] = delta
    out[2, i] = dq * pdf1 / (spot * sig_t)
    out[3, i] = theta / DAYS_PER_YEAR
    out[4, i] = sdq * pdf1 * sq * 0.01
    out[5, i] = rho * 0.01


@_jit
def _iv_greeks_scalar(
    price: float,
    spot: float,
    strike: float,
    t: float,
    r: float,
    q: float,
    is_call: bool,
    out: Any,
    i: int,
) -> None:
    """IV into out[6, i] and price/Greeks at it into out[0..5, i], sharing the solver's work."""
    if not (
        spot > 0.0
        and strike > 0.0
        and t > 0.0
        and math.isfinite(price)
        and math.isfinite(spot)
        and math.isfinite(strike)
        and math.isfinite(t)
        and math.isfinite(r)
        and math.isfinite(q)
    ):
        for k in range(7):
            out[k, i] = _NAN
        return
    dq = math.exp(-q * t)
    dr = math.exp(-r * t)
    fwd = spot * dq / dr
    p = price / dr
    x = math.log(fwd / strike)
    bad = False
    if is_call:
        if x > 0.0:
            p -= fwd - strike
            bad = p >= strike
    elif x < 0.0:
        p -= strike - fwd
        bad = p >= fwd
    beta = p / math.sqrt(fwd * strike)
    xn = -abs(x)
    if bad or not (beta > 0.0 and beta < math.exp(0.5 * xn)) or p <= _ROUNDOFF * price / dr:
        for k in range(7):
            out[k, i] = _NAN
        return
    s, _, pa, pb, have = _solve_full(beta, xn)
    sq = math.sqrt(t)
    vol = s / sq
    out[6, i] = vol
    if not have:
        _greeks_scalar(spot, strike, t, r, q, vol, is_call, out, i)
        return
    # N(+-d1), N(+-d2) from the solver's N(h + t), N(h - t), h = xn / s, t = s / 2
    if x <= 0.0:
        n1, n2, m1, m2 = pa, pb, 1.0 - pa, 1.0 - pb
        d1 = xn / s + 0.5 * s
    else:
        n1, n2, m1, m2 = 1.0 - pb, 1.0 - pa, pb, pa
        d1 = -xn / s + 0.5 * s
    pdf1 = math.exp(-0.5 * d1 * d1) / _SQRT_2PI
    sdq = spot * dq
    kdr = strike * dr
    decay = -sdq * pdf1 * vol / (2.0 * sq)
    if is_call:
        out[0, i] = sdq * n1 - kdr * n2
        out[1, i] = dq * n1
        theta = decay - r * kdr * n2 + q * sdq * n1
        rho = kdr * t * n2
    else:
        out[0, i] = kdr * m2 - sdq * m1
        out[1, i] = -dq * m1
        theta = decay + r * kdr * m2 - q * sdq * m1
        rho = -kdr * t * m2
    out[2, i] = dq * pdf1 / (spot * s)
    out[3, i] = theta / DAYS_PER_YEAR
    out[4, i] = sdq * pdf1 * sq * 0.01
    out[5, i] = rho * 0.01


@_jit
def _iv_kernel(
    price: FloatArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    is_call: Any,
    steps: Any,
    n: int,
    out: FloatArray,
) -> None:
    sp, ss, sk, st, sr, sq, sc = steps
    for i in range(n):
        out[i] = _iv_scalar(
            price[i * sp],
            spot[i * ss],
            strike[i * sk],
            t[i * st],
            r[i * sr],
            q[i * sq],
            is_call[i * sc],
        )


@_jit
def _greeks_kernel(
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    vol: FloatArray,
    is_call: Any,
    steps: Any,
    n: int,
    out: Any,
) -> None:
    ss, sk, st, sr, sq, sv, sc = steps
    for i in range(n):
        _greeks_scalar(
            spot[i * ss],
            strike[i * sk],
            t[i * st],
            r[i * sr],
            q[i * sq],
            vol[i * sv],
            is_call[i * sc],
            out,
            i,
        )


@_jit
def _iv_greeks_kernel(
    price: FloatArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    is_call: Any,
    steps: Any,
    n: int,
    out: Any,
) -> None:
    sp, ss, sk, st, sr, sq, sc = steps
    for i in range(n):
        s = spot[i * ss]
        k = strike[i * sk]
        tt = t[i * st]
        rr = r[i * sr]
        qq = q[i * sq]
        c = is_call[i * sc]
        _iv_greeks_scalar(price[i * sp], s, k, tt, rr, qq, c, out, i)


# --------------------------------------------------------------------------------------------
# broadcasting wrappers
# --------------------------------------------------------------------------------------------


def _flatten(
    args: tuple[ArrayLike, ...], dtypes: tuple[type, ...]
) -> tuple[tuple[NDArray[Any], ...], tuple[int, ...], tuple[int, ...], int]:
    """Broadcast the arguments without copying scalars: each comes back 1-D with a step of 1
    (full length) or 0 (a single value reused), the kernels index ``a[i * step]``."""
    arrays: list[NDArray[Any]] = [
        np.asarray(a, dtype=dt) for a, dt in zip(args, dtypes, strict=True)
    ]
    shapes = {a.shape for a in arrays if a.size != 1}
    shape: tuple[int, ...]
    if len(shapes) == 1 and all(a.ndim <= len(next(iter(shapes))) for a in arrays):
        # the common case (equal shapes and scalars) skips NumPy's general broadcasting
        shape = next(iter(shapes))
    else:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    n = math.prod(shape)
    flat: list[NDArray[Any]] = []
    steps: list[int] = []
    for a in arrays:
        if a.size == 1:
            flat.append(a.reshape(1))
            steps.append(0)
        elif a.shape == shape:
            flat.append(np.ascontiguousarray(a).reshape(n))
            steps.append(1)
        else:
            flat.append(np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(n))
            steps.append(1)
    return tuple(flat), tuple(steps), shape, n


def implied_vol(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> FloatArray:
    """Black-Scholes-Merton implied volatility (annualised, e.g. 0.15) of option premiums.

    NaN where the vol is not determined: price at or below intrinsic value
    ``max(±(S e^{-qt} - K e^{-rt}), 0)`` (a time value under 1e-13 of the premium is round-off
    and counts as none), at or above the upper bound (``S e^{-qt}`` for a call,
    ``K e^{-rt}`` for a put), non-finite input, or non-positive spot, strike or time.
    """
    (p, s, k, tt, rr, qq, c), steps, shape, n = _flatten(
        (price, spot, strike, t, r, q, is_call),
        (np.float64, np.float64, np.float64, np.float64, np.float64, np.float64, np.bool_),
    )
    out = np.empty(n, dtype=np.float64)
    _iv_kernel(p, s, k, tt, rr, qq, c, steps, n, out)
    return out.reshape(shape)


def _greeks_from(buf: FloatArray, shape: tuple[int, ...]) -> Greeks:
    return Greeks(
        delta=buf[1].reshape(shape),
        gamma=buf[2].reshape(shape),
        theta=buf[3].reshape(shape),
        vega=buf[4].reshape(shape),
        rho=buf[5].reshape(shape),
    )


def _price_and_greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
) -> tuple[FloatArray, tuple[int, ...]]:
    """Rows: price, delta, gamma, theta, vega, rho (flat), and the broadcast shape."""
    (s, k, tt, rr, qq, v, c), steps, shape, n = _flatten(
        (spot, strike, t, r, q, vol, is_call),
        (np.float64, np.float64, np.float64, np.float64, np.float64, np.float64, np.bool_),
    )
    buf = np.empty((6, n), dtype=np.float64)
    _greeks_kernel(s, k, tt, rr, qq, v, c, steps, n, buf)
    return buf, shape


def greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Black-Scholes-Merton Greeks (units in :class:`Greeks`); NaN where vol is NaN or <= 0."""
    buf, shape = _price_and_greeks(spot, strike, t, r, q, vol, is_call)
    return _greeks_from(buf, shape)


def bs_price(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
) -> FloatArray:
    """Black-Scholes-Merton premium ``S e^{-qt} N(±d1) ∓ K e^{-rt} N(±d2)``; NaN on bad input."""
    buf, shape = _price_and_greeks(spot, strike, t, r, q, vol, is_call)
    price: FloatArray = buf[0].reshape(shape)
    return price


def implied_vol_and_greeks(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> tuple[FloatArray, Greeks]:
    """:func:`implied_vol` and then :func:`greeks` at that vol, in one pass (the chain hot path).

    Greeks are NaN wherever the implied vol is NaN.
    """
    (p, s, k, tt, rr, qq, c), steps, shape, n = _flatten(
        (price, spot, strike, t, r, q, is_call),
        (np.float64, np.float64, np.float64, np.float64, np.float64, np.float64, np.bool_),
    )
    buf = np.empty((7, n), dtype=np.float64)
    _iv_greeks_kernel(p, s, k, tt, rr, qq, c, steps, n, buf)
    return buf[6].reshape(shape), _greeks_from(buf, shape)
