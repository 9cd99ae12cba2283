"""GET/POST/DELETE /api/alerts and GET /api/alerts/events over real PostgreSQL: validation
(422 with the reason), the per-user cap, each user seeing only their own rules and alerts (a
second user through the Lambda handler with API Gateway's verified claims), paging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import AUTH, Api, _api, make_settings

from lambdas import http_api
from strikeboard.api.app import create_app
from strikeboard.chain.alerts import Change, Kind, Op, Rule, RuleState, Target
from strikeboard.market.calendar import IST
from strikeboard.store.alerts import AlertRepo

EVENTS = Path(__file__).resolve().parents[3] / "events" / "http"
SPOT = {"kind": "spot", "op": "crosses_above", "level": 24_600}


def post(api: Api, **rule: Any) -> Any:
    return api.client.post("/api/alerts", headers=AUTH, json=rule)


def test_create_list_delete(api: Api) -> None:
    expiry = api.data.expiries[0]
    response = post(api, **SPOT, note="breakout")
    assert response.status_code == 201, response.text
    spot = response.json()
    assert spot["underlying"] == "NIFTY" and spot["armed"] is None and spot["crossings"] == 0
    assert "user_id" not in spot
    contract = post(api, kind="iv", expiry=expiry, strike=24_500, option_type="CE",
                    op="crosses_below", level=0.12, hysteresis=0.005).json()  # fmt: skip
    pcr = post(api, kind="pcr", expiry=expiry, op="crosses_above", level=1.2).json()
    listed = api.client.get("/api/alerts", headers=AUTH).json()
    assert [r["id"] for r in listed["rules"]] == [spot["id"], contract["id"], pcr["id"]]
    assert listed["email"] is False and listed["max_rules"] == 50
    assert listed["rules"][1]["strike"] == 24_500 and listed["rules"][1]["option_type"] == "CE"
    assert api.client.delete(f"/api/alerts/{contract['id']}", headers=AUTH).status_code == 204
    assert api.client.delete(f"/api/alerts/{contract['id']}", headers=AUTH).status_code == 404
    listed = api.client.get("/api/alerts", headers=AUTH).json()
    assert [r["id"] for r in listed["rules"]] == [spot["id"], pcr["id"]]


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"kind": "ltp", "op": "crosses_above", "level": 100}, "needs an expiry"),
        ({"kind": "ltp", "expiry": "EXPIRY", "op": "crosses_above", "level": 100},
         "needs a positive strike"),
        ({"kind": "oi", "expiry": "EXPIRY", "strike": 24_500, "op": "crosses_above",
          "level": 1}, "option_type CE or PE"),
        ({"kind": "spot", "expiry": "EXPIRY", "op": "crosses_above", "level": 1},
         "takes no expiry"),
        ({"kind": "pcr", "expiry": "EXPIRY", "strike": 24_500, "op": "crosses_above",
          "level": 1}, "takes no strike"),
        ({"kind": "iv", "expiry": "EXPIRY", "strike": 24_500, "option_type": "CE",
          "op": "crosses_above", "level": 15}, "0.15 is 15 %"),
        ({"kind": "spot", "op": "crosses_above", "level": -5}, "above 0"),
        ({"kind": "pcr", "expiry": "EXPIRY", "op": "crosses_above", "level": 0},
         "pcr level must be above 0 and at most 100"),
        ({"kind": "spot", "op": "sideways", "level": 1}, "body.op"),
        ({"kind": "spot", "op": "crosses_above", "level": 1, "user_id": "x"}, "user_id"),
        ({**SPOT, "email": True}, "not configured"),
        ({**SPOT, "note": "x" * 81}, "body.note"),
    ],
)  # fmt: skip
def test_bad_rules_are_422_with_the_reason(api: Api, rule: dict[str, Any], reason: str) -> None:
    body = {k: (api.data.expiries[0] if v == "EXPIRY" else v) for k, v in rule.items()}
    response = post(api, **body)
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


def test_an_expiry_already_past_is_a_404(api: Api) -> None:
    # The market's day is 2026-11-25 (market_data.NOW): the day before has nothing to watch.
    response = post(api, kind="pcr", expiry="2026-11-24", op="crosses_above", level=1)
    assert response.status_code == 404 and "is past" in response.json()["detail"]


def test_an_underlying_not_followed_is_a_400(api: Api) -> None:
    response = post(api, **SPOT, underlying="SENSEX")
    assert response.status_code == 400 and "follows NIFTY" in response.json()["detail"]


def test_the_cap_per_user(redis_url: str, redis_prefix: str, database_url: str, data: Any) -> None:
    settings = make_settings(redis_url, redis_prefix, database_url).model_copy(
        update={"alerts_max_rules": 2}
    )
    for api in _api(settings, data):
        assert post(api, **SPOT).status_code == 201
        assert post(api, **SPOT).status_code == 201
        response = post(api, **SPOT)
        assert response.status_code == 422 and "at most 2 alert rules" in response.text
        rules = api.client.get("/api/alerts", headers=AUTH).json()["rules"]
        assert len(rules) == 2
        assert api.client.delete(f"/api/alerts/{rules[0]['id']}", headers=AUTH).status_code == 204
        assert post(api, **SPOT).status_code == 201


def _lambda(api: Api, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Invoke the Lambda handler with a sample event (trader1's verified claims)."""
    app = create_app(api.settings, api.stores)
    monkeypatch.setattr(http_api, "_mangum", http_api.mangum_for(app))

    class Context:
        function_name, memory_limit_in_mb = "strikeboard-http-api", 512
        invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:x"
        aws_request_id = "req"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    def call(name: str, path: str | None = None) -> tuple[int, Any]:
        event = json.loads((EVENTS / f"{name}.json").read_text()
                           .replace("2026-12-01", api.data.expiries[0]))  # fmt: skip
        if path is not None:
            event["rawPath"] = event["requestContext"]["http"]["path"] = path
        response = http_api.handler(event, Context())
        body = response.get("body") or "null"
        return response["statusCode"], json.loads(body)

    return call


