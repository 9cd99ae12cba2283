"""Scheduled jobs (EventBridge, after hours): retention cleanup and end-of-day statistics.

Both are idempotent: running one twice, or late, gives the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from strikeboard.api.params import as_ist, check_day
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.market.calendar import CALENDAR, IST, day_bounds
from strikeboard.store import alerts as store_alerts
from strikeboard.store import chain_queries, stats_queries
from strikeboard.store.archive import Archive


def event_day(event: dict[str, Any], default: datetime | Callable[[], datetime]) -> date:
    """The IST day a scheduled event is about: ``detail.day`` when given (manual re-runs),
    else the event's ``time``, else ``default`` (a clock is read only then)."""
    detail = event.get("detail")
    if isinstance(detail, dict) and isinstance(detail.get("day"), str):
        return check_day(date.fromisoformat(detail["day"]), "detail.day")
    return event_time(event, default).date()


def event_time(event: dict[str, Any], default: datetime | Callable[[], datetime]) -> datetime:
    """The IST time a scheduled event is about: its ``time`` (the scheduled time, also on a
    retry), else ``default`` (a clock is read only then)."""
    when = event.get("time")
    if isinstance(when, str):
        stamp = datetime.fromisoformat(when.replace("Z", "+00:00"))
        return as_ist(stamp, "time")
    now = default if isinstance(default, datetime) else default()
    return now.astimezone(IST)


def closed_reason(day: date) -> str | None:
    """Why the jobs skip ``day`` (a weekend or an NSE holiday), or None on a trading day."""
    return CALENDAR.closed_reason(day)


def cleanup(settings: Settings, stores: Stores, today: date) -> dict[str, Any]:
    """Drop tick partitions older than TICK_RETENTION_DAYS, chain minutes older than
    CHAIN_RETENTION_DAYS and fired alerts older than ALERTS_EVENTS_RETENTION_DAYS (relative to
    ``today``)."""
    tick_cutoff = today - timedelta(days=settings.tick_retention_days)
    with Archive(settings.database_url, auto_migrate=True) as archive:
        dropped = archive.drop_partitions_before(tick_cutoff)
    chain_cutoff, _ = day_bounds(today - timedelta(days=settings.chain_retention_days))
    rows, aggs = chain_queries.delete_before(stores.db, chain_cutoff)
    alerts_cutoff, _ = day_bounds(today - timedelta(days=settings.alerts_events_retention_days))
    alert_events = store_alerts.delete_events_before(stores.db.rows, alerts_cutoff)
    return {
        "tick_partitions_dropped": [d.isoformat() for d in dropped],
        "chain_minute_deleted": rows,
        "chain_minute_agg_deleted": aggs,
        "tick_cutoff": tick_cutoff.isoformat(),
        "chain_cutoff": chain_cutoff.date().isoformat(),
        "alert_events_deleted": alert_events,
        "alert_events_cutoff": alerts_cutoff.date().isoformat(),
    }


def eod(stores: Stores, day: date, underlyings: Sequence[str] = ("NIFTY",)) -> dict[str, Any]:
    """Compute and store the day's statistics per underlying and expiry (daily_stats) from
    the minute aggregates, for each configured underlying."""
    db = stores.db
    stored = {
        u: stats_queries.store_daily(db, stats_queries.compute_daily(db, u, day, day))
        for u in underlyings
    }
    return {"day": day.isoformat(), "underlyings": stored, "expiries": sum(stored.values())}
