"""The analytics answers: OI by strike, the IV smile and dealer gamma by strike, read off a
chain document; the daily statistics of the front expiry with IV rank and percentile."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, Final

import numpy as np

from strikeboard.api import chain as chain_doc
from strikeboard.chain import analytics, document
from strikeboard.store import stats_queries
from strikeboard.store.database import Database
from strikeboard.store.stats_queries import DAILY_COLUMNS

IV_LOOKBACK_DAYS: Final = 365
"""IV rank and percentile compare a day's closing ATM IV with the year before it."""


def oi_by_strike(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in chain_doc.sorted_strikes(doc):
        ce, pe = row.get("CE") or {}, row.get("PE") or {}
        out.append({"strike": float(row["strike"]), "call_oi": ce.get("oi"),
                    "put_oi": pe.get("oi"), "call_oi_change": ce.get("oi_change"),
                    "put_oi_change": pe.get("oi_change")})  # fmt: skip
    return out


def smile(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The shown IVs by strike with log-moneyness against the document's forward (spot for
    the NSE convention, whose model has no forward), as `analytics.iv_smile` picks them."""
    rows = chain_doc.sorted_strikes(doc)
    ref = doc.get("spot") if doc.get("convention") == "nse" else doc.get("forward")
    if ref is None or not rows:
        return []
    strikes = document.column("strike", [r["strike"] for r in rows])
    points = analytics.iv_smile(strikes, document.column("iv", [r.get("iv") for r in rows]),
                                float(ref))  # fmt: skip
    out = []
    for i, m in zip(points.positions.tolist(), points.moneyness.tolist(), strict=True):
        row = rows[i]
        out.append({"strike": float(row["strike"]), "moneyness": m, "iv": row["iv"],
                    "call_iv": (row.get("CE") or {}).get("iv"),
                    "put_iv": (row.get("PE") or {}).get("iv")})  # fmt: skip
    return out


def gex(doc: dict[str, Any]) -> dict[str, Any]:
    """Dealer gamma by strike with `analytics.gex_total` and `analytics.gex_flip`; a strike
    without a GEX (no Greeks yet) counts as 0."""
    rows = chain_doc.sorted_strikes(doc)
    strikes = [float(r["strike"]) for r in rows]
    values = [float(r["gex"]) if r.get("gex") is not None else 0.0 for r in rows]
    return {
        "total": analytics.gex_total(values),
        "flip": analytics.gex_flip(strikes, values),
        "strikes": [{"strike": k, "gex": g} for k, g in zip(strikes, values, strict=True)],
    }


def daily(db: Database, underlying: str, days: int, today: date) -> list[dict[str, Any]]:
    """The last ``days`` trading days' statistics of the front expiry (the nearest expiry
    still alive that day), with IV rank and percentile of its closing ATM IV over the year
    before. Stored rows (EOD job) are completed by on-the-fly rows for days not yet stored
    (today)."""
    first = today - timedelta(days=days + IV_LOOKBACK_DAYS)
    stored = stats_queries.stored_daily(db, underlying, first, today)
    by_key = {(r[1], r[2]): r for r in stored}
    have_days = {r[1] for r in stored}
    recent_first = max(first, today - timedelta(days=days + 7))
    for r in stats_queries.compute_daily(db, underlying, recent_first, today):
        if r[1] not in have_days:
            by_key[(r[1], r[2])] = r
    # The front expiry of each day: the nearest one that had data that day.
    front: dict[date, tuple[Any, ...]] = {}
    for (day, expiry), row in sorted(by_key.items()):
        if expiry >= day and (day not in front or expiry < front[day][2]):
            front[day] = row
    ordered = [front[d] for d in sorted(front)]
    out = []
    for i, row in enumerate(ordered):
        record = dict(zip(DAILY_COLUMNS, row, strict=True))
        if record["day"] < today - timedelta(days=days - 1):
            continue
        window_start = record["day"] - timedelta(days=IV_LOOKBACK_DAYS)
        earlier = [r[12] for r in ordered[:i] if r[1] >= window_start and r[12] is not None]
        current = record["atm_iv_close"]
        cur = float(current) if current is not None else math.nan
        # Rank: where the day's IV sits between the year's low and high, the day included.
        # Percentile: the share of the earlier days below it; none before it (a first day)
        # is unknown, not 0 %.
        rank = analytics.iv_rank(np.array([*earlier, cur], dtype=np.float64), cur)
        pct = analytics.iv_percentile(np.array(earlier, dtype=np.float64), cur)
        record["iv_rank"] = round(rank, 2) if math.isfinite(rank) else None
        record["iv_percentile"] = round(pct, 2) if math.isfinite(pct) else None
        record.pop("underlying")
        for name in ("spot_open", "spot_high", "spot_low"):
            record.pop(name)
        out.append(record)
    return out
