"""Historical candles from the simulator's own tick grid, so they agree with what was streamed."""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np

from strikeboard.market.calendar import IST
from strikeboard.sim.engine import N, Simulator, session_open

INTERVALS: Final = {
    "minute": 60,
    "3minute": 180,
    "5minute": 300,
    "10minute": 600,
    "15minute": 900,
    "30minute": 1800,
    "60minute": 3600,
    "day": 0,
}
"""Kite's interval names -> seconds (0 = one candle per session)."""

MAX_DAYS: Final = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}
"""Kite's longest from..to span per interval, in days."""

Candle = list[str | float | int]


def _day_ticks(
    sim: Simulator, i: int, day: dt.date, upto: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(seconds, prices, cumulative volume, OI) of instrument `i`'s ticks on `day` up to `upto`."""
    grid = sim.day_grid(day)
    k, ph = int(grid.interval[i]), int(grid.phase[i])
    first = (-ph) % k
    secs = np.arange(first, upto + 1, k, dtype=np.int64)
    idx = np.full(len(secs), i)
    path = sim.model.path(day)
    epoch = int(session_open(day).timestamp())
    prices = sim._mid_prices(idx, secs, path, epoch)[0]
    lot = int(sim.lot[i])
    act = path.activity[secs]
    vol_lots = sim._daily_volume_lots(day)[i]
    o = sim.open_oi_lots(day, i)
    c = sim._oi_close_lots(day)[i]
    vol = (np.floor(vol_lots * act) * lot).astype(np.int64)
    frac = sim.oi_fraction(day, idx, secs)
    oi = (np.round(o + (c - o) * frac) * lot).astype(np.int64)
    return secs, prices, vol, oi


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S%z")


def candles(
    sim: Simulator, token: int, interval: str, start: dt.datetime, end: dt.datetime, with_oi: bool
) -> list[Candle]:
    """Kite-shaped candles [time, o, h, l, c, volume(, oi)] for trading days in start..end.

    Today's candles stop at the simulator's current second; future days have none.
    """
    if interval not in INTERVALS:
        raise ValueError(f"invalid interval: {interval}")
    if token not in sim.by_token:
        raise ValueError(f"invalid token: {token}")
    if end < start:
        raise ValueError("`from` date must be before `to` date")
    if (end - start).days > MAX_DAYS[interval]:
        raise ValueError(f"interval exceeds max limit: {MAX_DAYS[interval]} days")
    i = sim.by_token[token]
    width = INTERVALS[interval]
    lo_t, hi_t = start.astimezone(IST), end.astimezone(IST)
    out: list[Candle] = []
    day = lo_t.date()
    while day <= min(hi_t.date(), sim.day):
        this, day = day, day + dt.timedelta(days=1)
        if not sim.calendar.is_trading_day(this) or not sim.listed_on(this, i):
            continue  # no candles on holidays, nor on days the contract was not listed
        upto = N if this < sim.day else sim.sec
        if upto < 0:
            break
        secs, prices, vol, oi = _day_ticks(sim, i, this, upto)
        if len(secs) == 0:
            continue
        open_t = session_open(this)
        bucket = (
            np.zeros(len(secs), dtype=np.int64) if width == 0 else np.minimum(secs, N - 1) // width
        )
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        ends = np.r_[starts[1:], len(secs)] - 1
        hi = np.maximum.reduceat(prices, starts)
        lo = np.minimum.reduceat(prices, starts)
        prev_vol = np.r_[0, vol[ends[:-1]]]
        settle = int(sim._oi_close_lots(this)[i] * sim.lot[i])
        for j, (a, b) in enumerate(zip(starts, ends, strict=True)):
            if width == 0:
                t = open_t.replace(hour=0, minute=0)
            else:
                t = open_t + dt.timedelta(seconds=int(bucket[a]) * width)
                if t < lo_t or t > hi_t:
                    continue
            row: Candle = [
                _fmt(t),
                float(prices[a]),
                float(hi[j]),
                float(lo[j]),
                float(prices[b]),
                int(vol[b] - prev_vol[j]),
            ]
            if with_oi:
                # A finished day's OI is its settlement (closing) open interest.
                row.append(settle if width == 0 and upto == N else int(oi[b]))
            out.append(row)
    return out
