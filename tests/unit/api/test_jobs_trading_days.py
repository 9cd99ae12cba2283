"""The scheduled jobs run on NSE trading days only; the day comes from the event or the
handler's injected clock, never the wall clock."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import lambdas.jobs as jobs_lambda
from strikeboard.api import jobs
from strikeboard.market.calendar import IST
from strikeboard.market.underlyings import parse_underlyings

EVENTS = Path(__file__).resolve().parents[3] / "events"


class FakeContext:
    function_name = "strikeboard-jobs"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:strikeboard-jobs"
    memory_limit_in_mb = 512
    aws_request_id = "7f8e9d0c-1b2a-4c3d-8e9f-0a1b2c3d4e5f"
    log_group_name = "/aws/lambda/strikeboard-jobs"
    log_stream_name = "2026/11/24/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, date]]:
    """The jobs' work replaced by a recorder; no stores are opened."""
    calls: list[tuple[str, date]] = []

    def fake_eod(stores: Any, day: date, underlyings: list[str]) -> dict[str, Any]:
        assert underlyings == ["NIFTY", "SENSEX"]  # every configured underlying
        calls.append(("eod", day))
        return {"day": day.isoformat(), "underlyings": {"NIFTY": 3, "SENSEX": 0}, "expiries": 3}

    def fake_cleanup(settings: Any, stores: Any, today: date) -> dict[str, Any]:
        calls.append(("cleanup", today))
        return {"tick_partitions_dropped": []}

    monkeypatch.setattr(jobs, "eod", fake_eod)
    monkeypatch.setattr(jobs, "cleanup", fake_cleanup)
    monkeypatch.setattr(jobs_lambda, "_get_stores", object)
    monkeypatch.setattr(
        jobs_lambda,
        "get_settings",
        lambda: SimpleNamespace(underlying_list=parse_underlyings("NIFTY,SENSEX")),
    )
    monkeypatch.setattr(jobs_lambda, "clock", _fail_clock)
    return calls


def _fail_clock() -> datetime:
    raise AssertionError("the job read the clock although the event has its day")


def _schedule(name: str, **detail: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "schedule" / f"{name}.json").read_text())
    event["detail"].update(detail)
    return event


def test_eod_on_a_holiday_skips(ran: list[tuple[str, date]]) -> None:
    result = jobs_lambda.eod_handler(_schedule("eod", day="2026-11-24"), FakeContext())
    assert result == {"skipped": "2026-11-24 is an NSE holiday", "day": "2026-11-24"}
    assert ran == []


def test_eod_on_a_trading_day_runs(ran: list[tuple[str, date]]) -> None:
    result = jobs_lambda.eod_handler(_schedule("eod", day="2026-11-25"), FakeContext())
    assert result["expiries"] == 3 and ran == [("eod", date(2026, 11, 25))]


def test_eod_day_from_the_event_time(ran: list[tuple[str, date]]) -> None:
    event = _schedule("eod")
    event["detail"].pop("day", None)
    event["time"] = "2026-11-24T10:30:00Z"  # 16:00 IST on the holiday
    assert jobs_lambda.eod_handler(event, FakeContext())["skipped"].startswith("2026-11-24")
    event["time"] = "2026-11-25T10:30:00Z"
    jobs_lambda.eod_handler(event, FakeContext())
    assert ran == [("eod", date(2026, 11, 25))]


def test_cleanup_skips_weekends_and_uses_the_injected_clock(
    ran: list[tuple[str, date]], monkeypatch: pytest.MonkeyPatch
) -> None:
    event: dict[str, Any] = {"detail": {}}  # no day, no time: the handler's clock decides
    monkeypatch.setattr(jobs_lambda, "clock", lambda: datetime(2026, 11, 28, 23, 0, tzinfo=IST))
    result = jobs_lambda.cleanup_handler(event, FakeContext())
    assert result == {"skipped": "2026-11-28 is a Saturday", "day": "2026-11-28"} and ran == []
    monkeypatch.setattr(jobs_lambda, "clock", lambda: datetime(2026, 11, 27, 23, 0, tzinfo=IST))
    jobs_lambda.cleanup_handler(event, FakeContext())
    assert ran == [("cleanup", date(2026, 11, 27))]
