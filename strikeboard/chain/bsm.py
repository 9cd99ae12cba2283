"""Black-Scholes-Merton implied volatility and Greeks in plain NumPy: no JIT, nothing compiled.

The API's per-request recompute (the NSE convention, `strikeboard.api.chain.recompute_nse`)
prices one chain (a few hundred options) in a process that may have just started: numba's
import (~1 s) and first compilation (~15 s into an empty cache) would dominate it. This module
runs the very algorithm of `strikeboard.chain.pricing` (the feed's compiled hot path; model,
units and NaN rules there and in docs/conventions.md), element for element, as array operations:
every option steps through the same Householder iteration, those still unconverged are carried
to the next step. Results agree with the compiled kernels to round-off (tests/unit/chain).

NumPy has no erfc, and an erf-based normal CDF would lose the lower-tail precision the solver
relies on, so ``math.erfc`` is mapped over the arrays (~0.1 µs an element).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["DAYS_PER_YEAR", "Greeks", "implied_vol_and_greeks", "price_and_greeks"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Theta is reported per calendar day: the annual theta divided by this.
DAYS_PER_YEAR = 365.0

# The solver's constants, shared with the compiled kernels of `strikeboard.chain.pricing`.
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_NAN = math.nan
_MAX_ITER = 40  # safety bound only: the iteration normally stops after 2-4 steps
_REL_TOL = 4.0 * float(np.finfo(np.float64).eps)
_STEP_TOL = 1e-6
_TAIL_H = 3.5
_ROUNDOFF = 1e-13  # relative size of a time value treated as round-off of the premium
_PLOW = 0.02425  # Acklam's normal quantile: tail/central boundary
# Acklam's coefficients: central numerator, central denominator, tail numerator, tail denominator
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)

_erfc = np.frompyfunc(math.erfc, 1, 1)


@dataclass(frozen=True, slots=True)
class Greeks:
    """Greeks of the options, each an array of the broadcast input shape.

    delta: per 1 point of spot; gamma: change of delta per 1 point of spot; theta: change of value
    per calendar day (annual theta / 365); vega: per 1 volatility point (0.01); rho: per 1 % of
    the rate r (q held fixed).
    """

    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray
    rho: FloatArray

    def as_dict(self) -> dict[str, FloatArray]:
        """The five Greeks by name."""
        return {
            "delta": self.delta,
            "gamma": self.gamma,
            "theta": self.theta,
            "vega": self.vega,
            "rho": self.rho,
        }


def _ncdf(z: FloatArray) -> FloatArray:
    return 0.5 * np.asarray(_erfc(-z * _INV_SQRT_2), dtype=np.float64)


def _poly(coefs: tuple[float, ...], u: FloatArray) -> FloatArray:
    """Horner's rule with the compiled kernel's order of operations."""
    acc = coefs[0] * u + coefs[1]
    for c in coefs[2:]:
        acc = acc * u + c
    return acc


def _inv_ncdf(p: FloatArray) -> FloatArray:
    """Acklam's normal quantile (a starting guess only; |rel err| < 1.2e-9)."""
    tail = np.minimum(p, 1.0 - p)
    u = np.sqrt(-2.0 * np.log(tail))
    lower = _poly(_C, u) / (_poly(_D, u) * u + 1.0)
    v = p - 0.5
    w = v * v
    central = (_poly(_A, w) * v) / (_poly(_B, w) * w + 1.0)
    out = np.where(p < _PLOW, lower, np.where(p > 1.0 - _PLOW, -lower, central))
    return np.where(p <= 0.0, -np.inf, np.where(p >= 1.0, np.inf, out))


def _norm_black(x: FloatArray, s: FloatArray, ex2: FloatArray) -> FloatArray:
    """Normalised OTM call price b(x, s) for x <= 0; ex2 = exp(x / 2)."""
    h = x / s
    t = 0.5 * s
    return ex2 * _ncdf(h + t) - _ncdf(h - t) / ex2


