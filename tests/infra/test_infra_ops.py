"""Operations in the templates: the feed's market-hours schedule, alarms and dashboard, health
checks, dead-letter queues, deletion protection, windows outside market hours, throttling,
arm64 everywhere."""

from __future__ import annotations

import pytest
from conftest import NODE, SKIP_REASON

if NODE is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from conftest import Synth

from infra.stacks.feed import HEARTBEAT_FILE
from strikeboard.market.calendar import IST, SPECIAL_SESSIONS
from strikeboard.market.feed_hours import Action, regular_times

IST_MARKET = (time(9, 0), time(16, 0))
SCHEDULE_COMMAND = ["lambdas.feed_schedule.handler"]


def _resources(synth: Synth, stack: str, kind: str) -> dict[str, dict[str, Any]]:
    found = synth.templates[f"Strikeboard{stack}"]["Resources"].items()
    return {key: res["Properties"] for key, res in found if res["Type"] == kind}


def _feed_schedules(synth: Synth) -> dict[str, list[str]]:
    """action -> the cron expressions that invoke the feed schedule Lambda with it."""
    [fn] = [key for key, p in _resources(synth, "Jobs", "AWS::Lambda::Function").items()
            if p.get("ImageConfig", {}).get("Command") == SCHEDULE_COMMAND]  # fmt: skip
    out: dict[str, list[str]] = {}
    for props in _resources(synth, "Jobs", "AWS::Scheduler::Schedule").values():
        if props["Target"]["Arn"]["Fn::GetAtt"][0] == fn:
            assert props["ScheduleExpressionTimezone"] == "Asia/Kolkata"
            action = json.loads(props["Target"]["Input"])["action"]
            out.setdefault(action, []).append(props["ScheduleExpression"])
    return out


def test_the_feed_runs_08_30_to_16_05_ist_on_weekdays_and_special_sessions(
    synth: Synth,
) -> None:
    schedules = _feed_schedules(synth)
    weekdays = {a: [c for c in crons if "MON-FRI" in c] for a, crons in schedules.items()}
    assert weekdays == {
        "start": ["cron(30 8 ? * MON-FRI *)"], "token": ["cron(10 9 ? * MON-FRI *)"],
        "open": ["cron(16 9 ? * MON-FRI *)"], "close": ["cron(30 15 ? * MON-FRI *)"],
        "stop": ["cron(5 16 ? * MON-FRI *)"],
    }  # fmt: skip
    # Muhurat trading: yearly crons on the session's date (the Lambda skips other years).
    sunday = next(s for s in SPECIAL_SESSIONS if s.day.isoformat() == "2026-11-08")
    assert sunday.start == time(18, 0)
    assert "cron(15 17 8 11 ? *)" in schedules["start"]
    assert "cron(35 19 8 11 ? *)" in schedules["stop"]
    assert all(len(crons) == 1 + len(SPECIAL_SESSIONS) for crons in schedules.values())
    # The EOD job runs after the feed's stop (its final archive written).
    eod = [p for p in _resources(synth, "Jobs", "AWS::Scheduler::Schedule").values()
           if p["ScheduleExpression"] == "cron(15 16 ? * MON-FRI *)"]  # fmt: skip
    assert len(eod) == 1
    assert regular_times()[Action.STOP] < time(16, 15)


def test_the_schedule_lambda_may_only_scale_the_feed_and_toggle_its_alarms(
    synth: Synth,
) -> None:
    [fn] = [p for p in _resources(synth, "Jobs", "AWS::Lambda::Function").values()
            if p.get("ImageConfig", {}).get("Command") == SCHEDULE_COMMAND]  # fmt: skip
    assert "VpcConfig" not in fn  # AWS APIs only: no NAT or endpoint needed
    env = fn["Environment"]["Variables"]
    assert env["ALARM_PREFIX"] == "Strikeboard-"
    assert "Fn::ImportValue" in json.dumps(env["FEED_CLUSTER"])
    statements = [
        s for p in _resources(synth, "Jobs", "AWS::IAM::Policy").values()
        if "FeedSchedule" in json.dumps(p["Roles"])
        for s in p["PolicyDocument"]["Statement"]
    ]  # fmt: skip
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in statements}
    assert "Fn::ImportValue" in json.dumps(by_action['"ecs:UpdateService"'])
    alarms = json.dumps(next(r for a, r in by_action.items() if "EnableAlarmActions" in a))
    for name in ("Strikeboard-feed-no-tick", "Strikeboard-feed-token", "Strikeboard-feed-task"):
        assert f":alarm:{name}" in alarms
    [service] = _resources(synth, "Feed", "AWS::ECS::Service").values()
    assert "DesiredCount" not in service  # the schedule owns it; a deploy keeps it


