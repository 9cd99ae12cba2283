"""The archived chains as readers ask for them: an expiry's last archived minute, one minute's
rows and aggregates, the previous session's closes, the archived expiries with their lot sizes,
a day's minute aggregates; and the retention cleanup of both chain tables.

Rows come back as dicts by column name (`CHAIN_COLUMNS`, `CHAIN_AGG_COLUMNS`), times in IST.
Errors: `strikeboard.store.database`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from strikeboard.market.calendar import IST, day_bounds
from strikeboard.store.archive import CHAIN_AGG_COLUMNS, CHAIN_COLUMNS
from strikeboard.store.database import Database

JSONDict = dict[str, Any]

INTRADAY_COLUMNS: Final = (
    "minute", "spot", "future", "forward", "pcr_oi", "pcr_volume", "max_pain", "atm_iv",
    "straddle", "expected_move",
)  # fmt: skip
"""The minute aggregates of an expiry's day (`aggregates_of_day`)."""


@dataclass(frozen=True)
class ArchivedMinute:
    """One expiry's archived minute: a row per contract and the expiry's aggregates ({} when
    that minute has none)."""

    rows: list[JSONDict]
    aggregates: JSONDict


def last_minute(
    db: Database, underlying: str, expiry: date, at: datetime | None = None
) -> datetime | None:
    """The last archived minute of an expiry at or before ``at`` (or ever), in IST."""
    if at is None:
        rows = db.rows(
            "SELECT max(minute) FROM chain_minute_agg WHERE underlying = %s AND expiry = %s",
            (underlying, expiry),
        )
    else:
        rows = db.rows(
            "SELECT max(minute) FROM chain_minute_agg"
            " WHERE underlying = %s AND expiry = %s AND minute <= %s",
            (underlying, expiry, at),
        )
    value = rows[0][0] if rows else None
    return value.astimezone(IST) if isinstance(value, datetime) else None


def minute_of(db: Database, underlying: str, expiry: date, minute: datetime) -> ArchivedMinute:
    """The chain rows and aggregates of an expiry at one archived minute."""
    cols = ", ".join(CHAIN_COLUMNS)
    rows = db.rows(
        f"SELECT {cols} FROM chain_minute WHERE underlying = %s AND expiry = %s AND minute = %s",
        (underlying, expiry, minute),
    )
    agg_cols = ", ".join(CHAIN_AGG_COLUMNS)
    agg_rows = db.rows(
        f"SELECT {agg_cols} FROM chain_minute_agg"
        " WHERE underlying = %s AND expiry = %s AND minute = %s",
        (underlying, expiry, minute),
    )
    aggregates = dict(zip(CHAIN_AGG_COLUMNS, agg_rows[0], strict=True)) if agg_rows else {}
    return ArchivedMinute([dict(zip(CHAIN_COLUMNS, r, strict=True)) for r in rows], aggregates)


def previous_closes(
    db: Database, underlying: str, expiry: date, minute: datetime, tokens: Sequence[int]
) -> dict[int, float]:
    """Each option's previous close for ``minute``'s IST day, as the live chain had it: Kite's
    ``close`` in that day's ticks (the previous session's close, the same all day); where the
    day's ticks are gone (their retention is shorter than the minutes') or have none, its LTP
    at the last archived minute of the session before. What a change in history mode is
    counted from."""
    day_start, day_end = day_bounds(minute.astimezone(IST).date())
    # One primary-key probe per token, in the day's partition only.
    from_ticks = db.rows(
        "SELECT t.token, (SELECT close FROM ticks WHERE token = t.token AND exchange_ts >= %s"
        "  AND exchange_ts < %s AND close > 0 ORDER BY exchange_ts LIMIT 1)"
        " FROM unnest(%s::bigint[]) AS t(token)",
        (day_start, day_end, list(tokens)),
    )
    closes = {int(token): float(close) for token, close in from_ticks if close is not None}
    if len(closes) == len(set(tokens)):
        return closes
    rows = db.rows(
        "SELECT token, ltp FROM chain_minute WHERE underlying = %s AND expiry = %s"
        " AND ltp IS NOT NULL AND minute = (SELECT max(minute) FROM chain_minute_agg"
        "  WHERE underlying = %s AND expiry = %s AND minute < %s)",
        (underlying, expiry, underlying, expiry, day_start),
    )
    for token, ltp in rows:
        if token is not None:
            closes.setdefault(int(token), float(ltp))
    return closes


def lot_size(db: Database, underlying: str, expiry: date) -> int | None:
    """The lot size of an expiry's contracts in the instrument master (None: not listed)."""
    rows = db.rows(
        "SELECT lot_size FROM instruments WHERE name = %s AND expiry = %s"
        " AND lot_size IS NOT NULL LIMIT 1",
        (underlying, expiry),
    )
    return int(rows[0][0]) if rows else None


def archived_expiries(db: Database, underlying: str, since: date) -> dict[date, int | None]:
    """The expiries on or after ``since`` that have archived minutes, with their lot sizes
    (None where the master has none)."""
    rows = db.rows(
        "SELECT a.expiry, (SELECT lot_size FROM instruments i WHERE i.name = %s"
        "  AND i.expiry = a.expiry AND lot_size IS NOT NULL LIMIT 1)"
        " FROM (SELECT DISTINCT expiry FROM chain_minute_agg WHERE underlying = %s"
        "  AND expiry >= %s) a ORDER BY 1",
        (underlying, underlying, since),
    )
    return {r[0]: r[1] for r in rows}


def expiries_archived_on(db: Database, underlying: str, at: datetime) -> list[date]:
    """The unexpired expiries the archive has a chain of on ``at``'s IST day, up to ``at``."""
    start, _ = day_bounds(at.date())
    rows = db.rows(
        "SELECT DISTINCT expiry FROM chain_minute_agg WHERE underlying = %s AND minute >= %s"
        " AND minute <= %s AND expiry >= %s ORDER BY 1",
        (underlying, start, at, at.date()),
    )
    return [r[0] for r in rows]


def aggregates_of_day(db: Database, underlying: str, expiry: date, day: date) -> list[JSONDict]:
    """An expiry's minute aggregates over an IST day, oldest first (`INTRADAY_COLUMNS`)."""
    start, end = day_bounds(day)
    rows = db.rows(
        f"SELECT {', '.join(INTRADAY_COLUMNS)} FROM chain_minute_agg"
        " WHERE underlying = %s AND expiry = %s AND minute >= %s AND minute < %s"
        " ORDER BY minute",
        (underlying, expiry, start, end),
    )
    return [dict(zip(INTRADAY_COLUMNS, r, strict=True)) for r in rows]


def delete_before(db: Database, cutoff: datetime) -> tuple[int, int]:
    """Delete the chain rows and aggregates of minutes before ``cutoff`` (retention); how
    many of each."""
    rows = db.execute("DELETE FROM chain_minute WHERE minute < %s", (cutoff,))
    aggregates = db.execute("DELETE FROM chain_minute_agg WHERE minute < %s", (cutoff,))
    return rows, aggregates
