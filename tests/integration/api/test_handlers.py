"""The Lambda handlers driven by the sample events in events/ (API Gateway HTTP API v2 and
EventBridge schedules), over real Redis and PostgreSQL data."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import Api

import lambdas.jobs as jobs_lambda
from lambdas import http_api
from strikeboard.api.app import create_app
from strikeboard.api.jobs import event_day
from strikeboard.config import Settings, get_settings
from strikeboard.store.archive import Archive

EVENTS = Path(__file__).resolve().parents[3] / "events"


class FakeContext:
    function_name = "strikeboard-http-api"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:strikeboard-http-api"
    memory_limit_in_mb = 512
    aws_request_id = "7f8e9d0c-1b2a-4c3d-8e9f-0a1b2c3d4e5f"
    log_group_name = "/aws/lambda/strikeboard-http-api"
    log_stream_name = "2026/11/25/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def invoke(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Call `lambdas.http_api.handler` with an event file, against this test's stores.
    The events' dates and tokens are moved onto the simulated session's."""
    app = create_app(api.settings, api.stores, api.clock)
    monkeypatch.setattr(http_api, "_mangum", http_api.mangum_for(app))
    expiry = api.data.expiries[0]
    leg = api.data.latest[expiry]["strikes"][f"{api.data.latest[expiry]['atm_strike']:g}"]["CE"]

    def call(name: str) -> tuple[int, dict[str, str], Any]:
        text = (EVENTS / "http" / f"{name}.json").read_text()
        text = text.replace("2026-12-01", expiry).replace("2026-11-25", api.data.day.isoformat())
        text = text.replace("12345678", str(leg["token"]))
        response = http_api.handler(json.loads(text), FakeContext())
        body = response.get("body", "")
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        ctype = response["headers"].get("content-type", "")
        parsed = json.loads(body) if ctype.startswith("application/json") else body
        return response["statusCode"], response["headers"], parsed

    yield call


def test_every_route_event_gets_its_answer(invoke: Any, api: Api) -> None:
    expiry = api.data.expiries[0]
    live = api.data.latest[expiry]
    status, _, body = invoke("health")
    assert status == 200 and body["status"] == "ok"
    status, _, body = invoke("market")
    assert status == 200 and body["instruments"]["NIFTY 50"]["ltp"] == live["spot"]
    status, _, body = invoke("expiries")
    assert status == 200 and [e["expiry"] for e in body] == api.data.expiries
    status, _, body = invoke("chain")
    assert status == 200 and body["source"] == "live" and body["spot"] == live["spot"]
    assert set(body["strikes"]) == set(live["strikes"])
    status, _, body = invoke("chain_nse_window")
    assert status == 200 and body["convention"] == "nse" and len(body["strikes"]) == 21
    status, _, body = invoke("chain_at")
    assert status == 200 and body["source"] == "archive"
    assert body["minute"] == api.data.minutes[1].isoformat()
    status, _, body = invoke("history_ticks")
    assert status == 200 and len(body["ticks"]) == 2 and body["next"]
    status, _, body = invoke("history_candles")
    assert status == 200 and [c["close"] for c in body][-1] == live["spot"]
    status, _, body = invoke("history_contract")
    assert status == 200 and len(body["minutes"]) == 3 and body["option_type"] == "CE"
    status, _, body = invoke("analytics_oi")
    assert status == 200 and body["max_pain"] == live["aggregates"]["max_pain"]
    status, _, body = invoke("analytics_intraday")
    assert status == 200 and len(body["points"]) == 3
    status, _, body = invoke("analytics_smile")
    assert status == 200 and body["convention"] == "nse" and body["points"]
    status, _, body = invoke("analytics_gex")
    assert status == 200 and len(body["strikes"]) == len(live["strikes"])
    status, _, body = invoke("analytics_daily")
    assert status == 200 and body[-1]["day"] == api.data.day.isoformat()
    status, _, body = invoke("preferences_put")
    assert status == 200 and body["theme"] == "light"
    status, _, body = invoke("preferences_get")  # same Cognito user (claims) as the PUT
    assert status == 200 and body["strikes"] == 15
    status, _, body = invoke("auth_config")
    assert status == 200 and body == {"mode": "dev"}
    status, _, body = invoke("ws_ticket")
    assert status == 200 and body["expires_in"] == 30 and len(body["ticket"]) >= 40
    status, _, body = invoke("openapi")
    assert status == 200 and "/api/chain/{expiry}" in body["paths"]
    status, _, body = invoke("docs")
    assert status == 200 and "swagger" in body.lower()


def test_error_events(invoke: Any) -> None:
    status, headers, body = invoke("chain_unauthenticated")
    assert status == 401 and "not authenticated" in body["detail"]
    assert headers.get("www-authenticate") == "Bearer"
    status, _, body = invoke("chain_bad_expiry")
    assert status == 422 and "expiry" in body["detail"]
    status, _, body = invoke("auth_kite_callback_no_state")
    assert status == 400 and "no state" in body["detail"]
    status, _, body = invoke("auth_kite_login_not_admin")
    assert status == 403 and "admin" in body["detail"]
    # A member of the admin group (API Gateway's flattened "[admin]" claim) gets past the
    # group check; Kite is not configured in tests.
    status, _, body = invoke("auth_kite_login")
    assert status == 503 and "KITE_API_KEY" in body["detail"]


