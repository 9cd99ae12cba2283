"""POST /api/strategy/payoff and saved strategies, against real Redis and PostgreSQL holding
the simulated session (market_data.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import AUTH, Api
from fastapi.testclient import TestClient

from strikeboard.api.app import create_app
from strikeboard.api.limits import MAX_BODY_BYTES
from strikeboard.api.models import COLUMNS, MAX_SAVED_STRATEGIES, MAX_STRATEGY_LEGS
from strikeboard.market.underlyings import UNDERLYINGS

URL = "/api/strategy/payoff"


def _atm(api: Api, expiry: str | None = None) -> tuple[str, dict[str, Any]]:
    expiry = expiry or api.data.expiries[0]
    doc = api.data.latest[expiry]
    return expiry, doc["strikes"][f"{doc['atm_strike']:g}"]


def _leg(expiry: str, strike: float, kind: str, side: str = "buy", **kw: Any) -> dict[str, Any]:
    return {"expiry": expiry, "strike": strike, "option_type": kind, "side": side, **kw}


def _post(api: Api, body: dict[str, Any]) -> Any:
    return api.client.post(URL, json=body, headers=AUTH)


def test_straddle_at_the_mid_breaks_even_at_strike_plus_minus_premium(api: Api) -> None:
    """Buy the ATM CE and PE at their mids: the premium is the sum of the mids, the breakevens
    at expiry strike -/+ premium, the worst case -premium x lot size (a lot of 65 here), and
    the position is flat now at today's spot (its IVs are implied from the entries)."""
    expiry, row = _atm(api)
    strike = row["strike"]
    mids = [(row[k]["bid"] + row[k]["ask"]) / 2 for k in ("CE", "PE")]
    premium = sum(mids)
    body = {"legs": [_leg(expiry, strike, "CE"), _leg(expiry, strike, "PE")]}
    response = _post(api, body)
    assert response.status_code == 200, response.text
    out = response.json()
    lot = api.data.latest[expiry]["lot_size"]
    assert [leg["lot_size"] for leg in out["legs"]] == [lot, lot]
    assert [leg["price"] for leg in out["legs"]] == pytest.approx(mids)
    assert [leg["iv_source"] for leg in out["legs"]] == ["entry", "entry"]
    assert out["breakevens"] == pytest.approx([strike - premium, strike + premium], abs=0.01)
    assert out["max_loss"] == pytest.approx(-premium * lot, abs=0.01)
    assert out["max_profit"] is None  # the long call: unlimited
    assert out["net_premium"] == pytest.approx(premium * lot, abs=0.01)
    assert out["target_at_spot"] == 0.0
    assert out["spot"] == api.data.latest[expiry]["spot"]
    assert len(out["spots"]) == len(out["at_expiry"]) == len(out["at_target"]) == 201
    assert 0.0 < out["pop"] < 1.0
    assert out["greeks"]["theta"] < 0 < out["greeks"]["vega"]  # long options
    assert out["source"] == "live" and out["horizon"] == expiry
    # the default axis: four standard deviations of the move to expiry at the ATM IV
    doc = api.data.latest[expiry]
    sd = doc["aggregates"]["atm_iv"] * (doc["t_years"] ** 0.5) * 100
    assert out["range_pct"] == pytest.approx(max(1.0, 4 * sd), abs=0.1)


def test_entry_modes_lots_and_a_typed_price(api: Api) -> None:
    """bid, ask, LTP and a typed price are each the premium used; lots multiply the lot size."""
    expiry, row = _atm(api)
    lot = api.data.latest[expiry]["lot_size"]
    strike = row["strike"]
    legs = [
        _leg(expiry, strike, "CE", entry="bid", lots=2),
        _leg(expiry, strike, "CE", "sell", entry="ask"),
        _leg(expiry, strike, "PE", entry="ltp"),
        _leg(expiry, strike, "PE", "sell", entry="typed", price=201.5),
    ]
    out = _post(api, {"legs": legs}).json()
    assert [leg["price"] for leg in out["legs"]] == [
        row["CE"]["bid"], row["CE"]["ask"], row["PE"]["ltp"], 201.5
    ]  # fmt: skip
    assert [leg["quantity"] for leg in out["legs"]] == [2 * lot, lot, lot, lot]
    paid = 2 * lot * row["CE"]["bid"] - lot * row["CE"]["ask"] + lot * (row["PE"]["ltp"] - 201.5)
    assert out["net_premium"] == pytest.approx(paid, abs=0.01)


