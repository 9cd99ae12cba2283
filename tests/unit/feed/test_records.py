"""One-minute candles from ticks (strikeboard.feed.records.CandleBuilder)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from strikeboard.feed.records import CandleBuilder

# 2026-11-25 10:00 IST: a fixed market day, far from whatever day the tests run on.
T0 = datetime(2026, 11, 25, 4, 30, tzinfo=UTC).timestamp()


def test_minutes_close_in_market_time() -> None:
    b = CandleBuilder({1})
    assert b.update(1, T0 + 1, 100.0, 10, 5) == []
    assert b.update(1, T0 + 30, 102.0, 12, 6) == []
    assert b.update(1, T0 + 59, 99.0, 15, 7) == []
    assert b.update(2, T0 + 60, 50.0, 1, 1) == []  # not a candle token
    closed = b.update(1, T0 + 61, 101.0, 20, 8)
    assert closed == [(1, "2026-11-25T04:30:00+00:00", 100.0, 102.0, 99.0, 99.0, 15, 7)]
    assert b.flush() == [(1, "2026-11-25T04:31:00+00:00", 101.0, 101.0, 101.0, 101.0, 20, 8)]


def test_a_tick_without_a_timestamp_has_no_minute() -> None:
    """The subscribe-time quote packet (no exchange timestamp) neither opens a candle nor
    closes one: the market-time ticks around it build the same candles as without it."""
    b = CandleBuilder({1})
    assert b.update(1, math.nan, 500.0, 9, 9) == []  # before any timestamped tick
    assert b.update(1, T0 + 1, 100.0, 10, 5) == []
    assert b.update(1, math.nan, 500.0, 9, 9) == []  # mid-minute (a resubscribe)
    assert b.update(1, T0 + 30, 102.0, 12, 6) == []
    closed = b.update(1, T0 + 61, 101.0, 20, 8)
    assert closed == [(1, "2026-11-25T04:30:00+00:00", 100.0, 102.0, 100.0, 102.0, 12, 6)]
    assert [row[1] for row in b.flush()] == ["2026-11-25T04:31:00+00:00"]
