"""lambdas.feed_schedule against moto's ECS and CloudWatch: the desired count and the
market-hours alarms follow the scheduled action; days without a session change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from test_jobs_trading_days import FakeContext

from lambdas import feed_schedule
from strikeboard.config import Settings
from strikeboard.market.feed_hours import Alarm

EVENTS = Path(__file__).resolve().parents[3] / "events"
REGION = "ap-south-1"
PREFIX = "Test-"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION)):  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        ecs.create_cluster(clusterName="feed")
        ecs.register_task_definition(
            family="feed", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
            cpu="1024", memory="2048",
            containerDefinitions=[{"name": "feed", "image": "feed:latest"}],
        )  # fmt: skip
        ecs.create_service(cluster="feed", serviceName="feed", taskDefinition="feed",
                           desiredCount=0, launchType="FARGATE")  # fmt: skip
        for alarm in Alarm:
            cloudwatch.put_metric_alarm(
                AlarmName=f"{PREFIX}{alarm}", Namespace="Strikeboard", MetricName="X",
                Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=1,
                ComparisonOperator="GreaterThanThreshold", ActionsEnabled=False,
            )  # fmt: skip
        settings = Settings(feed_cluster="feed", feed_service="feed", alarm_prefix=PREFIX)
        monkeypatch.setattr(feed_schedule, "get_settings", lambda: settings)
        monkeypatch.setattr(feed_schedule, "_clients", lambda: (ecs, cloudwatch))
        yield ecs, cloudwatch


def _run(action: str, utc: str) -> dict[str, Any]:
    event = json.loads((EVENTS / "schedule" / "feed_start.json").read_text())
    event.update(action=action, time=utc)
    return feed_schedule.handler(event, FakeContext())


def _state(ecs: Any, cloudwatch: Any) -> tuple[int, dict[str, bool]]:
    [service] = ecs.describe_services(cluster="feed", services=["feed"])["services"]
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    return service["desiredCount"], {
        a["AlarmName"].removeprefix(PREFIX): a["ActionsEnabled"] for a in alarms
    }


def test_a_trading_day_runs_the_feed_and_arms_its_alarms(aws: tuple[Any, Any]) -> None:
    ecs, cloudwatch = aws
    off = {"feed-token": False, "feed-task": False, "feed-no-tick": False}
    # 2026-11-25 (Wednesday), IST = UTC + 05:30.
    assert _run("start", "2026-11-25T03:00:00Z")["desired_count"] == 1
    assert _state(ecs, cloudwatch) == (1, off)
    result = _run("token", "2026-11-25T03:40:00Z")
    assert result["armed"] == ["Test-feed-token", "Test-feed-task"]
    assert _state(ecs, cloudwatch) == (1, {**off, "feed-token": True, "feed-task": True})
    [token] = cloudwatch.describe_alarms(AlarmNames=["Test-feed-token"])["MetricAlarms"]
    assert token["StateValue"] == "OK"  # forced, so a breach notifies at the next evaluation
    _run("open", "2026-11-25T03:46:00Z")
    assert _state(ecs, cloudwatch) == (1, {k: True for k in off})
    _run("close", "2026-11-25T10:00:00Z")
    assert _state(ecs, cloudwatch) == (1, {**off, "feed-task": True})
    assert _run("stop", "2026-11-25T10:35:00Z")["desired_count"] == 0
    assert _state(ecs, cloudwatch) == (0, off)


def test_a_holiday_changes_nothing_and_says_why(aws: tuple[Any, Any]) -> None:
    ecs, cloudwatch = aws
    result = _run("start", "2026-11-24T03:00:00Z")  # an NSE holiday
    assert result == {"skipped": "2026-11-24 is an NSE holiday", "action": "start",
                      "at": "2026-11-24T08:30:00+05:30"}  # fmt: skip
    assert _state(ecs, cloudwatch)[0] == 0


def test_a_bad_action_is_refused_clearly(aws: tuple[Any, Any]) -> None:
    with pytest.raises(ValueError, match="event action 'begin': expected one of"):
        _run("begin", "2026-11-25T03:00:00Z")
