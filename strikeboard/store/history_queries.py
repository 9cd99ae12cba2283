"""One instrument's archived history as readers ask for it: its ticks in a time range (keyset
pages), its one-minute candles of a day, an option's per-minute series of a day. Rows come back
as dicts named as the API names them, times in IST. Errors: `strikeboard.store.database`'s.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from strikeboard.market.calendar import day_bounds
from strikeboard.store.database import Database

JSONDict = dict[str, Any]

TICK_FIELDS: Final = (
    "exchange_ts", "ingest_seq", "last_price", "last_qty", "volume", "oi", "bid_price", "bid_qty",
    "ask_price", "ask_qty",
)  # fmt: skip
"""The `ticks` columns read, in the order of `TICK_KEYS`."""
TICK_KEYS: Final = ("ts", "ingest_seq", "ltp", "last_qty", "volume", "oi", "bid", "bid_qty",
                    "ask", "ask_qty")  # fmt: skip
"""A tick's keys as the API answers them."""
CANDLE_KEYS: Final = ("minute", "open", "high", "low", "close", "volume", "oi")
CONTRACT_MINUTE_KEYS: Final = (
    "minute", "ltp", "bid", "ask", "iv", "delta", "gamma", "theta", "vega", "oi", "oi_change",
    "volume",
)  # fmt: skip


def ticks_after(
    db: Database, token: int, start: datetime, end: datetime, after: tuple[datetime, int],
    limit: int,
) -> list[JSONDict]:  # fmt: skip
    """Up to ``limit`` ticks of ``token`` in [start, end) after the key ``after`` (exchange
    time, ingest seq), in key order."""
    rows = db.rows(
        f"SELECT {', '.join(TICK_FIELDS)} FROM ticks WHERE token = %s AND exchange_ts >= %s"
        " AND exchange_ts < %s AND (exchange_ts, ingest_seq) > (%s, %s)"
        " ORDER BY exchange_ts, ingest_seq LIMIT %s",
        (token, start, end, after[0], after[1], limit),
    )
    return [dict(zip(TICK_KEYS, r, strict=True)) for r in rows]


def count_ticks(db: Database, token: int, start: datetime, end: datetime, cap: int) -> int:
    """How many ticks ``token`` has in [start, end), counted no further than ``cap``."""
    rows = db.rows(
        "SELECT count(*) FROM (SELECT 1 FROM ticks WHERE token = %s AND exchange_ts >= %s"
        " AND exchange_ts < %s LIMIT %s) t",
        (token, start, end, cap),
    )
    return int(rows[0][0])


def candles(db: Database, token: int, day: date) -> list[JSONDict]:
    """The one-minute candles of ``token`` over an IST day, oldest first."""
    start, end = day_bounds(day)
    rows = db.rows(
        f"SELECT {', '.join(CANDLE_KEYS)} FROM candles_1m"
        " WHERE token = %s AND minute >= %s AND minute < %s ORDER BY minute",
        (token, start, end),
    )
    return [dict(zip(CANDLE_KEYS, r, strict=True)) for r in rows]


def contract_day(db: Database, token: int, day: date) -> JSONDict:
    """An option's archived minutes over an IST day: its identity (underlying, expiry, strike,
    option_type; None when the day has no minute) and ``minutes``, oldest first."""
    start, end = day_bounds(day)
    rows = db.rows(
        f"SELECT {', '.join(CONTRACT_MINUTE_KEYS)}, underlying, expiry, strike, option_type"
        " FROM chain_minute WHERE token = %s AND minute >= %s AND minute < %s ORDER BY minute",
        (token, start, end),
    )
    n = len(CONTRACT_MINUTE_KEYS)
    first = rows[0][n:] if rows else (None, None, None, None)
    return {
        "underlying": first[0],
        "expiry": first[1],
        "strike": first[2],
        "option_type": first[3],
        "minutes": [dict(zip(CONTRACT_MINUTE_KEYS, r[:n], strict=True)) for r in rows],
    }
