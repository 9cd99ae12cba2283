"""An options strategy's payoff, breakevens, extremes, net Greeks and probability of profit.

Pure: the caller passes the legs, each expiry's market (carry, forward, ATM IV) and the
market's clock; nothing here reads a store or a clock. The API prices every strategy with it
(`strikeboard.api.strategy`), so there is one implementation (docs/conventions.md, "Strategy
payoff").

Model: each leg is priced by Black-Scholes-Merton on spot with its expiry's carry ``q``, that
is Black-76 on that expiry's forward (as the chain), with the leg's own IV plus the IV shift,
through `strikeboard.chain.bsm.price_and_greeks` (plain NumPy: the API compiles nothing). Time
is `conventions.time_to_expiry` (ACT/365 to 15:30 IST). A leg's IV is the one implied by its
entry price (`entry_vols`), so the payoff now, at today's spot and IVs, is zero by
construction.

"At expiry" means at the close of the strategy's first expiry: its legs pay their intrinsic
value, later legs keep their Black-76 value (a calendar's payoff is not piecewise linear).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from numpy.typing import NDArray

from strikeboard.chain import bsm
from strikeboard.chain.conventions import EXPIRY_TIME, IST, time_to_expiry

__all__ = [
    "MAX_LEGS",
    "MIN_VOL",
    "Analysis",
    "Controls",
    "ExpiryMarket",
    "Leg",
    "NetGreeks",
    "Side",
    "analyse",
    "auto_range_pct",
    "entry_vols",
    "expiry_close",
]

FloatArray = NDArray[np.float64]

#: The most legs a strategy may have (the API refuses more).
MAX_LEGS = 20
#: Floor of a shifted IV (0.01 %): a shift may not make a vol zero or negative.
MIN_VOL = 1e-4
# The analysis axis runs from 0 to this many times the largest strike or spot: beyond it the
# payoff at expiry is linear with the far-end slope (exactly when all legs share the expiry).
_FAR = 10.0
_FAR_POINTS = 200  # geometric points between the displayed range and the far end
# A spot of zero is priced as this fraction of a rupee (log(S/K) must stay finite).
_ZERO_SPOT = 1e-9
_SQRT2 = math.sqrt(2.0)


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class Leg:
    """One position: ``quantity`` in units (lots x lot size), ``entry`` the premium paid or
    received per unit, ``vol`` the annual IV it is priced with (e.g. 0.14)."""

    expiry: date
    strike: float
    is_call: bool
    side: Side
    quantity: int
    entry: float
    vol: float

    @property
    def sign(self) -> float:
        return 1.0 if self.side is Side.BUY else -1.0


@dataclass(frozen=True, slots=True)
class ExpiryMarket:
    """One expiry's market: carry ``q`` (from its parity forward), forward and ATM IV (for
    the probability of profit; NaN when unknown)."""

    carry: float
    forward: float
    atm_iv: float


@dataclass(frozen=True, slots=True)
class Controls:
    """The grid: ``points`` spots evenly from ``low`` to ``high``; the second curve is valued
    at ``target`` (aware; not after the first expiry's close) with every IV moved by
    ``iv_shift`` (annual, e.g. 0.02 for +2 vol points)."""

    low: float
    high: float
    points: int
    target: datetime
    iv_shift: float = 0.0


@dataclass(frozen=True, slots=True)
class NetGreeks:
    """The position's Greeks in rupees: delta per point of spot, gamma (delta's change) per
    point, theta per calendar day, vega per vol point."""

    delta: float
    gamma: float
    theta: float
    vega: float


@dataclass(frozen=True, slots=True)
class Analysis:
    spots: FloatArray
    at_expiry: FloatArray
    """P&L in rupees at the first expiry's close, per spot."""
    at_target: FloatArray
    """P&L in rupees at ``Controls.target`` with the IV shift, per spot."""
    horizon: date
    breakevens: list[float]
    """Spots where the P&L at expiry crosses zero, over the whole axis, ascending."""
    max_profit: float | None
    """None: unlimited (the P&L at expiry rises without bound as spot rises)."""
    max_loss: float | None
    """A negative number (or zero); None: unlimited."""
    target_at_spot: float
    """P&L at today's spot on the target curve (0 now with no IV shift, by construction)."""
    greeks: NetGreeks
    pop: float | None
    """Probability (0-1) that the P&L at expiry is positive; None without a forward or vol."""
    net_premium: float
    """Rupees paid (positive) or received (negative) to open the position."""


def expiry_close(expiry: date) -> datetime:
    """The moment an expiry settles: 15:30 IST on its day."""
    return datetime.combine(expiry, EXPIRY_TIME, IST)