def test_every_schedule_has_retries_and_an_encrypted_dead_letter_queue(synth: Synth) -> None:
    [(queue_id, queue)] = _resources(synth, "Jobs", "AWS::SQS::Queue").items()
    assert queue["SqsManagedSseEnabled"] is True
    schedules = _resources(synth, "Jobs", "AWS::Scheduler::Schedule").values()
    assert len(schedules) == 2 + 5 * (1 + len(SPECIAL_SESSIONS))
    for props in schedules:
        target = props["Target"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2,
                                         "MaximumEventAgeInSeconds": 3600}  # fmt: skip
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    [policy] = [p for p in _resources(synth, "Jobs", "AWS::SQS::QueuePolicy").values()]
    assert "aws:SecureTransport" in json.dumps(policy)


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {key.rstrip("0123456789ABCDEF"): p
            for key, p in _resources(synth, "Ops", "AWS::CloudWatch::Alarm").items()}  # fmt: skip


def _metrics(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """id -> MetricStat of a metric-math alarm."""
    return {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}


def test_market_hours_alarms_on_the_feeds_metrics(synth: Synth) -> None:
    alarms = _alarms(synth)
    no_tick = alarms["NoTick"]
    assert no_tick["AlarmName"] == "Strikeboard-feed-no-tick"
    assert (no_tick["Namespace"], no_tick["MetricName"]) == ("Strikeboard", "LastTickAgeSeconds")
    assert no_tick["Dimensions"] == [{"Name": "service", "Value": "feed"}]
    assert (no_tick["Statistic"], no_tick["Period"], no_tick["Threshold"]) == ("Maximum", 60, 60)
    assert no_tick["ComparisonOperator"] == "GreaterThanThreshold"
    assert no_tick["EvaluationPeriods"] == 2

    token = alarms["Token"]
    assert token["AlarmName"] == "Strikeboard-feed-token"
    [expression] = [m["Expression"] for m in token["Metrics"] if "Expression" in m]
    assert expression == "expired + waiting"
    names = {i: m["Metric"]["MetricName"] for i, m in _metrics(token).items()}
    assert names == {"expired": "TokenExpired", "waiting": "TokenWaiting"}
    assert token["Threshold"] == 1 and token["DatapointsToAlarm"] == 1

    task = alarms["NoTask"]
    assert task["AlarmName"] == "Strikeboard-feed-task"
    # AWS/ECS (free) rather than Container Insights: one CPU sample a minute per running task.
    assert (task["Namespace"], task["MetricName"]) == ("AWS/ECS", "CPUUtilization")
    assert (task["Statistic"], task["Threshold"]) == ("SampleCount", 1)
    assert task["ComparisonOperator"] == "LessThanThreshold"
    assert {d["Name"] for d in task["Dimensions"]} == {"ClusterName", "ServiceName"}
    assert task["EvaluationPeriods"] == 5
    # No task means no samples at all: that is the breach (the schedule forces the alarm to OK
    # when it arms it). Everything else emits nothing while the feed is stopped, and that is
    # no breach.
    assert task["TreatMissingData"] == "breaching"
    for name, alarm in alarms.items():
        if name != "NoTask":
            assert alarm["TreatMissingData"] == "notBreaching", name
        [action] = alarm["AlarmActions"]
        assert action == {"Ref": next(iter(_resources(synth, "Ops", "AWS::SNS::Topic")))}


def test_always_armed_alarms(synth: Synth) -> None:
    alarms = _alarms(synth)
    lag = alarms["ArchiveLag"]
    assert (lag["MetricName"], lag["Threshold"], lag["EvaluationPeriods"]) == (
        "ArchiveLagRecords", 300, 5)  # fmt: skip
    functions = ("Http", "Ws", "KiteLogin", "Eod", "Cleanup", "FeedSchedule")
    for name in functions:
        for kind in ("Errors", "Throttles"):
            alarm = alarms[f"{name}{kind}"]
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", kind)
            assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1
    storage = alarms["DbFreeStorage"]
    assert storage["MetricName"] == "FreeStorageSpace"
    assert storage["ComparisonOperator"] == "LessThanThreshold"
    assert storage["Threshold"] == 2 * 1024**3
    dlq = alarms["DeadLetters"]
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dlq["Threshold"] == 1
    [topic] = _resources(synth, "Ops", "AWS::SNS::Topic").values()
    assert not _resources(synth, "Ops", "AWS::SNS::Subscription")  # no alarm_email given
    assert len(alarms) == 3 + 1 + 2 * len(functions) + 2
    assert topic["DisplayName"] == "Strikeboard alarms"


def test_dashboard_shows_the_feeds_figures(synth: Synth) -> None:
    [dashboard] = _resources(synth, "Ops", "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["DashboardBody"])
    for metric in ("LastTickAgeSeconds", "TicksPerSecond", "ArchiveLagRecords", "CycleMs",
                   "TokenWaiting", "CPUUtilization"):  # fmt: skip
        assert metric in body, metric
    assert "empty graphs are normal" in body


def test_feed_and_pusher_health_checks(synth: Synth) -> None:
    [task] = _resources(synth, "Feed", "AWS::ECS::TaskDefinition").values()
    for container in task["ContainerDefinitions"]:
        check = container["HealthCheck"]
        assert check["Command"] == ["CMD", "python", "-m", "strikeboard.heartbeat",
                                    HEARTBEAT_FILE, "30"]  # fmt: skip
        assert (check["Interval"], check["Retries"], check["StartPeriod"]) == (30, 3, 60)
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["HEARTBEAT_FILE"] == HEARTBEAT_FILE


def _utc_window_in_ist(window: str) -> tuple[time, time]:
    """``hh:mm-hh:mm`` or ``ddd:hh:mm-ddd:hh:mm`` (UTC) as IST times of day."""
    start, end = (part.split(":")[-2:] for part in window.split("-"))
    day = datetime(2026, 11, 23, tzinfo=UTC)
    return tuple(  # type: ignore[return-value]
        (day + timedelta(hours=int(h), minutes=int(m))).astimezone(IST).time()
        for h, m in (start, end)
    )


def _outside_market_hours(window: str) -> bool:
    start, end = _utc_window_in_ist(window)
    opens, closes = IST_MARKET
    wraps = end < start  # across midnight IST
    return (end <= opens or start >= closes) and not (wraps and start < closes)


def test_the_windows_converter() -> None:
    assert _utc_window_in_ist("20:30-21:00") == (time(2, 0), time(2, 30))
    assert _utc_window_in_ist("sun:04:00-sun:04:30") == (time(9, 30), time(10, 0))
    assert not _outside_market_hours("sun:04:00-sun:04:30")
    assert not _outside_market_hours("10:00-11:00")  # 15:30-16:30 IST overlaps
    assert _outside_market_hours("11:00-11:30")  # 16:30-17:00 IST


def test_rds_protected_with_windows_outside_market_hours(synth: Synth) -> None:
    [db] = _resources(synth, "Data", "AWS::RDS::DBInstance").values()
    assert db["DeletionProtection"] is True
    assert _outside_market_hours(db["PreferredBackupWindow"])
    assert _outside_market_hours(db["PreferredMaintenanceWindow"])
    [redis] = _resources(synth, "Data", "AWS::ElastiCache::ReplicationGroup").values()
    assert _outside_market_hours(redis["SnapshotWindow"])
    assert _outside_market_hours(redis["PreferredMaintenanceWindow"])


def test_stage_throttling(synth: Synth) -> None:
    stages = _resources(synth, "Api", "AWS::ApiGatewayV2::Stage").values()
    assert len(stages) == 2
    for stage in stages:
        settings = stage["DefaultRouteSettings"]
        assert settings["ThrottlingRateLimit"] == 50
        assert settings["ThrottlingBurstLimit"] == 100


def test_arm64_on_every_app_lambda_and_the_task(synth: Synth) -> None:
    stacks = [name.removeprefix("Strikeboard") for name in synth.templates]
    functions = [p for stack in stacks
                 for p in _resources(synth, stack, "AWS::Lambda::Function").values()]  # fmt: skip
    images = [p for p in functions if p.get("PackageType") == "Image"]
    assert len(images) == 6  # http, kite_login, ws, eod, cleanup, feed_schedule
    for props in images:
        assert props["Architectures"] == ["arm64"]
    [task] = _resources(synth, "Feed", "AWS::ECS::TaskDefinition").values()
    assert task["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