def test_a_price_below_intrinsic_is_priced_with_the_chains_iv(api: Api) -> None:
    """A deep in-the-money call typed at 1 rupee implies no IV: the chain's IV prices it."""
    expiry = api.data.expiries[0]
    doc = api.data.latest[expiry]
    low = min(float(k) for k in doc["strikes"])
    out = _post(api, {"legs": [_leg(expiry, low, "CE", entry="typed", price=1.0)]}).json()
    assert out["legs"][0]["iv_source"] == "chain"
    assert out["legs"][0]["iv"] == pytest.approx(doc["strikes"][f"{low:g}"]["CE"]["iv"])


def test_controls_move_the_target_curve(api: Api) -> None:
    expiry, row = _atm(api)
    legs = [_leg(expiry, row["strike"], "CE")]
    base = _post(api, {"legs": legs, "points": 11, "range_pct": 2}).json()
    assert base["spots"][0] == pytest.approx(base["spot"] * 0.98, abs=0.01)
    assert base["spots"][5] == base["spot"] and len(base["spots"]) == 11
    vol_up = _post(api, {"legs": legs, "points": 11, "range_pct": 2, "iv_shift": 2}).json()
    assert vol_up["target_at_spot"] == pytest.approx(2 * base["greeks"]["vega"], rel=0.05)
    later = _post(api, {"legs": legs, "points": 11, "target": f"{expiry}T09:30:00"}).json()
    assert later["target_at_spot"] < 0  # a long call loses time value
    assert later["target"].startswith(f"{expiry}T09:30:00")


def test_a_calendar_spans_two_expiries(api: Api) -> None:
    near, row = _atm(api)
    far = api.data.expiries[1]
    legs = [_leg(near, row["strike"], "CE", "sell"), _leg(far, row["strike"], "CE")]
    out = _post(api, {"legs": legs}).json()
    assert out["horizon"] == near
    assert [leg["lot_size"] for leg in out["legs"]] == [65, 65]
    assert out["target_at_spot"] == 0.0


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"expiry": "2031-01-02"}, 404, "no chain for NIFTY 2031-01-02"),
        ({"strike": 12_345}, 404, "12345 CE: strike not in the chain"),
        ({"entry": "typed"}, 422, "needs a price"),
        ({"lots": 0}, 422, "lots"),
        ({"option_type": "XX"}, 422, "option_type"),
        ({"side": "hold"}, 422, "side"),
    ],
)
def test_bad_legs_are_refused_with_a_clear_message(
    api: Api, change: dict[str, Any], status: int, words: str
) -> None:
    expiry, row = _atm(api)
    leg = {**_leg(expiry, row["strike"], "CE"), **change}
    response = _post(api, {"legs": [leg]})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


@pytest.mark.parametrize(
    ("controls", "words"),
    [
        ({"points": 5000}, "points"),
        ({"range_pct": 0}, "range_pct"),
        ({"iv_shift": 500}, "iv_shift"),
        ({"target": "2026-11-25T09:00:00"}, "target date must lie between now"),
        ({"target": "2026-12-02T09:00:00"}, "target date must lie between now"),
    ],
)
def test_bad_controls_are_refused(api: Api, controls: dict[str, Any], words: str) -> None:
    expiry, row = _atm(api)
    response = _post(api, {"legs": [_leg(expiry, row["strike"], "CE")], **controls})
    assert response.status_code in (400, 422), response.text
    assert words in response.json()["detail"]


def test_leg_count_is_bounded(api: Api) -> None:
    expiry, row = _atm(api)
    leg = _leg(expiry, row["strike"], "CE")
    assert _post(api, {"legs": [leg] * MAX_STRATEGY_LEGS}).status_code == 200
    over = _post(api, {"legs": [leg] * (MAX_STRATEGY_LEGS + 1)})
    assert over.status_code == 422 and "legs" in over.json()["detail"]
    assert _post(api, {"legs": []}).status_code == 422


def test_needs_a_token(api: Api) -> None:
    expiry, row = _atm(api)
    response = api.client.post(URL, json={"legs": [_leg(expiry, row["strike"], "CE")]})
    assert response.status_code == 401