def auto_range_pct(atm_iv: float, t: float, default: float = 5.0) -> float:
    """A spot axis (+/- % of spot) showing the moves that matter by expiry: four standard
    deviations, ``4 sigma sqrt(t)``, between 1 % and 50 % (``default`` without a vol)."""
    if not (atm_iv > 0.0 and t > 0.0 and math.isfinite(atm_iv * t)):
        return default
    return min(50.0, max(1.0, round(400.0 * atm_iv * math.sqrt(t), 1)))


def entry_vols(
    legs: Sequence[tuple[date, float, bool, float]],
    spot: float,
    rate: float,
    markets: dict[date, ExpiryMarket],
    now: datetime,
) -> list[float]:
    """The IV each (expiry, strike, is_call, entry price) implies at ``now`` under its expiry's
    carry: NaN where the price has none (at or below intrinsic value, or past expiry)."""
    if not legs:
        return []
    t = np.array([time_to_expiry(now, e) for e, _, _, _ in legs])
    q = np.array([markets[e].carry for e, _, _, _ in legs])
    strike = np.array([k for _, k, _, _ in legs])
    call = np.array([c for _, _, c, _ in legs])
    price = np.array([p for _, _, _, p in legs])
    iv, _ = bsm.implied_vol_and_greeks(price, spot, strike, t, rate, q, call)
    return [float(v) for v in iv]