def _lower_guess(
    beta: FloatArray, x: FloatArray, s_c: FloatArray, ex2: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Starting total vol below the inflection point and b there (`pricing._lower_guess`)."""
    ln_beta = np.log(beta)
    s_near = _SQRT_2PI * (beta - 0.5 * x)
    s_near = np.where(s_near >= s_c, 0.9 * s_c, s_near)
    s_tail = -x / np.sqrt(-2.0 * ln_beta)
    going = np.ones(beta.shape, dtype=np.bool_)
    for _ in range(2):
        h = x / s_tail
        t = 0.5 * s_tail
        d = h * h - t * t
        going &= ~(d <= 0.0)  # as the kernel: only a definite "no" stops (NaN goes on)
        rhs = -2.0 * ln_beta + 2.0 * np.log(2.0 * t / (d * _SQRT_2PI)) - t * t
        going &= ~(rhs <= 0.0)
        s_tail = np.where(going, -x / np.sqrt(rhs), s_tail)
    b_near = _norm_black(x, s_near, ex2)
    b_tail = _norm_black(x, s_tail, ex2)
    tail_ok = s_tail < s_c
    near_closer = np.abs(np.log(b_near) - ln_beta) < np.abs(np.log(b_tail) - ln_beta)
    pick_tail = tail_ok & (
        (x < -_TAIL_H * s_tail) | ((b_tail > 0.0) & (~(b_near > 0.0) | ~near_closer))
    )
    return np.where(pick_tail, s_tail, s_near), np.where(pick_tail, b_tail, b_near)


def _taylor(n: FloatArray, phi: FloatArray, z: FloatArray, z_new: FloatArray) -> FloatArray:
    """N(z_new) from N(z) = n and phi(z) by a third-order Taylor step (z_new - z is tiny)."""
    dz = z_new - z
    return n + phi * dz * (1.0 - 0.5 * z * dz + (z * z - 1.0) * dz * dz / 6.0)


def _solve_full(
    beta: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """(s, N(x/s + s/2), N(x/s - s/2), have_n) with b(x, s) = beta, for x <= 0 and
    0 < beta < exp(x / 2): `pricing._solve_full` on arrays (the probabilities at the returned s
    by the same third-order Taylor step; ``have_n`` False where they were not computed).
    Callers hold ``np.errstate(all="ignore")``: NaN and inf are expected on discarded lanes."""
    n = beta.size
    ex2 = np.exp(0.5 * x)
    b_max = ex2
    neg = x < 0.0
    s_c = np.where(neg, np.sqrt(np.where(neg, -2.0 * x, 0.0)), 0.0)
    b_c = np.where(neg, 0.5 * ex2 - _ncdf(-s_c) / ex2, 0.0)
    lower = beta < b_c
    lo = np.where(lower, 0.0, s_c)
    hi = np.where(lower, s_c, np.inf)
    s = np.empty(n)
    b = np.empty(n)
    if lower.any():
        s[lower], b[lower] = _lower_guess(beta[lower], x[lower], s_c[lower], ex2[lower])
    up = ~lower
    if up.any():
        # Upper branch: b_max - b ~ (e^{x/2} + e^{-x/2}) Phi(-s/2) for large s (exact at x = 0).
        e, sc = ex2[up], s_c[up]
        su = -2.0 * _inv_ncdf((b_max[up] - beta[up]) / (e + 1.0 / e))
        su = np.where(su > sc, su, np.where(sc > 0.0, sc * 1.5, 1e-3))
        s[up] = su
        b[up] = _norm_black(x[up], su, e)
    ln_beta = np.log(beta)
    out_s = np.full(n, _NAN)
    out_pa = np.full(n, _NAN)
    out_pb = np.full(n, _NAN)
    have = np.zeros(n, dtype=np.bool_)
    # The options still iterating: index into the inputs, and their state.
    idx = np.arange(n)
    pa = np.full(n, _NAN)
    pb = np.full(n, _NAN)
    for it in range(1, _MAX_ITER + 1):
        if idx.size == 0:
            break
        xi, bi, lb, e, bm, bc = x[idx], beta[idx], ln_beta[idx], ex2[idx], b_max[idx], b_c[idx]
        h = xi / s
        t = 0.5 * s
        if it > 1:  # the guesses above already priced the first iterate
            pa = _ncdf(h + t)
            pb = _ncdf(h - t)
            b = e * pa - pb / e
        bp = np.exp(-0.5 * (h * h + t * t)) / _SQRT_2PI  # db/ds
        below, above = b < bi, b > bi
        lo = np.where(below, np.maximum(lo, s), lo)
        hi = np.where(above, np.minimum(hi, s), hi)
        exact = ~below & ~above
        x2 = xi * xi
        b_h2 = x2 / (s * s * s) - 0.25 * s  # b''/b'
        b_h3 = b_h2 * b_h2 - 3.0 * x2 / (s * s * s * s) - 0.25  # b'''/b'
        # Every region's step is computed for every option, then each keeps its region's.
        # objective 1/ln b - 1/ln beta: almost linear in s^2 in the lower region
        ln_b = np.log(b)
        bpob = bp / b
        lam = 1.0 / ln_b
        otilde = 1.0 + 2.0 * lam
        mu = 6.0 * lam * (1.0 + lam)
        nu_l = (lb - ln_b) * ln_b / lb / bpob
        h2_l = b_h2 - bpob * otilde
        h3_l = b_h3 + bpob * bpob * (2.0 + mu) - b_h2 * bpob * 3.0 * otilde
        # objective ln((b_max - beta) / (b_max - b)): near-quadratic in s when b -> b_max
        bmb = bm - b
        gp = bp / bmb
        nu_u = -np.log((bm - bi) / bmb) / gp
        h2_u = b_h2 + gp
        h3_u = b_h3 + gp * (2.0 * gp + 3.0 * b_h2)
        nu_n = (bi - b) / bp
        degenerate = (b <= 0.0) | (bp <= 0.0)
        in_lower = ~degenerate & (bi < bc) & (b < bc)
        in_upper = ~degenerate & ~in_lower & (bi > bc) & ((bm - bi) < 0.5 * (bm - bc))
        plain = ~degenerate & ~in_lower & ~in_upper
        in_upper &= ~(bmb <= 0.0)  # b at b_max: no step, as when degenerate
        nu = np.where(in_lower, nu_l, np.where(in_upper, nu_u, np.where(plain, nu_n, _NAN)))
        h2 = np.where(in_lower, h2_l, np.where(in_upper, h2_u, np.where(plain, b_h2, 0.0)))
        h3 = np.where(in_lower, h3_l, np.where(in_upper, h3_u, np.where(plain, b_h3, 0.0)))
        # third-order Householder step
        den = 1.0 + nu * (h2 + h3 * nu / 6.0)
        step = np.where(den > 0.0, nu * (1.0 + 0.5 * h2 * nu) / den, nu)
        done = ~exact & (np.abs(step) <= _STEP_TOL * s)
        s_f = s + step
        # exact hits return s itself, with the probabilities when this step computed them
        fin = idx[exact]
        out_s[fin] = s[exact]
        if it > 1:
            out_pa[fin], out_pb[fin], have[fin] = pa[exact], pb[exact], True
        fin = idx[done]
        out_s[fin] = s_f[done]
        if it > 1:
            # fourth-order convergence: the error after a step this small is below round-off
            sf, xd, ed, bpd = s_f[done], xi[done], e[done], bp[done]
            out_pa[fin] = _taylor(pa[done], bpd / ed, (h + t)[done], xd / sf + 0.5 * sf)
            out_pb[fin] = _taylor(pb[done], bpd * ed, (h - t)[done], xd / sf - 0.5 * sf)
            have[fin] = True
        s_new = s_f
        outside = ~(s_new > lo) | ~(s_new < hi)
        # outside the bracket (or NaN): bisect, geometrically once the bracket is finite
        bisect = np.where(
            np.isinf(hi),
            2.0 * np.maximum(s, lo) + 1e-3,
            np.where(lo > 0.0, np.sqrt(lo * hi), 0.5 * hi),
        )
        s_new = np.where(outside, bisect, s_new)
        collapsed = ~exact & ~done & outside & (hi - lo <= _REL_TOL * hi)
        out_s[idx[collapsed]] = s_new[collapsed]
        keep = ~exact & ~done & ~collapsed
        idx, s, lo, hi = idx[keep], s_new[keep], lo[keep], hi[keep]
        pa, pb = pa[keep], pb[keep]
    out_s[idx] = s  # the safety bound ran out: the last iterate
    return out_s, out_pa, out_pb, have


def _leg_greeks(
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    vol: FloatArray,
    sig_t: FloatArray,
    d1: FloatArray,
    n1: FloatArray,
    n2: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """Rows price, delta, gamma, theta/day, vega/pt, rho/% (`pricing._greeks_scalar`'s
    formulas); ``sig_t`` = vol sqrt(t), ``n1``, ``n2`` = N(d1), N(d2) for a call, N(-d1),
    N(-d2) for a put."""
    sq = np.sqrt(t)
    dq = np.exp(-q * t)
    dr = np.exp(-r * t)
    pdf1 = np.exp(-0.5 * d1 * d1) / _SQRT_2PI
    sdq = spot * dq
    kdr = strike * dr
    decay = -sdq * pdf1 * vol / (2.0 * sq)
    out = np.empty((6, spot.size))
    out[0] = np.where(is_call, sdq * n1 - kdr * n2, kdr * n2 - sdq * n1)
    out[1] = np.where(is_call, dq * n1, -dq * n1)
    out[2] = dq * pdf1 / (spot * sig_t)
    theta = np.where(
        is_call, decay - r * kdr * n2 + q * sdq * n1, decay + r * kdr * n2 - q * sdq * n1
    )
    out[3] = theta / DAYS_PER_YEAR
    out[4] = sdq * pdf1 * sq * 0.01
    out[5] = np.where(is_call, kdr * t * n2, -kdr * t * n2) * 0.01
    return out


def _greeks(
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    vol: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """`_leg_greeks` at ``vol``, for options with valid inputs and a positive finite vol."""
    sig_t = vol * np.sqrt(t)
    d1 = (np.log(spot / strike) + (r - q) * t) / sig_t + 0.5 * sig_t
    d2 = d1 - sig_t
    n1 = _ncdf(np.where(is_call, d1, -d1))
    n2 = _ncdf(np.where(is_call, d2, -d2))
    return _leg_greeks(spot, strike, t, r, q, vol, sig_t, d1, n1, n2, is_call)


def _greeks_at_solution(
    x: FloatArray,
    s: FloatArray,
    pa: FloatArray,
    pb: FloatArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """`_leg_greeks` at total vol ``s``, with N(+-d1), N(+-d2) from the solver's N(h + t),
    N(h - t) (h = -|x| / s, t = s / 2), as the fused kernel (`pricing._iv_greeks_scalar`)."""
    xn = -np.abs(x)
    otm = x <= 0.0
    # N(d1), N(d2) and N(-d1), N(-d2) of the option's own strike
    n1 = np.where(otm, pa, 1.0 - pb)
    n2 = np.where(otm, pb, 1.0 - pa)
    m1 = np.where(otm, 1.0 - pa, pb)
    m2 = np.where(otm, 1.0 - pb, pa)
    d1 = np.where(otm, xn / s + 0.5 * s, -xn / s + 0.5 * s)
    leg1, leg2 = np.where(is_call, n1, m1), np.where(is_call, n2, m2)
    return _leg_greeks(spot, strike, t, r, q, s / np.sqrt(t), s, d1, leg1, leg2, is_call)


def implied_vol_and_greeks(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> tuple[FloatArray, Greeks]:
    """`strikeboard.chain.pricing.implied_vol_and_greeks` without compiling anything: the
    Black-Scholes-Merton implied vol of each premium and the Greeks at it (NaN where the vol is
    not determined; see that function for the rules)."""
    arrays = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (price, spot, strike, t, r, q)),
        np.asarray(is_call, dtype=np.bool_),
    )
    shape = arrays[0].shape
    pr, sp, k, tt, rr, qq = (np.ravel(a) for a in arrays[:6])
    call = np.ravel(arrays[6])
    buf = np.full((7, pr.size), _NAN)
    with np.errstate(all="ignore"):
        valid = (sp > 0.0) & (k > 0.0) & (tt > 0.0)
        valid &= np.isfinite(pr) & np.isfinite(sp) & np.isfinite(k) & np.isfinite(tt)
        valid &= np.isfinite(rr) & np.isfinite(qq)
        dq = np.exp(-qq * tt)
        dr = np.exp(-rr * tt)
        fwd = sp * dq / dr
        p = pr / dr
        x = np.log(fwd / k)
        # Put-call parity maps an in-the-money price onto the out-of-the-money leg (x <= 0).
        itm_call = call & (x > 0.0)
        itm_put = ~call & (x < 0.0)
        p = np.where(itm_call, p - (fwd - k), np.where(itm_put, p - (k - fwd), p))
        bad = (itm_call & (p >= k)) | (itm_put & (p >= fwd))
        beta = p / np.sqrt(fwd * k)
        xn = -np.abs(x)
        # time value within round-off of the premium is zero: the vol is not determined
        ok = valid & ~bad & (beta > 0.0) & (beta < np.exp(0.5 * xn))
        ok &= ~(p <= _ROUNDOFF * pr / dr)
        i = np.flatnonzero(ok)
        s, pa, pb, have = _solve_full(beta[i], xn[i])
        vol = s / np.sqrt(tt[i])
        buf[6, i] = vol
        # Greeks afresh where the solver left no probabilities (or no usable vol)
        fresh = ~have & (vol > 0.0) & np.isfinite(vol)
        j = i[fresh]
        buf[:6, j] = _greeks(sp[j], k[j], tt[j], rr[j], qq[j], vol[fresh], call[j])
        j = i[have]
        buf[:6, j] = _greeks_at_solution(
            x[j], s[have], pa[have], pb[have], sp[j], k[j], tt[j], rr[j], qq[j], call[j]
        )
    greeks = Greeks(*(buf[row].reshape(shape) for row in range(1, 6)))
    return buf[6].reshape(shape), greeks


def price_and_greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
) -> tuple[FloatArray, Greeks]:
    """`strikeboard.chain.pricing.bs_price` and `greeks` without compiling anything: the
    premium and Greeks at ``vol`` (NaN where spot, strike, time or vol is not positive and
    finite), for the API's strategy pricing (`strikeboard.chain.strategy`)."""
    arrays = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (spot, strike, t, r, q, vol)),
        np.asarray(is_call, dtype=np.bool_),
    )
    shape = arrays[0].shape
    sp, k, tt, rr, qq, v = (np.ravel(a) for a in arrays[:6])
    call = np.ravel(arrays[6])
    buf = np.full((6, sp.size), _NAN)
    with np.errstate(all="ignore"):
        ok = (sp > 0.0) & (k > 0.0) & (tt > 0.0) & (v > 0.0)
        ok &= np.isfinite(sp) & np.isfinite(k) & np.isfinite(tt) & np.isfinite(v)
        ok &= np.isfinite(rr) & np.isfinite(qq)
        i = np.flatnonzero(ok)
        buf[:, i] = _greeks(sp[i], k[i], tt[i], rr[i], qq[i], v[i], call[i])
    return buf[0].reshape(shape), Greeks(*(buf[row].reshape(shape) for row in range(1, 6)))