def test_strategies_are_saved_in_the_preferences_bounded(api: Api) -> None:
    expiry, row = _atm(api)
    legs = [_leg(expiry, row["strike"], "CE"), _leg(expiry, row["strike"], "PE", lots=2)]
    saved = {"name": "ATM straddle", "underlying": "NIFTY", "legs": legs}
    prefs = api.client.get("/api/preferences", headers=AUTH).json()
    assert prefs["strategies"] == []
    put = api.client.put("/api/preferences", json={**prefs, "strategies": [saved]}, headers=AUTH)
    assert put.status_code == 200, put.text
    back = api.client.get("/api/preferences", headers=AUTH).json()["strategies"]
    assert back[0]["name"] == "ATM straddle"
    assert [leg["lots"] for leg in back[0]["legs"]] == [1, 2]
    assert back[0]["legs"][0]["entry"] == "mid"
    # Any underlying Strikeboard knows may be saved (SENSEX is not followed here), no other.
    sensex = {**saved, "name": "SENSEX straddle", "underlying": "SENSEX"}
    both = api.client.put("/api/preferences", json={**prefs, "strategies": [saved, sensex]},
                          headers=AUTH)  # fmt: skip
    assert both.status_code == 200, both.text
    assert [s["underlying"] for s in both.json()["strategies"]] == ["NIFTY", "SENSEX"]
    for name in ("CRUDE", "NIFTY50"):
        unknown = {**saved, "underlying": name}
        refused = api.client.put("/api/preferences", json={"strategies": [unknown]}, headers=AUTH)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"] == (
            "body.strategies.0.underlying: Value error, unknown underlying "
            f"'{name}': known are NIFTY, BANKNIFTY, FINNIFTY, MIDCPNIFTY, SENSEX, BANKEX"
        )
    assert api.client.put("/api/preferences", json={**prefs, "strategies": [saved]},
                          headers=AUTH).status_code == 200  # fmt: skip
    many = [{**saved, "name": f"s{i}"} for i in range(MAX_SAVED_STRATEGIES + 1)]
    for bad in (many, [saved, saved], [{**saved, "legs": []}], [{**saved, "name": ""}]):
        response = api.client.put("/api/preferences", json={"strategies": bad}, headers=AUTH)
        assert response.status_code == 422, response.text
    assert api.client.get("/api/preferences", headers=AUTH).json()["strategies"] == back


def test_the_largest_saved_strategies_fit_the_body_limit(api: Api) -> None:
    """Ten strategies of twenty typed legs with 60-character names: the largest preferences the
    model accepts stay under the API's 64 KiB body limit, so they can always be saved."""
    leg = {"expiry": "2026-12-29", "strike": 123456.5, "option_type": "CE", "side": "sell",
           "lots": 10_000, "entry": "typed", "price": 123456.75}  # fmt: skip
    legs = [leg] * MAX_STRATEGY_LEGS
    strategies = [
        {"name": f"{i:02d}" + "x" * 58, "underlying": max(UNDERLYINGS, key=len), "legs": legs}
        for i in range(MAX_SAVED_STRATEGIES)
    ]
    body = json.dumps({"strategies": strategies, "columns": list(COLUMNS)})
    assert len(body) < MAX_BODY_BYTES
    response = api.client.put("/api/preferences", content=body,
                              headers={**AUTH, "content-type": "application/json"})  # fmt: skip
    assert response.status_code == 200, response.text[:300]


def test_the_underlying_is_one_followed_and_by_default_the_first(api: Api) -> None:
    """As every route: an unknown underlying is a 400 naming the followed ones, none is the
    first configured (NIFTY here; SENSEX, with nothing stored, in another deployment)."""
    expiry, row = _atm(api)
    legs = [_leg(expiry, row["strike"], "CE")]
    for name in ("BANKNIFTY", "CRUDE"):
        response = _post(api, {"underlying": name, "legs": legs})
        assert response.status_code == 400, response.text
        assert response.json()["detail"] == (
            f"unknown underlying '{name}': this deployment follows NIFTY"
        )
    assert _post(api, {"legs": legs}).json()["underlying"] == "NIFTY"
    settings = api.settings.model_copy(update={"underlyings": "SENSEX,NIFTY"})
    with TestClient(create_app(settings, api.stores, api.clock)) as client:
        default = client.post(URL, json={"legs": legs}, headers=AUTH)
        assert default.status_code == 404 and "SENSEX" in default.json()["detail"], default.text
        named = client.post(URL, json={"underlying": "NIFTY", "legs": legs}, headers=AUTH)
        assert named.status_code == 200 and named.json()["underlying"] == "NIFTY", named.text
