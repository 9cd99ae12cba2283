"""Scheduled (EventBridge) Lambdas: after-hours retention cleanup and end-of-day statistics.

`cleanup_handler` drops tick partitions older than TICK_RETENTION_DAYS, chain minutes older
than CHAIN_RETENTION_DAYS and fired alerts older than ALERTS_EVENTS_RETENTION_DAYS;
`eod_handler` computes the day's statistics per expiry of each configured underlying
(UNDERLYINGS) into daily_stats. Both take an EventBridge scheduled
event; ``detail.day`` (ISO date) overrides the day for a manual re-run. The logic is in
`strikeboard.api.jobs`.

Both run on NSE trading days only: on a weekend or exchange holiday (`strikeboard.market.calendar`)
of the IST day the event is about, a job does nothing, logs "<job> skipped" and returns
``{"skipped": "<why>", "day": ...}``. The schedules themselves stay as they are (EOD after the
close, cleanup at night, Monday-Friday).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from strikeboard.api import jobs
from strikeboard.api.stores import Stores
from strikeboard.config import get_settings
from strikeboard.market.calendar import IST

logger = Logger(service="strikeboard-jobs")
metrics = Metrics(namespace="Strikeboard", service="jobs")

clock: Callable[[], datetime] = lambda: datetime.now(IST)  # noqa: E731 - replaced in tests
"""The wall clock, used only when an event carries neither ``detail.day`` nor ``time``."""


@functools.cache
def _get_stores() -> Stores:
    """One PostgreSQL pool per Lambda container."""
    return Stores(get_settings(), pool_size=1, timeout=10.0)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def cleanup_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    today = jobs.event_day(event, clock)
    if (skipped := _skip("cleanup", today)) is not None:
        return skipped
    result = jobs.cleanup(get_settings(), _get_stores(), today)
    metrics.add_metric(name="TickPartitionsDropped", unit=MetricUnit.Count,
                       value=len(result["tick_partitions_dropped"]))  # fmt: skip
    logger.info("cleanup done", extra=result)
    return result


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def eod_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    day = jobs.event_day(event, clock)
    if (skipped := _skip("eod", day)) is not None:
        return skipped
    names = [u.name for u in get_settings().underlying_list]
    result = jobs.eod(_get_stores(), day, names)
    metrics.add_metric(name="DailyStatsRows", unit=MetricUnit.Count, value=result["expiries"])
    logger.info("eod done", extra=result)
    return result


def _skip(job: str, day: date) -> dict[str, Any] | None:
    """The skip record when ``day`` does not trade (weekend or NSE holiday), else None."""
    reason = jobs.closed_reason(day)
    if reason is None:
        return None
    result = {"skipped": reason, "day": day.isoformat()}
    metrics.add_metric(name="JobSkipped", unit=MetricUnit.Count, value=1)
    logger.info(f"{job} skipped", extra={"job": job, **result})
    return result
