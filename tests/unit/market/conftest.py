"""Builders for realistic Kite instruments dumps and ticker messages (no real data)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pytest

from strikeboard.market import layouts

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
WEEKLY_MONTH_CODE = "123456789OND"  # Kite's weekly tradingsymbol month code

# NIFTY expiries as listed around late November 2025 (weekly on Tuesdays).
EXPIRIES = [
    date(2025, 11, 25),
    date(2025, 12, 2),
    date(2025, 12, 9),
    date(2025, 12, 16),
    date(2025, 12, 23),
    date(2025, 12, 30),
    date(2026, 1, 27),
    date(2026, 3, 31),
]
FUTURE_EXPIRIES = [date(2025, 11, 25), date(2025, 12, 30), date(2026, 1, 27)]


def nfo_token(exchange_token: int) -> int:
    """Kite tokens carry the segment in the low byte (NFO = 2)."""
    return (exchange_token << 8) | 2


def build_dump(
    expiries: Sequence[date] = EXPIRIES,
    futures: Sequence[date] = FUTURE_EXPIRIES,
    strikes: Sequence[float] = tuple(range(22_000, 30_001, 50)),
    lot_size: int = 75,
) -> list[dict[str, Any]]:
    """A dump shaped like `KiteConnect.instruments()` output (NSE indices + NIFTY NFO)."""
    monthly = {}
    for e in expiries:
        monthly[(e.year, e.month)] = e
    rows: list[dict[str, Any]] = [
        _row(256265, 1001, "NIFTY 50", "NIFTY 50", "", 0.0, 0.0, 0, "EQ", "INDICES", "NSE"),
        _row(264969, 1035, "INDIA VIX", "INDIA VIX", "", 0.0, 0.0, 0, "EQ", "INDICES", "NSE"),
    ]
    ex = 40_000
    for f in futures:
        ex += 1
        sym = f"NIFTY{f:%y}{MONTHS[f.month - 1]}FUT"
        rows.append(
            _row(nfo_token(ex), ex, sym, "NIFTY", f, 0.0, 0.05, lot_size, "FUT", "NFO-FUT", "NFO")
        )
    for e in expiries:
        is_monthly = monthly[(e.year, e.month)] == e
        for k in strikes:
            for kind in ("CE", "PE"):
                ex += 1
                if is_monthly:
                    sym = f"NIFTY{e:%y}{MONTHS[e.month - 1]}{k:g}{kind}"
                else:
                    sym = f"NIFTY{e:%y}{WEEKLY_MONTH_CODE[e.month - 1]}{e:%d}{k:g}{kind}"
                rows.append(
                    _row(
                        nfo_token(ex),
                        ex,
                        sym,
                        "NIFTY",
                        e,
                        float(k),
                        0.05,
                        lot_size,
                        kind,
                        "NFO-OPT",
                        "NFO",
                    )
                )
    return rows


def _row(
    token: int,
    ex: int,
    sym: str,
    name: str,
    expiry: date | str,
    strike: float,
    tick: float,
    lot: int,
    itype: str,
    segment: str,
    exchange: str,
) -> dict[str, Any]:
    # Same keys and types as kiteconnect's _parse_instruments (exchange_token stays a string).
    return {
        "instrument_token": token,
        "exchange_token": str(ex),
        "tradingsymbol": sym,
        "name": name,
        "last_price": 0.0,
        "expiry": expiry,
        "strike": strike,
        "tick_size": tick,
        "lot_size": lot,
        "instrument_type": itype,
        "segment": segment,
        "exchange": exchange,
    }


def full_packets(
    tokens: Sequence[int],
    prices: Sequence[float],
    *,
    timestamps: Sequence[int] | None = None,
    bids: Sequence[float] | None = None,
    asks: Sequence[float] | None = None,
) -> bytes:
    """A full-mode message (FULL packets; INDEX_FULL for index tokens), prices in rupees."""
    n = len(tokens)
    ts = timestamps if timestamps is not None else [1_764_043_200] * n
    groups = []
    for i in range(n):
        if tokens[i] & 0xFF == layouts.SEGMENT_INDICES:
            p = np.zeros(1, dtype=layouts.INDEX_FULL)
            p["close"] = round(prices[i] * 100)
        else:
            p = np.zeros(1, dtype=layouts.FULL)
            p["close"] = round(prices[i] * 100)
            bid = bids[i] if bids is not None else prices[i] - 0.05
            ask = asks[i] if asks is not None else prices[i] + 0.05
            p["depth"]["price"][0, 0] = round(bid * 100)
            p["depth"]["price"][0, 5] = round(ask * 100)
            p["depth"]["quantity"][0, [0, 5]] = 75
        p["instrument_token"] = tokens[i]
        p["last_price"] = round(prices[i] * 100)
        p["exchange_timestamp"] = ts[i]
        groups.append(p)
    return layouts.frame_many(groups)


@pytest.fixture
def dump() -> list[dict[str, Any]]:
    return build_dump()


@pytest.fixture
def make_dump() -> Callable[..., list[dict[str, Any]]]:
    return build_dump


@pytest.fixture
def make_full() -> Callable[..., bytes]:
    return full_packets