def test_each_user_sees_only_their_own(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    call = _lambda(api, monkeypatch)
    mine = post(api, **SPOT).json()
    status, theirs = call("alerts_create")
    assert status == 201 and theirs["note"] == "breakout"
    status, body = call("alerts_create_contract")
    assert status == 201 and body["kind"] == "iv" and body["hysteresis"] == 0.005
    status, listed = call("alerts_list")
    assert status == 200 and [r["id"] for r in listed["rules"]] == [theirs["id"], body["id"]]
    own = api.client.get("/api/alerts", headers=AUTH).json()["rules"]
    assert [r["id"] for r in own] == [mine["id"]]
    # Neither can delete the other's rule: a 404, as for a rule that does not exist.
    status, _ = call("alerts_delete", f"/api/alerts/{mine['id']}")
    assert status == 404
    assert api.client.delete(f"/api/alerts/{theirs['id']}", headers=AUTH).status_code == 404
    # Fired alerts too: trader1's event is not listed for dev, and stays after the deletion.
    _fire(api, theirs["id"], "0c5e2f4a-7b1d-4a8e-9f3c-2d6b8e1a4c7f", 24_612.5)
    status, _ = call("alerts_delete", f"/api/alerts/{theirs['id']}")
    assert status == 204
    status, page = call("alerts_events")
    assert status == 200 and [e["rule_id"] for e in page["events"]] == [theirs["id"]]
    assert api.client.get("/api/alerts/events", headers=AUTH).json()["events"] == []


def _fire(api: Api, rule_id: int, user: str, value: float, crossing: int = 1) -> None:
    """Record a fire as the evaluator does (`AlertRepo.record`)."""
    rule = Rule(rule_id, user, Target(Kind.SPOT, "NIFTY"), Op.CROSSES_ABOVE, 24_600.0)
    with psycopg.connect(api.settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE alert_rules SET crossings = %s WHERE id = %s",
                     (crossing - 1, rule_id))  # fmt: skip
    repo = AlertRepo(api.settings.database_url)
    before = RuleState(True, crossing - 1, 24_590.0)
    at = api.data.minutes[-1].astimezone(IST)
    repo.record(Change(rule, before, RuleState(False, crossing, value), True), at)
    repo.close()


def test_events_newest_first_in_pages(api: Api) -> None:
    rule = post(api, **SPOT).json()
    for crossing in range(1, 6):
        _fire(api, rule["id"], "dev", 24_600.0 + crossing, crossing)
    first = api.client.get("/api/alerts/events?limit=2", headers=AUTH).json()
    assert [e["crossing"] for e in first["events"]] == [5, 4]
    second = api.client.get(f"/api/alerts/events?limit=2&before={first['next']}",
                            headers=AUTH).json()  # fmt: skip
    third = api.client.get(f"/api/alerts/events?limit=2&before={second['next']}",
                           headers=AUTH).json()  # fmt: skip
    assert [e["crossing"] for e in second["events"]] == [3, 2]
    assert [e["crossing"] for e in third["events"]] == [1] and third["next"] is None
    event = first["events"][0]
    assert event["text"] == "NIFTY spot crossed above 24600 (24605)"
    assert event["previous"] == 24_590.0 and event["fired_at"].endswith("+05:30")
    # Deleting the rule leaves its alerts listed.
    assert api.client.delete(f"/api/alerts/{rule['id']}", headers=AUTH).status_code == 204
    assert len(api.client.get("/api/alerts/events", headers=AUTH).json()["events"]) == 5


def test_without_postgres_a_503(all_down: Api) -> None:
    assert all_down.client.get("/api/alerts", headers=AUTH).status_code == 503
    assert post(all_down, **SPOT).status_code == 503
