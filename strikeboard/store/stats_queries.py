"""Daily statistics per underlying, IST day and expiry: computed from the minute aggregates
(chain_minute_agg), stored in daily_stats by the end-of-day job, read back for the API's daily
view. Rows are tuples in `DAILY_COLUMNS` order. Errors: `strikeboard.store.database`'s.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from strikeboard.market.calendar import day_bounds
from strikeboard.store.database import Database

DAILY_COLUMNS: Final = (
    "underlying", "day", "expiry", "minutes", "spot_open", "spot_high", "spot_low",
    "spot_close", "future_close", "atm_iv_open", "atm_iv_high", "atm_iv_low", "atm_iv_close",
    "straddle_close", "pcr_oi_close", "max_pain_close",
)  # fmt: skip

_COMPUTE_SQL: Final = """
SELECT underlying, (minute AT TIME ZONE 'Asia/Kolkata')::date AS day, expiry, count(*)::int,
       (array_agg(spot ORDER BY minute) FILTER (WHERE spot IS NOT NULL))[1],
       max(spot), min(spot),
       (array_agg(spot ORDER BY minute DESC) FILTER (WHERE spot IS NOT NULL))[1],
       (array_agg(future ORDER BY minute DESC) FILTER (WHERE future IS NOT NULL))[1],
       (array_agg(atm_iv ORDER BY minute) FILTER (WHERE atm_iv IS NOT NULL))[1],
       max(atm_iv), min(atm_iv),
       (array_agg(atm_iv ORDER BY minute DESC) FILTER (WHERE atm_iv IS NOT NULL))[1],
       (array_agg(straddle ORDER BY minute DESC) FILTER (WHERE straddle IS NOT NULL))[1],
       (array_agg(pcr_oi ORDER BY minute DESC) FILTER (WHERE pcr_oi IS NOT NULL))[1],
       (array_agg(max_pain ORDER BY minute DESC) FILTER (WHERE max_pain IS NOT NULL))[1]
FROM chain_minute_agg
WHERE underlying = %s AND minute >= %s AND minute < %s
GROUP BY 1, 2, 3
"""


def compute_daily(db: Database, underlying: str, first: date, last: date) -> list[tuple[Any, ...]]:
    """Daily statistics per expiry for the IST days first..last from the minute aggregates."""
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    return db.rows(_COMPUTE_SQL, (underlying, start, end))


def store_daily(db: Database, rows: list[tuple[Any, ...]]) -> int:
    """Upsert computed daily rows into daily_stats; returns how many."""
    if not rows:
        return 0
    cols = ", ".join(DAILY_COLUMNS)
    marks = ", ".join(["%s"] * len(DAILY_COLUMNS))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in DAILY_COLUMNS[3:])
    for row in rows:
        db.execute(
            f"INSERT INTO daily_stats ({cols}) VALUES ({marks}) ON CONFLICT (underlying, day,"
            f" expiry) DO UPDATE SET {updates}, computed_at = now()",
            row,
        )
    return len(rows)


def stored_daily(db: Database, underlying: str, first: date, last: date) -> list[tuple[Any, ...]]:
    """The stored daily rows of the days first..last (every expiry)."""
    return db.rows(
        f"SELECT {', '.join(DAILY_COLUMNS)} FROM daily_stats"
        " WHERE underlying = %s AND day >= %s AND day <= %s",
        (underlying, first, last),
    )
