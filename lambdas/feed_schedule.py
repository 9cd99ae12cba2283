"""Scheduled (EventBridge Scheduler, Asia/Kolkata) Lambda: the feed runs when the market does.

The event is ``{"action": "start" | "token" | "open" | "close" | "stop", "time": <scheduled
time>}``; `strikeboard.market.feed_hours.decide` says what that action does at that time: set
the feed service's desired count (1 at the start, 0 at the stop) and turn the market-hours
alarms' actions on or off. A weekend or holiday without a session, or a schedule of the normal
market on a special session's day (and the other way round), is skipped as the jobs skip:
logged "feed-schedule skipped", metric JobSkipped, ``{"skipped": "<why>", ...}`` returned.

Settings: FEED_CLUSTER, FEED_SERVICE, ALARM_PREFIX (set by infra/stacks/jobs.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from strikeboard.api import jobs
from strikeboard.config import Settings, get_settings
from strikeboard.market.calendar import IST
from strikeboard.market.feed_hours import Action, Decision, decide

logger = Logger(service="strikeboard-feed-schedule")
metrics = Metrics(namespace="Strikeboard", service="feed-schedule")

clock: Callable[[], datetime] = lambda: datetime.now(IST)  # noqa: E731 - replaced in tests
"""The wall clock, used only when an event carries no ``time`` (a manual run)."""


@functools.cache
def _clients() -> tuple[Any, Any]:
    return boto3.client("ecs"), boto3.client("cloudwatch")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        action = Action(str(event.get("action")))
    except ValueError:
        raise ValueError(
            f"event action {event.get('action')!r}: expected one of {[a.value for a in Action]}"
        ) from None
    decision = decide(action, jobs.event_time(event, clock))
    if decision.skipped is not None:
        result = {"skipped": decision.skipped, "action": action.value,
                  "at": decision.at.isoformat()}  # fmt: skip
        metrics.add_metric(name="JobSkipped", unit=MetricUnit.Count, value=1)
        logger.info("feed-schedule skipped", extra=result)
        return result
    ecs, cloudwatch = _clients()
    result = apply(decision, get_settings(), ecs, cloudwatch)
    metrics.add_metric(name="FeedScheduleActions", unit=MetricUnit.Count, value=1)
    logger.info("feed-schedule done", extra=result)
    return result


def apply(decision: Decision, settings: Settings, ecs: Any, cloudwatch: Any) -> dict[str, Any]:
    """Carry out a decision that is not a skip: arm alarms first (each forced to OK, so one
    already breaching notifies at its next evaluation), then the desired count, then disarm."""
    effect = decision.effect
    assert effect is not None
    if not (settings.feed_cluster and settings.feed_service):
        raise ValueError("FEED_CLUSTER and FEED_SERVICE must name the feed's ECS service")
    armed = [f"{settings.alarm_prefix}{alarm}" for alarm in effect.arm]
    disarmed = [f"{settings.alarm_prefix}{alarm}" for alarm in effect.disarm]
    if armed:
        cloudwatch.enable_alarm_actions(AlarmNames=armed)
        for name in armed:
            # Actions fire on a change of state: an alarm already in ALARM when armed would
            # otherwise stay silent.
            cloudwatch.set_alarm_state(
                AlarmName=name, StateValue="OK",
                StateReason=f"armed for the session by the {decision.action} schedule",
            )  # fmt: skip
    if effect.desired_count is not None:
        ecs.update_service(
            cluster=settings.feed_cluster,
            service=settings.feed_service,
            desiredCount=effect.desired_count,
        )
    if disarmed:
        cloudwatch.disable_alarm_actions(AlarmNames=disarmed)
    return {
        "action": decision.action.value, "at": decision.at.isoformat(),
        "session": decision.session, "desired_count": effect.desired_count,
        "armed": armed, "disarmed": disarmed,
    }  # fmt: skip
