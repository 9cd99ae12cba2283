"""GET /api/analytics/surface against real Redis and PostgreSQL holding the simulated session:
per expiry the chain's own ATM IV and smile, live or at a past minute; bad input is a 4xx."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import AUTH, Api

ROUTE = "/api/analytics/surface"


def _smile_of(doc: dict[str, Any]) -> dict[float, float]:
    """The finite shown IVs of a chain document by strike (what the surface's points carry)."""
    return {
        float(row["strike"]): row["iv"]
        for row in doc["strikes"].values()
        if row.get("iv") is not None and math.isfinite(row["iv"])
    }


def test_live_surface_is_every_expirys_chain(api: Api) -> None:
    response = api.client.get(ROUTE, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["underlying"] == "NIFTY" and body["at"] is None
    assert [e["expiry"] for e in body["expiries"]] == api.data.expiries
    assert len(body["expiries"]) >= 2  # a term structure, not a point
    for row in body["expiries"]:
        doc = api.data.latest[row["expiry"]]
        assert row["source"] == "live" and row["minute"] is None
        assert row["atm_iv"] == doc["aggregates"]["atm_iv"] and row["atm_iv"] > 0
        assert row["forward"] == doc["forward"] and row["atm_strike"] == doc["atm_strike"]
        assert {p["strike"]: p["iv"] for p in row["points"]} == _smile_of(doc)
        for p in row["points"]:
            moneyness = math.log(p["strike"] / doc["forward"])
            assert p["moneyness"] == pytest.approx(moneyness, rel=1e-12)
    days = [e["days_to_expiry"] for e in body["expiries"]]
    assert days == sorted(days)


def test_surface_at_a_past_minute_is_the_archived_chains(api: Api) -> None:
    minute = api.data.minutes[1]
    response = api.client.get(ROUTE, params={"at": minute.strftime("%Y-%m-%dT%H:%M")},
                              headers=AUTH)  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["at"] == minute.isoformat()
    assert [e["expiry"] for e in body["expiries"]] == sorted(api.data.snapshots[1])
    for row in body["expiries"]:
        then = api.data.snapshots[1][row["expiry"]]
        chain = api.client.get(f"/api/chain/{row['expiry']}",
                               params={"at": minute.isoformat()}, headers=AUTH).json()  # fmt: skip
        assert row["source"] == "archive" and row["minute"] == minute.isoformat()
        assert row["atm_iv"] == chain["aggregates"]["atm_iv"] == then["aggregates"]["atm_iv"]
        assert {p["strike"]: p["iv"] for p in row["points"]} == _smile_of(chain)


def test_surface_falls_back_to_the_archive_when_redis_is_down(redis_down: Api) -> None:
    body = redis_down.client.get(ROUTE, headers=AUTH).json()
    assert body["expiries"] and {e["source"] for e in body["expiries"]} == {"archive"}
    last = redis_down.data.minutes[-1].isoformat()
    assert {e["minute"] for e in body["expiries"]} == {last}


def test_surface_refuses_bad_input_with_a_4xx(api: Api) -> None:
    before = api.data.day.isoformat() + "T09:00"
    missing = api.client.get(ROUTE, params={"at": before}, headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"no chain of NIFTY on {api.data.day} up to 09:00 IST"
    cases = [
        ({"underlying": "SENSEX"}, 400),  # known, but this deployment does not follow it
        ({"underlying": "crude"}, 422),
        ({"at": "yesterday"}, 422),
        ({"at": "1999-12-31T10:00"}, 404),  # outside the archive's years
    ]
    for params, status in cases:
        response = api.client.get(ROUTE, params=params, headers=AUTH)
        assert response.status_code == status, (params, response.text)
        assert "detail" in response.json()
    assert api.client.get(ROUTE).status_code == 401


def test_surface_with_both_stores_down_is_503(all_down: Api) -> None:
    assert all_down.client.get(ROUTE, headers=AUTH).status_code == 503
