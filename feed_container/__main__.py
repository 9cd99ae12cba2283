"""`python -m feed_container`: the feed process (an ECS service in the cloud, a child of
`strikeboard dev` locally). Composition only: settings, logging, metrics, signals."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.request
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from feed_container.factory import build_feed
from strikeboard import heartbeat
from strikeboard.chain.conventions import IvLeg
from strikeboard.chain.snapshot import PricingParams
from strikeboard.config import Settings, settings_or_exit
from strikeboard.feed.alerts import AlertsConfig
from strikeboard.feed.feed import FeedConfig
from strikeboard.logs import configure_logging
from strikeboard.market import clock
from strikeboard.market.calendar import CALENDAR, market_open
from strikeboard.market.universe import UniverseConfig
from strikeboard.store.errors import SpoolError, SpoolLockedError

log = logging.getLogger("strikeboard.feed")
METRICS_EVERY_S = 60.0


def feed_config(settings: Settings) -> FeedConfig:
    return FeedConfig(
        api_key=settings.kite_api_key,
        access_token="",  # found by the feed itself (health `waiting` until there is one)
        api_url=settings.kite_api_url,
        ticker_url=settings.kite_ticker_url,
        redis_url=settings.redis_url,
        database_url=settings.database_url,
        redis_prefix=settings.redis_key_prefix,
        spool_dir=settings.spool_dir,
        spool_owner=task_name(),
        spool_lock_wait_s=settings.spool_lock_wait_s,
        cycle_ms=settings.cycle_ms,
        universe=UniverseConfig(
            underlyings=settings.underlying_list,
            weekly_expiries=settings.weekly_expiries,
            include_monthly=settings.include_monthly,
            strikes_each_side=settings.strikes_each_side or None,
        ),
        pricing=PricingParams(rate=settings.risk_free_rate, iv_leg=IvLeg(settings.iv_leg)),
        log_level=settings.log_level,
        alerts=AlertsConfig(
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            redis_prefix=settings.redis_key_prefix,
            topic_arn=settings.alerts_topic_arn,
            refresh_s=settings.alerts_refresh_s,
        )
        if settings.alerts_enabled
        else None,
    )


def task_name() -> str:
    """This process for the spool's lock file: the ECS task's ARN (from the task metadata
    endpoint, when there is one), else the host name."""
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4", "")
    if uri.startswith("http://"):
        try:
            with urllib.request.urlopen(f"{uri}/task", timeout=2) as response:
                return str(json.load(response)["TaskARN"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ECS task metadata unavailable (%s); naming the host instead", exc)
    return socket.gethostname()


def emit_metrics(metrics: Metrics, health: dict[str, Any], running_s: float = 0.0) -> None:
    """One datapoint of each figure. ``running_s``: the process's age, the tick age reported in
    market hours before any tick (so the no-tick alarm sees a feed that never got one)."""
    metrics.add_metric("Ticks", MetricUnit.Count, health["ticks"])
    metrics.add_metric("TicksPerSecond", MetricUnit.CountPerSecond, health["ticks_per_s"])
    metrics.add_metric("CycleMs", MetricUnit.Milliseconds, health["cycle_ms"])
    metrics.add_metric("ArchiveLagRecords", MetricUnit.Count, health["archive"]["lag_records"])
    metrics.add_metric("BadMessages", MetricUnit.Count, health["bad_messages"])
    metrics.add_metric("TokenExpired", MetricUnit.Count, int(health["token"] == "expired"))
    metrics.add_metric("TokenWaiting", MetricUnit.Count, int(health["token"] == "waiting"))
    metrics.add_metric("Degraded", MetricUnit.Count, int(health["status"] != "ok"))
    metrics.add_metric(
        "SilentSockets", MetricUnit.Count, sum(s["stalls"] for s in health["shards"])
    )
    metrics.add_metric("GapFillsPending", MetricUnit.Count, health["gap_fills_pending"])
    tick_age = health["last_tick_age_s"]
    if tick_age is None and health["market_open"]:
        tick_age = running_s
    if tick_age is not None:
        metrics.add_metric("LastTickAgeSeconds", MetricUnit.Seconds, tick_age)
    alerts = health["alerts"]  # the users' alert rules (docs/alerts.md), since the start
    metrics.add_metric("AlertsFired", MetricUnit.Count, alerts["fired"])
    metrics.add_metric("AlertsEmailed", MetricUnit.Count, alerts["emailed"])
    # The subscription worker's failures too: an alarm on it catches a role without SNS rights.
    failed = alerts["failed"] + alerts["subscriptions_failed"]
    metrics.add_metric("AlertsFailed", MetricUnit.Count, failed)
    for reason, count in health["rejects"].items():
        metrics.add_metric(f"Rejected_{reason}", MetricUnit.Count, count)
    metrics.flush_metrics()


def main() -> int:
    settings = settings_or_exit("feed")
    configure_logging(settings.log_level, "strikeboard-feed")
    if not settings.kite_api_key:  # configuration, not a token to wait for
        log.error("feed cannot start: KITE_API_KEY is not set (cloud: cdk.json kite_api_key)")
        return 2
    try:
        feed = build_feed(
            feed_config(settings),
            now=clock.parse(settings.market_clock, settings.market_clock_speed).now,
            market_open=market_open,
            is_trading_day=CALENDAR.is_trading_day,
            secret_name=settings.kite_secret_name,
            env_token=settings.kite_access_token.get_secret_value(),
        )
    except SpoolLockedError as exc:  # another feed on this spool, hence on this Kite account
        log.error("feed refuses to start: %s", exc)
        return 3
    except SpoolError as exc:
        log.error("feed cannot start: %s", exc)
        return 2
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    metrics = Metrics(namespace="Strikeboard", service="feed")
    # No token yet, Kite down, limiting or refusing the token: the feed waits and says so.
    feed.start()
    started = time.monotonic()
    next_metrics = started + METRICS_EVERY_S
    try:
        while not stopping:
            time.sleep(1.0)
            feed.supervise()
            if settings.heartbeat_file is not None:  # the container health check's
                heartbeat.beat(settings.heartbeat_file)
            if time.monotonic() >= next_metrics:
                next_metrics += METRICS_EVERY_S
                emit_metrics(metrics, feed.health(), time.monotonic() - started)
    finally:
        # ECS: SIGTERM, then SIGKILL after the container's stop timeout (FEED_DRAIN_S is below
        # it). Drained or not, exit 0: what is left is on the spool for the next feed.
        log.info("stopping: closing the ticker, spooling and archiving (%.0f s at most)",
                 settings.feed_drain_s)  # fmt: skip
        feed.stop(settings.feed_drain_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
