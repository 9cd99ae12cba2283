"""Scheduled (EventBridge) Lambdas: after-hours retention cleanup and end-of-day statistics.

`cleanup_handler` drops tick partitions older than TICK_RETENTION_DAYS and chain minutes older
than CHAIN_RETENTION_DAYS; `eod_handler` computes the day's statistics per expiry into
daily_stats. Both take an EventBridge scheduled event; ``detail.day`` (ISO date) overrides the
day for a manual re-run. The logic is in `strikeboard.api.jobs`.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime
from typing import Any

# On Lambda only /tmp is writable: numba (the pricing kernels) caches its compiled code there.
if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
    os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/numba")

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from strikeboard.api import jobs
from strikeboard.api.service import IST
from strikeboard.api.stores import Stores
from strikeboard.config import get_settings

logger = Logger(service="strikeboard-jobs")
metrics = Metrics(namespace="Strikeboard", service="jobs")


@functools.cache
def _get_stores() -> Stores:
    """One PostgreSQL pool per Lambda container."""
    return Stores(get_settings(), pool_size=1, timeout=10.0)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def cleanup_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    today = jobs.event_day(event, datetime.now(IST))
    result = jobs.cleanup(get_settings(), _get_stores(), today)
    metrics.add_metric(name="TickPartitionsDropped", unit=MetricUnit.Count,
                       value=len(result["tick_partitions_dropped"]))  # fmt: skip
    logger.info("cleanup done", extra=result)
    return result


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def eod_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    day = jobs.event_day(event, datetime.now(IST))
    result = jobs.eod(_get_stores(), day)
    metrics.add_metric(name="DailyStatsRows", unit=MetricUnit.Count, value=result["expiries"])
    logger.info("eod done", extra=result)
    return result
