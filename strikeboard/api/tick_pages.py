"""Archived ticks in pages: keyset pagination on (exchange time, ingest seq), the key handed
to the client as an opaque cursor (`next`), checked when it comes back (400 otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strikeboard.api.errors import BadRequestError
from strikeboard.api.params import check_day
from strikeboard.market.calendar import IST
from strikeboard.store import history_queries
from strikeboard.store.database import Database


def encode_cursor(ts: datetime, seq: int) -> str:
    return f"{round(ts.timestamp() * 1_000_000)}:{seq}"


def decode_cursor(text: str) -> tuple[datetime, int]:
    try:
        us_text, seq_text = text.split(":")
        us, seq = int(us_text), int(seq_text)
        ts = datetime.fromtimestamp(us / 1_000_000, IST)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadRequestError(
            f"invalid cursor {text!r}: pass back the `next` of a previous page"
        ) from exc
    check_day(ts.date(), "cursor")
    if not 0 <= seq < 2**63:
        raise BadRequestError(f"invalid cursor {text!r}")
    return ts, seq


def ticks_page(
    db: Database, token: int, start: datetime, end: datetime, after: str | None, limit: int
) -> dict[str, Any]:
    """Up to ``limit`` ticks of ``token`` in [start, end) after the cursor ``after`` (from the
    start when None), and the cursor of the next page (None on the last)."""
    if end <= start:
        return {"ticks": [], "next": None}  # an empty range holds no ticks
    key = decode_cursor(after) if after else (start, -1)
    ticks = history_queries.ticks_after(db, token, start, end, key, limit + 1)
    more = len(ticks) > limit
    ticks = ticks[:limit]
    nxt = encode_cursor(ticks[-1]["ts"], ticks[-1]["ingest_seq"]) if more and ticks else None
    return {"ticks": ticks, "next": nxt}