def _values(
    legs: Sequence[Leg],
    spots: FloatArray,
    when: datetime,
    rate: float,
    markets: dict[date, ExpiryMarket],
    iv_shift: float,
) -> tuple[FloatArray, bsm.Greeks]:
    """Per leg (rows) and spot (columns): the value per unit at ``when``, and its Greeks
    (zero for a leg already settled)."""
    s = np.maximum(spots, _ZERO_SPOT)[None, :]
    k = np.array([leg.strike for leg in legs])[:, None]
    call = np.array([leg.is_call for leg in legs])[:, None]
    t = np.array([time_to_expiry(when, leg.expiry) for leg in legs])[:, None]
    q = np.array([markets[leg.expiry].carry for leg in legs])[:, None]
    vol = np.maximum(np.array([leg.vol for leg in legs]) + iv_shift, MIN_VOL)[:, None]
    price, greeks = bsm.price_and_greeks(s, k, t, rate, q, vol, call)
    settled = np.broadcast_to(t <= 0.0, price.shape)
    intrinsic = np.where(call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    value = np.where(settled, intrinsic, price)
    zeroed = bsm.Greeks(*(np.where(settled, 0.0, g) for g in greeks.as_dict().values()))
    return value, zeroed


def _pnl(
    legs: Sequence[Leg],
    spots: FloatArray,
    when: datetime,
    rate: float,
    markets: dict[date, ExpiryMarket],
    iv_shift: float = 0.0,
) -> FloatArray:
    value, _ = _values(legs, spots, when, rate, markets, iv_shift)
    weight = np.array([leg.sign * leg.quantity for leg in legs])
    entry = np.array([leg.entry for leg in legs])
    pnl: FloatArray = weight @ (value - entry[:, None])
    return pnl


def _far_slope(legs: Sequence[Leg], horizon: datetime, markets: dict[date, ExpiryMarket]) -> float:
    """d(P&L)/d(spot) as spot -> infinity at ``horizon``: each call tends to
    ``S e^{-q t} - K e^{-r t}`` (t its time left; 1 for a settled one), each put to 0."""
    slope = 0.0
    for leg in legs:
        if leg.is_call:
            t = time_to_expiry(horizon, leg.expiry)
            slope += leg.sign * leg.quantity * math.exp(-markets[leg.expiry].carry * t)
    return slope


def _crossings(x: FloatArray, y: FloatArray, tol: float) -> list[float]:
    """Where ``y`` (sampled at ascending ``x``) changes sign, by linear interpolation; a run of
    zeros between a loss and a profit counts once, at its first point."""
    sign = np.where(np.abs(y) <= tol, 0, np.sign(y))
    out: list[float] = []
    last, last_i = 0, -1
    for i, s in enumerate(sign):
        if s == 0:
            continue
        if last not in (0, s):
            a = last_i
            if i == a + 1:  # a strict crossing between two samples
                out.append(float(x[a] - y[a] * (x[i] - x[a]) / (y[i] - y[a])))
            else:  # zeros in between: the first of them
                out.append(float(x[a + 1]))
        last, last_i = int(s), i
    return out


def _prob_above(level: float, forward: float, vol: float, t: float) -> float:
    """P(S_T > level) for lognormal S_T with mean ``forward`` and volatility ``vol``."""
    if level <= 0.0:
        return 1.0
    if math.isinf(level):
        return 0.0
    sd = vol * math.sqrt(t)
    d2 = (math.log(forward / level) - 0.5 * sd * sd) / sd
    return 0.5 * math.erfc(-d2 / _SQRT2)


def _probability_of_profit(
    legs: Sequence[Leg],
    breakevens: list[float],
    far: float,
    horizon: datetime,
    now: datetime,
    rate: float,
    markets: dict[date, ExpiryMarket],
    tol: float,
) -> float | None:
    """Sum of the lognormal probabilities of the intervals between breakevens where the P&L
    at expiry is positive (risk-neutral: the expiry's forward is the mean)."""
    first = markets[horizon.date()]
    t = time_to_expiry(now, horizon.date())
    vol, forward = first.atm_iv, first.forward
    if not (t > 0.0 and vol > 0.0 and forward > 0.0 and math.isfinite(vol * forward)):
        return None
    edges = [0.0, *breakevens, math.inf]
    # each interval's sign at its middle; the last one's on the linear far end
    mids = [
        (a + b) / 2.0 if math.isfinite(b) else max(2.0 * a, far) + 1.0
        for a, b in itertools.pairwise(edges)
    ]
    values = _pnl(legs, np.array(mids), horizon, rate, markets)
    pop = 0.0
    for a, b, v in zip(edges[:-1], edges[1:], values, strict=True):
        if v > tol:
            pop += _prob_above(a, forward, vol, t) - _prob_above(b, forward, vol, t)
    return min(max(pop, 0.0), 1.0)


def analyse(
    legs: Sequence[Leg],
    spot: float,
    rate: float,
    markets: dict[date, ExpiryMarket],
    now: datetime,
    controls: Controls,
) -> Analysis:
    """The strategy's curves and figures (see `Analysis`). ``markets`` holds every leg's
    expiry; ``now`` is the market's clock (aware)."""
    if not legs:
        raise ValueError("a strategy needs at least one leg")
    if len(legs) > MAX_LEGS:
        raise ValueError(f"at most {MAX_LEGS} legs")
    first = min(leg.expiry for leg in legs)
    horizon = expiry_close(first)
    if not now < horizon:
        raise ValueError(f"the strategy's first expiry {first.isoformat()} has settled")
    if not now <= controls.target <= horizon:
        raise ValueError("the target date must lie between now and the first expiry's close")
    if not (0.0 <= controls.low < controls.high and controls.points >= 2):
        raise ValueError("the spot range must be increasing with at least two points")
    spots = np.linspace(controls.low, controls.high, controls.points)
    at_expiry = _pnl(legs, spots, horizon, rate, markets)
    at_target = _pnl(legs, spots, controls.target, rate, markets, controls.iv_shift)
    weight = np.array([leg.sign * leg.quantity for leg in legs])
    net_premium = float(weight @ np.array([leg.entry for leg in legs]))
    # Extremes and breakevens over the whole axis: 0, every strike (the kinks), the grid, and
    # geometric steps to the far end; beyond it the payoff is linear with the far slope.
    strikes = np.array([leg.strike for leg in legs])
    far = _FAR * max(float(strikes.max()), spot, controls.high)
    tail = np.geomspace(max(controls.high, 1.0), far, _FAR_POINTS)
    axis = np.unique(np.concatenate(([0.0], strikes, spots, tail)))
    values = _pnl(legs, axis, horizon, rate, markets)
    scale = float(np.abs(weight).sum() * max(float(strikes.max()), spot))
    tol = 1e-9 * scale
    slope = _far_slope(legs, horizon, markets)
    breakevens = _crossings(axis, values, tol)
    if abs(slope) * far > tol and values[-1] * slope < -tol:
        breakevens.append(float(far - values[-1] / slope))  # on the linear far end
    unlimited_profit = slope * far > tol
    unlimited_loss = slope * far < -tol
    greek_rows = _values(legs, np.array([spot]), controls.target, rate, markets,
                         controls.iv_shift)[1]  # fmt: skip
    w = weight[:, None]
    greeks = NetGreeks(
        delta=float((w * greek_rows.delta).sum()),
        gamma=float((w * greek_rows.gamma).sum()),
        theta=float((w * greek_rows.theta).sum()),
        vega=float((w * greek_rows.vega).sum()),
    )
    target_at_spot = float(
        _pnl(legs, np.array([spot]), controls.target, rate, markets, controls.iv_shift)[0]
    )
    pop = _probability_of_profit(legs, breakevens, far, horizon, now, rate, markets, tol)
    return Analysis(
        spots=spots,
        at_expiry=at_expiry,
        at_target=at_target,
        horizon=first,
        breakevens=breakevens,
        max_profit=None if unlimited_profit else float(values.max()),
        max_loss=None if unlimited_loss else float(values.min()),
        target_at_spot=target_at_spot,
        greeks=greeks,
        pop=pop,
        net_premium=net_premium,
    )
