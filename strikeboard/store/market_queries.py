"""The spots, volatility indices and futures of some underlyings from the archived one-minute
candles: as they were at a past minute (history mode's top bar), or the newest archived (when
Redis has no live market data). Each named as the feed names it in Redis's market hash (the
index's tradingsymbol; `market_future_name` for a future). Errors: `strikeboard.store.database`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from strikeboard.market.calendar import IST, day_bounds
from strikeboard.market.underlyings import market_future_name
from strikeboard.store.database import Database

JSONDict = dict[str, Any]

_AT_SQL: Final = """
SELECT c.token, max(c.minute), (array_agg(c.open ORDER BY c.minute))[1], max(c.high), min(c.low),
       (array_agg(c.close ORDER BY c.minute DESC))[1], (array_agg(c.oi ORDER BY c.minute DESC))[1],
       (array_agg(c.volume ORDER BY c.minute DESC))[1], i.instrument_type, i.expiry,
       i.tradingsymbol, i.underlying,
       (SELECT p.close FROM candles_1m p WHERE p.token = c.token AND p.minute < %s
        ORDER BY p.minute DESC LIMIT 1)
FROM candles_1m c JOIN instruments i ON i.instrument_token = c.token
WHERE c.minute >= %s AND c.minute <= %s AND i.underlying = ANY(%s)
GROUP BY c.token, i.instrument_type, i.expiry, i.tradingsymbol, i.underlying
"""

_NEWEST_SQL: Final = """
SELECT DISTINCT ON (c.token) c.token, c.minute, c.open, c.high, c.low, c.close, c.oi, c.volume,
       i.instrument_type, i.expiry, i.tradingsymbol, i.underlying
FROM candles_1m c JOIN instruments i ON i.instrument_token = c.token
WHERE i.underlying = ANY(%s) ORDER BY c.token, c.minute DESC
"""


def _name(instrument_type: str | None, expiry: Any, symbol: str, owner: str) -> tuple[str, bool]:
    """The market hash's name of an instrument, and whether it is a future."""
    future = instrument_type == "FUT" and expiry is not None
    return (market_future_name(owner, expiry) if future else symbol), future


def quotes_at(db: Database, at: datetime, names: Sequence[str]) -> dict[str, JSONDict]:
    """The underlyings ``names``' instruments at the minute ``at``: the last candle of that IST
    day at or before it, the day's open, high and low up to it, and the change from the
    previous session's last close. Empty when that day has no candles."""
    day_start, _ = day_bounds(at.astimezone(IST).date())
    rows = db.rows(_AT_SQL, (day_start, day_start, at, list(names)))
    out: dict[str, JSONDict] = {}
    for token, minute, o, h, lo, c, oi, volume, itype, expiry, symbol, owner, close in rows:
        if c is None:
            continue
        name, future = _name(itype, expiry, symbol, owner)
        change = c - close if close is not None else None
        pct = round(change / close * 100, 2) if change is not None and close else None
        doc: JSONDict = {"token": int(token), "underlying": owner, "ltp": c, "close": close,
                         "change": round(change, 2) if change is not None else None,
                         "change_pct": pct, "open": o, "high": h, "low": lo,
                         "ts": minute.timestamp()}  # fmt: skip
        if future:
            doc["oi"], doc["volume"] = oi, volume
        out[name] = doc
    return out


def newest_quotes(
    db: Database, names: Sequence[str]
) -> tuple[dict[str, JSONDict], datetime | None]:
    """The underlyings ``names``' instruments at their newest archived candle, and the newest
    candle's minute (None when there is none)."""
    out: dict[str, JSONDict] = {}
    newest: datetime | None = None
    for token, minute, o, h, lo, c, oi, volume, itype, expiry, symbol, owner in db.rows(
        _NEWEST_SQL, (list(names),)
    ):
        name, future = _name(itype, expiry, symbol, owner)
        doc: JSONDict = {"token": int(token), "underlying": owner, "ltp": c, "open": o,
                         "high": h, "low": lo, "ts": minute.timestamp()}  # fmt: skip
        if future:
            doc["oi"], doc["volume"] = oi, volume
        out[name] = doc
        newest = minute if newest is None or minute > newest else newest
    return out, newest
