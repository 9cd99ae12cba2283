"""Decoded ticks -> the store's tick records, and one-minute candles of spot, futures and VIX."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strikeboard.market.codec import TickBatch
from strikeboard.store import ticks as tick_records
from strikeboard.store.ticks import TickArray


def _ints(values: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.nan_to_num(values, nan=0.0).astype(np.int64)


def to_tick_records(batch: TickBatch, first_seq: int, received_ts: float) -> TickArray:
    """The store's rows for a batch; `ingest_seq` runs from `first_seq` in wire order."""
    n = len(batch)
    out = tick_records.empty(n)
    if n == 0:
        return out
    out["ingest_seq"] = np.arange(first_seq, first_seq + n, dtype=np.int64)
    out["token"] = batch.instrument_token
    # An index quote packet has no timestamp: the receipt time stands in for it.
    exchange_s = np.where(np.isnan(batch.exchange_timestamp), received_ts, batch.exchange_timestamp)
    out["exchange_ts"] = (exchange_s * 1_000_000).astype(np.int64)
    out["received_ts"] = int(received_ts * 1_000_000)
    out["last_price"] = batch.last_price
    out["last_qty"] = _ints(batch.last_traded_quantity)
    out["avg_price"] = batch.average_traded_price
    out["volume"] = _ints(batch.volume_traded)
    out["buy_qty"] = _ints(batch.total_buy_quantity)
    out["sell_qty"] = _ints(batch.total_sell_quantity)
    for name in ("open", "high", "low", "close"):
        out[name] = getattr(batch, name)
    out["oi"] = _ints(batch.oi)
    out["oi_day_high"] = _ints(batch.oi_day_high)
    out["oi_day_low"] = _ints(batch.oi_day_low)
    out["bid_price"] = np.nan_to_num(batch.buy_price)
    out["bid_qty"] = _ints(batch.buy_quantity)
    out["bid_orders"] = _ints(batch.buy_orders).astype(np.int32)
    out["ask_price"] = np.nan_to_num(batch.sell_price)
    out["ask_qty"] = _ints(batch.sell_quantity)
    out["ask_orders"] = _ints(batch.sell_orders).astype(np.int32)
    return out


CandleRow = tuple[Any, ...]
"""A row in `store.archive.CANDLE_COLUMNS` order."""


@dataclass
class _Candle:
    minute: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    oi: float


class CandleBuilder:
    """One-minute OHLC per token from last prices, closed when a later minute starts.

    Volume and OI are the day's cumulative values at the minute's last tick (as Kite's
    minute candles report OI; volume per minute is the difference of two closes)."""

    def __init__(self, tokens: set[int]) -> None:
        self.tokens = tokens
        self._open: dict[int, _Candle] = {}

    def update(
        self, token: int, ts: float, price: float, volume: float, oi: float
    ) -> list[CandleRow]:
        """Add a price; returns the rows of a candle this tick closed (CANDLE_COLUMNS order).

        A tick without an exchange timestamp (`ts` NaN: the quote-mode packet Kite sends on
        subscribe, before full mode applies) has no minute of its own and is left out; the
        full-mode ticks that follow carry the prices with their times. (The wall clock must
        not stand in: in a simulated or replayed day its minute is days ahead of the market's,
        and the candle it opened would swallow every later tick.)"""
        if token not in self.tokens or not (math.isfinite(price) and price > 0):
            return []
        if not math.isfinite(ts):
            return []
        minute = int(ts // 60) * 60
        candle = self._open.get(token)
        closed: list[CandleRow] = []
        if candle is not None and minute > candle.minute:
            closed.append(self._row(token, candle))
            candle = None
        if candle is None or minute < candle.minute:
            if candle is None:
                self._open[token] = _Candle(minute, price, price, price, price, volume, oi)
            return closed
        candle.high = max(candle.high, price)
        candle.low = min(candle.low, price)
        candle.close = price
        candle.volume, candle.oi = volume, oi
        return closed

    def flush(self) -> list[CandleRow]:
        """Rows of every open candle (on shutdown, or to write a minute in progress)."""
        rows = [self._row(token, c) for token, c in self._open.items()]
        self._open.clear()
        return rows

    @staticmethod
    def _row(token: int, c: _Candle) -> CandleRow:
        minute = datetime.fromtimestamp(c.minute, UTC).isoformat()
        volume = int(c.volume) if math.isfinite(c.volume) else None
        oi = int(c.oi) if math.isfinite(c.oi) else None
        return (token, minute, c.open, c.high, c.low, c.close, volume, oi)
