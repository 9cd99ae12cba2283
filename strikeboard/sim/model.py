"""The simulated market's stochastic model: daily closes, intraday paths, the volatility surface.

Pure, deterministic for a seed: every random number comes from a counter-based hash of
(seed, day, instrument, second), so any price at any market second can be recomputed on its
own (historical candles agree with what was streamed, whatever the step cadence was).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtr

from strikeboard.market.calendar import TradingCalendar

SESSION_SECONDS: Final = 22_500
"""09:15:00 to 15:30:00 IST."""
YEAR_SECONDS: Final = 365.0 * 86_400.0
TRADING_SECONDS_PER_YEAR: Final = 252.0 * SESSION_SECONDS
TICK: Final = 0.05

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over uint64 (wrapping), a fast counter-based hash."""
    with np.errstate(over="ignore"):
        z = (x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)) & _M64
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_keys(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Hash several integer keys (broadcast) into uint64."""
    h = mix64(np.asarray(seed, dtype=np.uint64))
    with np.errstate(over="ignore"):
        for k in keys:
            h = mix64(h ^ np.asarray(k).astype(np.uint64) * np.uint64(0x2545F4914F6CDD1D))
    return h


def uniform(h: np.ndarray) -> np.ndarray:
    """uint64 hash -> float in (0, 1)."""
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal(h: np.ndarray) -> np.ndarray:
    """uint64 hash -> standard normal (Box-Muller on two derived uniforms)."""
    u1 = uniform(h)
    u2 = uniform(mix64(h))
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))


@dataclass(frozen=True)
class ModelParams:
    """Market model parameters (documented defaults are plausible for NIFTY)."""

    anchor_date: dt.date = dt.date(2025, 1, 1)
    anchor_spot: float = 23_650.0
    daily_drift: float = 0.00025
    daily_vol: float = 0.0085
    base_realised_vol: float = 0.115
    base_iv: float = 0.125
    vol_of_vol: float = 1.2
    vol_mean_reversion: float = 8.0
    spot_vol_corr: float = -0.7
    rate: float = 0.065
    dividend_yield: float = 0.012
    skew: float = -0.10
    curvature: float = 0.05


@dataclass(frozen=True)
class DayPath:
    """One session's per-second paths (index s = seconds since 09:15:00, 0..22,500)."""

    day: dt.date
    spot: np.ndarray
    vol_level: np.ndarray
    activity: np.ndarray
    prev_close: float
    prev_vol_level: float


class MarketModel:
    """Daily closes plus per-second intraday paths for every trading day, deterministic."""

    def __init__(self, seed: int, calendar: TradingCalendar, params: ModelParams) -> None:
        self.seed = seed
        self.calendar = calendar
        self.p = params
        start = dt.date(params.anchor_date.year - 6, 1, 1)
        end = dt.date(params.anchor_date.year + 8, 12, 31)
        days = [
            start + dt.timedelta(days=i)
            for i in range((end - start).days + 1)
            if calendar.is_trading_day(start + dt.timedelta(days=i))
        ]
        self._index = {d: i for i, d in enumerate(days)}
        ords = np.array([d.toordinal() for d in days], dtype=np.int64)
        shocks_px = params.daily_vol * normal(hash_keys(seed, 1, ords))
        lv = np.empty(len(days))
        dev = np.empty(len(days))
        # Daily log vol level: AR(1) around 0, so VIX wanders between ~10 and ~20.
        shocks = 0.12 * normal(hash_keys(seed, 2, ords))
        acc = 0.0
        d = 0.0
        for i in range(len(days)):
            acc = 0.9 * acc + shocks[i]
            lv[i] = acc
            # Price: a slowly mean-reverting deviation (std ~4 %) around a drift line.
            d = 0.985 * d + shocks_px[i]
            dev[i] = d
        a = int(np.searchsorted(ords, params.anchor_date.toordinal()))
        a = min(a, len(days) - 1)
        trend = params.daily_drift * (np.arange(len(days)) - a)
        cum = trend + dev
        self._close = params.anchor_spot * np.exp(cum - cum[a])
        self._lv = lv
        self._path_cache = lru_cache(maxsize=8)(self._build_path)

    def _check(self, day: dt.date) -> int:
        if day not in self._index:
            raise ValueError(f"{day} is not a trading day within the simulated calendar range")
        return self._index[day]

    def close(self, day: dt.date) -> float:
        """The session close of a trading day."""
        return float(self._close[self._check(day)])

    def path(self, day: dt.date) -> DayPath:
        """The per-second spot, vol level and cumulative activity of a trading day (cached)."""
        self._check(day)
        return self._path_cache(day)

    def _build_path(self, day: dt.date) -> DayPath:
        p = self.p
        i = self._check(day)
        prev_close = float(self._close[i - 1]) if i > 0 else float(self._close[i])
        prev_lv = float(self._lv[i - 1]) if i > 0 else 0.0
        close, lv_close = float(self._close[i]), float(self._lv[i])
        n = SESSION_SECONDS
        s = np.arange(1, n + 1, dtype=np.float64)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, day.toordinal()])
        z1 = rng.standard_normal(n)
        z2 = p.spot_vol_corr * z1 + np.sqrt(1 - p.spot_vol_corr**2) * rng.standard_normal(n)
        dt_y = 1.0 / TRADING_SECONDS_PER_YEAR
        # Log vol level: OU (mean-reverting) bridged from yesterday's close to today's.
        kappa = p.vol_mean_reversion
        lv = np.empty(n + 1)
        lv[0] = prev_lv
        decay = np.exp(-kappa * dt_y)
        noise = p.vol_of_vol * np.sqrt(dt_y) * z2
        # The OU recursion is a linear filter: x_t = decay * x_{t-1} + e_t.
        lv[1:] = lfilter([1.0], [1.0, -decay], noise, zi=[decay * prev_lv])[0]
        lv += (np.arange(n + 1) / n) * (lv_close - lv[-1])
        # Intraday U-shape: more variance at the open and into the close.
        season = 1.0 + 1.6 * np.exp(-s / 1200.0) + 0.8 * np.exp(-(n - s) / 1500.0)
        season /= np.sqrt(np.mean(season**2))
        sigma = p.base_realised_vol * np.exp(lv[1:]) * season
        gap = 0.003 * float(normal(hash_keys(self.seed, 3, day.toordinal())))
        x = np.empty(n + 1)
        x[0] = np.log(prev_close) + gap
        x[1:] = x[0] + np.cumsum(sigma * np.sqrt(dt_y) * z1 - 0.5 * sigma**2 * dt_y)
        # Brownian bridge onto the day's close so daily and intraday data agree.
        x += (np.arange(n + 1) / n) * (np.log(close) - x[-1])
        spot = np.round(np.exp(x) / TICK) * TICK
        intensity = np.concatenate([[0.0], season**2 * np.exp(0.3 * rng.standard_normal(n))])
        act = np.cumsum(intensity)
        act /= act[-1]
        return DayPath(day, spot, lv, act, prev_close, prev_lv)