@pytest.fixture
def job_env(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    s = api.settings
    monkeypatch.setenv("REDIS_URL", s.redis_url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", s.redis_key_prefix)
    monkeypatch.setenv("DATABASE_URL", s.database_url)
    monkeypatch.setenv("TICK_RETENTION_DAYS", "10")
    get_settings.cache_clear()
    jobs_lambda._get_stores.cache_clear()
    yield get_settings()
    jobs_lambda._get_stores().close()
    jobs_lambda._get_stores.cache_clear()
    get_settings.cache_clear()


def _schedule(name: str, **detail: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "schedule" / f"{name}.json").read_text())
    event["detail"].update(detail)
    return event


def test_eod_job_stores_daily_stats(job_env: Settings, api: Api) -> None:
    day = api.data.day.isoformat()
    result = jobs_lambda.eod_handler(_schedule("eod", day=day), FakeContext())
    n = len(api.data.expiries)
    assert result == {"day": day, "underlyings": {"NIFTY": n}, "expiries": n}
    again = jobs_lambda.eod_handler(_schedule("eod_rerun", day=day), FakeContext())
    assert again == result  # idempotent
    with psycopg.connect(job_env.database_url) as conn:
        rows = conn.execute(
            "SELECT expiry, minutes, atm_iv_close, max_pain_close FROM daily_stats ORDER BY 1"
        ).fetchall()
    assert [r[0].isoformat() for r in rows] == api.data.expiries
    for expiry, minutes, iv, pain in rows:
        agg = api.data.latest[expiry.isoformat()]["aggregates"]
        assert minutes == 3 and iv == agg["atm_iv"] and pain == agg["max_pain"]


def test_cleanup_job_drops_old_tick_partitions_only(job_env: Settings, api: Api) -> None:
    today = api.data.day
    old = [today - timedelta(days=40), today - timedelta(days=11)]
    with Archive(job_env.database_url) as db:
        db.ensure_partitions(old)
        before = db.partitions()
    result = jobs_lambda.cleanup_handler(_schedule("cleanup", day=today.isoformat()), FakeContext())
    assert sorted(result["tick_partitions_dropped"]) == sorted(d.isoformat() for d in old)
    with Archive(job_env.database_url) as db:
        after = db.partitions()
        assert db.count_ticks() == sum(len(t) for t in api.data.ticks)
    assert set(after) == set(before) - set(old)
    assert all(d >= today - timedelta(days=10) for d in after)
    assert result["chain_minute_deleted"] == 0


def test_cleanup_job_deletes_fired_alerts_older_than_their_retention(
    job_env: Settings, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALERTS_EVENTS_RETENTION_DAYS (here 30): events created before the start of the IST day
    30 days before the job's day go; younger ones, and the rules, stay."""
    monkeypatch.setenv("ALERTS_EVENTS_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    today = api.data.day
    ages = {"old": 45, "edge": 31, "kept": 30, "new": 1}  # days before `today`, at 09:20 IST
    with psycopg.connect(job_env.database_url, autocommit=True) as conn:
        (rule,) = (
            conn.execute(
                "INSERT INTO alert_rules (user_id, kind, underlying, op, level) VALUES"
                " ('dev', 'spot', 'NIFTY', 'crosses_above', 24600) RETURNING id"
            ).fetchone()
            or ()
        )
        for crossing, (text, days) in enumerate(ages.items(), start=1):
            conn.execute(
                "INSERT INTO alert_events (rule_id, crossing, user_id, kind, underlying, op, email,"
                " level, value, text, fired_at, created_at) VALUES (%s, %s, 'dev', 'spot',"
                " 'NIFTY', 'crosses_above', false, 24600, 24601, %s, %s, %s)",
                (rule, crossing, text, f"{today - timedelta(days=days)}T09:20:00+05:30",
                 f"{today - timedelta(days=days)}T09:20:00+05:30"),
            )  # fmt: skip
    result = jobs_lambda.cleanup_handler(_schedule("cleanup", day=today.isoformat()), FakeContext())
    assert result["alert_events_deleted"] == 2
    assert result["alert_events_cutoff"] == (today - timedelta(days=30)).isoformat()
    with psycopg.connect(job_env.database_url) as conn:
        left = [r[0] for r in conn.execute("SELECT text FROM alert_events ORDER BY id")]
        assert left == ["kept", "new"]
        assert conn.execute("SELECT count(*) FROM alert_rules").fetchone() == (1,)
    again = jobs_lambda.cleanup_handler(_schedule("cleanup", day=today.isoformat()), FakeContext())
    assert again["alert_events_deleted"] == 0  # idempotent


def test_schedule_event_time_gives_the_ist_day() -> None:
    event = json.loads((EVENTS / "schedule" / "cleanup.json").read_text())
    assert event_day(event, default=None) == date(2026, 11, 25)  # type: ignore[arg-type]