def atm_iv(p: ModelParams, vol_level: np.ndarray | float, t_years: np.ndarray) -> np.ndarray:
    """ATM implied vol with an upward-sloping-then-flat term structure."""
    term = 1.0 + 0.08 * (1.0 - np.exp(-np.asarray(t_years) / 0.25))
    return np.asarray(p.base_iv * np.exp(vol_level) * term)


def surface_iv(
    p: ModelParams,
    vol_level: np.ndarray | float,
    t_years: np.ndarray,
    strike: np.ndarray,
    forward: np.ndarray,
) -> np.ndarray:
    """Implied vol with skew and smile in standardised log-moneyness ln(K/F)/sqrt(T)."""
    atm = atm_iv(p, vol_level, t_years)
    x = np.log(strike / forward) / np.sqrt(t_years)
    iv = atm + p.skew * atm / 0.125 * x + p.curvature * x * x
    return np.asarray(np.clip(iv, 0.4 * atm, 2.5))


def black76(
    is_call: np.ndarray,
    forward: np.ndarray,
    strike: np.ndarray,
    t_years: np.ndarray,
    iv: np.ndarray,
    discount: np.ndarray,
) -> np.ndarray:
    """Black-76 price of European options on the forward."""
    sd = iv * np.sqrt(t_years)
    d1 = (np.log(forward / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    call = discount * (forward * ndtr(d1) - strike * ndtr(d2))
    put = discount * (strike * ndtr(-d2) - forward * ndtr(-d1))
    return np.asarray(np.where(is_call, call, put))


def round_tick(x: np.ndarray) -> np.ndarray:
    """Round to the nearest 0.05 (and to 2 decimals, so values print exactly)."""
    return np.asarray(np.round(np.round(x / TICK) * TICK, 2))


def floor_tick(x: np.ndarray) -> np.ndarray:
    """Round down to the 0.05 tick (tolerant of float noise)."""
    return np.asarray(np.round(np.floor(x / TICK + 1e-9) * TICK, 2))


def ceil_tick(x: np.ndarray) -> np.ndarray:
    """Round up to the 0.05 tick (tolerant of float noise)."""
    return np.asarray(np.round(np.ceil(x / TICK - 1e-9) * TICK, 2))
