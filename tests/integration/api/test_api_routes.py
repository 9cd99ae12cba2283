"""The REST routes against real Redis and PostgreSQL holding simulated market data."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

import numpy as np
import psycopg
import pytest
from conftest import AUTH, Api
from fastapi.testclient import TestClient

from strikeboard.api.app import create_app
from strikeboard.chain import conventions, pricing
from strikeboard.market.calendar import IST
from strikeboard.store.hot import HotStore

PUBLIC = {"/api/health", "/api/auth/config", "/api/auth/kite/callback"}


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("source", "stale", "age_s", "convention")}


def test_every_data_route_says_401_without_a_valid_token(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    expiry = api.data.expiries[0]
    checked = 0
    for path, methods in spec["paths"].items():
        if path in PUBLIC:
            continue
        url = path.replace("{expiry}", expiry)
        for method in methods:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
                response = api.client.request(method.upper(), url, headers=headers)
                assert response.status_code == 401, (method, url, headers, response.text)
                assert "not authenticated" in response.json()["detail"]
            checked += 1
    assert checked >= 13


def test_health_is_public_and_reports_the_feed(api: Api) -> None:
    body = api.client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["redis"] and body["database"]
    assert body["feed"]["connected"] is True
    assert body["feed"]["token"] == "ok"
    assert 0 <= body["feed"]["last_tick_age_s"] < 60
    # The API's clock is pinned inside the test session's market hours.
    assert body["session"]["state"] == "open" and body["market_open"]
    assert body["session"]["last_session"] == api.data.day.isoformat()


def test_health_degrades_on_old_ticks_in_market_hours(api: Api) -> None:
    """The API's clock is pinned in market hours: a feed whose newest tick is 30 s old, or that
    calls itself degraded, makes the whole system degraded, with the feed's reasons."""
    hot = HotStore.from_url(api.settings.redis_url, api.settings.redis_key_prefix)
    feed = {"ts": time.time(), "token": "ok", "connected": True, "ticks_per_s": 0.0}
    try:
        hot.write_health({**feed, "last_tick_age_s": 30.0})
        body = api.client.get("/api/health").json()
        assert body["market_open"] and body["status"] == "degraded"
        hot.write_health({**feed, "last_tick_age_s": 0.5, "status": "degraded",
                          "problems": ["Kite connection(s) [1] not connected"]})  # fmt: skip
        body = api.client.get("/api/health").json()
        assert body["status"] == "degraded"
        assert body["feed"]["problems"] == ["Kite connection(s) [1] not connected"]
        hot.write_health({**feed, "last_tick_age_s": 0.5, "status": "ok"})
        assert api.client.get("/api/health").json()["status"] == "ok"
    finally:
        hot.close()


def test_health_passes_on_the_feeds_token_state(api: Api) -> None:
    """`waiting` (no token yet) and `expired` reach the SPA as they are and degrade the
    system; anything else the feed might write reads as `unknown`."""
    hot = HotStore.from_url(api.settings.redis_url, api.settings.redis_key_prefix)
    feed = {"ts": time.time(), "connected": True, "last_tick_age_s": 0.5, "status": "ok"}
    try:
        for written, shown in (("waiting", "waiting"), ("expired", "expired"), ("odd", "unknown")):
            hot.write_health({**feed, "token": written})
            body = api.client.get("/api/health").json()
            assert body["feed"]["token"] == shown and body["status"] == "degraded"
    finally:
        hot.write_health({**feed, "token": "ok"})  # the module's other tests read a live feed
        hot.close()


def test_live_chain_is_the_redis_snapshot(api: Api) -> None:
    hot = HotStore.from_url(api.settings.redis_url, api.settings.redis_key_prefix)
    for expiry in api.data.expiries:
        stored = hot.read_snapshot("NIFTY", expiry)
        body = api.client.get(f"/api/chain/{expiry}", headers=AUTH).json()
        assert body["source"] == "live"
        assert body["convention"] == "forward"
        assert isinstance(body["stale"], bool)
        assert _strip(body) == stored
        assert body["seq"] == 3  # one reset and two deltas were published
    hot.close()


def test_strike_window_keeps_n_strikes_each_side_of_the_atm(api: Api) -> None:
    expiry = api.data.expiries[0]
    body = api.client.get(f"/api/chain/{expiry}?strikes=3", headers=AUTH).json()
    strikes = sorted(float(k) for k in body["strikes"])
    assert len(strikes) == 7
    assert strikes[3] == body["atm_strike"]


def test_nse_convention_reprices_each_leg_with_black_scholes_on_spot(api: Api) -> None:
    expiry = api.data.expiries[0]
    body = api.client.get(f"/api/chain/{expiry}?convention=nse&strikes=5", headers=AUTH).json()
    assert body["convention"] == "nse" and body["rate"] == conventions.NSE_RATE
    live = api.data.latest[expiry]
    checked = 0
    for key, row in body["strikes"].items():
        for side in ("CE", "PE"):
            leg = row[side]
            if leg["iv"] is None:
                continue
            price = pricing.bs_price(
                body["spot"],
                row["strike"],
                body["t_years"],
                conventions.NSE_RATE,
                0.0,
                leg["iv"],
                side == "CE",
            )
            # IV is rounded to 4 decimals: a price error of at most vega * 0.5e-4 * 100.
            assert float(price) == pytest.approx(leg["ltp"], abs=max(leg["vega"], 1) * 0.006)
            assert leg["ltp"] == live["strikes"][key][side]["ltp"]
            checked += 1
    assert checked >= 15
    # NSE (spot, r=10 %, q=0) differs from the forward convention's smile.
    forward_ivs = [live["strikes"][k]["CE"]["iv"] for k in body["strikes"]]
    nse_ivs = [body["strikes"][k]["CE"]["iv"] for k in body["strikes"]]
    assert forward_ivs != nse_ivs


def test_archive_serves_the_last_session_when_redis_is_empty(archive_only: Api) -> None:
    api = archive_only
    for expiry in api.data.expiries:
        body = api.client.get(f"/api/chain/{expiry}", headers=AUTH).json()
        assert body["source"] == "archive" and body["stale"] is True
        assert body["minute"] == api.data.minutes[-1].isoformat()
        live = api.data.latest[expiry]
        assert set(body["strikes"]) == set(live["strikes"])
        for key, row in live["strikes"].items():
            for side in ("CE", "PE"):
                for name in ("ltp", "iv", "oi", "delta"):
                    assert body["strikes"][key][side][name] == row[side][name]
        assert body["aggregates"]["max_pain"] == live["aggregates"]["max_pain"]
        assert body["aggregates"]["call_oi"] == live["aggregates"]["call_oi"]
        assert body["spot"] == live["spot"]


def test_redis_down_falls_back_to_postgres_and_both_down_is_503(
    redis_down: Api, all_down: Api
) -> None:
    expiry = redis_down.data.expiries[0]
    body = redis_down.client.get(f"/api/chain/{expiry}", headers=AUTH).json()
    assert body["source"] == "archive" and body["stale"] is True
    market = redis_down.client.get("/api/market", headers=AUTH).json()
    assert market["source"] == "archive"
    assert market["instruments"]["NIFTY 50"]["ltp"] == redis_down.data.market["NIFTY 50"]["ltp"]
    assert redis_down.client.get("/api/health").json()["status"] == "degraded"
    response = all_down.client.get(f"/api/chain/{expiry}", headers=AUTH)
    assert response.status_code == 503
    assert "both unavailable" in response.json()["detail"]
    assert all_down.client.get("/api/health").json()["status"] == "down"


def test_time_travel_serves_the_chain_as_it_was(api: Api) -> None:
    expiry = api.data.expiries[1]
    first = api.data.minutes[0]
    at = (first + timedelta(seconds=30)).replace(tzinfo=None).isoformat()  # naive = IST
    body = api.client.get(f"/api/chain/{expiry}", params={"at": at}, headers=AUTH).json()
    assert body["source"] == "archive" and body["minute"] == first.isoformat()
    then = api.data.snapshots[0][expiry]
    for key, row in then["strikes"].items():
        assert body["strikes"][key]["CE"]["ltp"] == row["CE"]["ltp"]
    before = (first - timedelta(minutes=5)).isoformat()
    response = api.client.get(f"/api/chain/{expiry}", params={"at": before}, headers=AUTH)
    assert response.status_code == 404


def test_analytics_at_a_past_minute_are_that_minutes_chain(api: Api) -> None:
    """History mode's charts: OI, smile and GEX (total and flip) of the archived minute."""
    expiry = api.data.expiries[1]
    first = api.data.minutes[0]
    at = (first + timedelta(seconds=30)).replace(tzinfo=None).isoformat()
    chain = api.client.get(f"/api/chain/{expiry}", params={"at": at}, headers=AUTH).json()
    gex = api.client.get(
        "/api/analytics/gex", params={"expiry": expiry, "at": at}, headers=AUTH
    ).json()
    assert gex["source"] == "archive" and gex["minute"] == first.isoformat()
    by_strike = {r["strike"]: r["gex"] or 0.0 for r in chain["strikes"].values()}
    assert {g["strike"]: g["gex"] for g in gex["strikes"]} == by_strike
    assert gex["total"] == pytest.approx(sum(by_strike.values()))
    live = api.client.get("/api/analytics/gex", params={"expiry": expiry}, headers=AUTH).json()
    assert live["source"] == "live" and live["minute"] is None
    oi = api.client.get("/api/analytics/oi", params={"expiry": expiry, "at": at}, headers=AUTH)
    then = api.data.snapshots[0][expiry]
    assert [s["call_oi"] for s in oi.json()["strikes"]] == [
        then["strikes"][k]["CE"]["oi"] for k in sorted(then["strikes"], key=float)
    ]
    smile = api.client.get(
        "/api/analytics/smile", params={"expiry": expiry, "at": at}, headers=AUTH
    ).json()
    assert {p["strike"]: p["iv"] for p in smile["points"]} == {
        r["strike"]: r["iv"] for r in chain["strikes"].values() if r["iv"] is not None
    }
    before = (first - timedelta(minutes=5)).isoformat()
    response = api.client.get(
        "/api/analytics/gex", params={"expiry": expiry, "at": before}, headers=AUTH
    )
    assert response.status_code == 404


def test_underlyings_are_the_configured_ones_and_no_other(api: Api) -> None:
    body = api.client.get("/api/underlyings", headers=AUTH).json()
    assert body == [{"name": "NIFTY", "exchange": "NSE", "spot_symbol": "NIFTY 50",
                     "strike_step": 50.0, "lot_size": 65, "vix_symbol": "INDIA VIX"}]  # fmt: skip
    expiry = api.data.expiries[0]
    of_expiry = ("oi", "gex", "smile", "intraday")
    routes = [
        ("/api/expiries", {}),
        (f"/api/chain/{expiry}", {}),
        ("/api/analytics/daily", {}),
        ("/api/market", {}),
        ("/api/export/chain.csv", {"expiry": expiry}),
    ] + [(f"/api/analytics/{a}", {"expiry": expiry}) for a in of_expiry]
    for path, params in routes:  # fmt: skip
        for name in ("BANKNIFTY", "CRUDE"):
            response = api.client.get(path, params={**params, "underlying": name}, headers=AUTH)
            assert response.status_code == 400, (path, name, response.text)
            assert response.json()["detail"] == (
                f"unknown underlying '{name}': this deployment follows NIFTY"
            )
        named = api.client.get(path, params={**params, "underlying": "NIFTY"}, headers=AUTH)
        assert named.status_code == 200, (path, named.text)
    spec = api.client.get("/api/openapi.json").json()
    (declared,) = [p["schema"] for p in spec["paths"]["/api/expiries"]["get"]["parameters"]
                   if p["name"] == "underlying"]  # fmt: skip
    assert declared == {"type": "string", "enum": ["NIFTY"]}
    # Another deployment follows three: in their configured order, each with its own facts.
    settings = api.settings.model_copy(update={"underlyings": "SENSEX,NIFTY,BANKNIFTY"})
    with TestClient(create_app(settings, api.stores, api.clock)) as client:
        listed = client.get("/api/underlyings", headers=AUTH).json()
        assert [u["name"] for u in listed] == ["SENSEX", "NIFTY", "BANKNIFTY"]
        sensex = {"name": "SENSEX", "exchange": "BSE", "spot_symbol": "SENSEX",
                  "strike_step": 100.0, "lot_size": None, "vix_symbol": None}  # fmt: skip
        assert listed[0] == sensex
        assert client.get("/api/expiries", params={"underlying": "BANKNIFTY"},
                          headers=AUTH).json() == []  # fmt: skip
        # The default underlying is the first configured: SENSEX has nothing stored yet.
        assert client.get("/api/expiries", headers=AUTH).json() == []
        market = client.get("/api/market", params={"underlying": "SENSEX"}, headers=AUTH)
        assert market.json()["instruments"] == {}
        csv = client.get("/api/export/chain.csv", params={"expiry": expiry}, headers=AUTH)
        assert csv.status_code == 404 and "SENSEX" in csv.json()["detail"], csv.text


def test_expiries_market_and_bad_parameters(api: Api) -> None:
    expiries = api.client.get("/api/expiries", headers=AUTH).json()
    assert [e["expiry"] for e in expiries] == api.data.expiries
    assert {e["kind"] for e in expiries} == {"weekly", "monthly"}
    assert all(e["lot_size"] == 65 for e in expiries)
    market = api.client.get("/api/market", headers=AUTH).json()
    assert market["instruments"] == api.data.market
    bad = [
        "/api/chain/2026-13-01",
        "/api/chain/2026-12-01?strikes=0",
        "/api/chain/2026-12-01?convention=black",
        "/api/chain/1900-01-02",
        "/api/chain/2026-12-01?at=yesterday",
        "/api/expiries?underlying=nifty;drop",
        "/api/history/ticks?token=-1&start=2026-11-25",
        "/api/history/ticks?token=256265",
        "/api/history/ticks?token=256265&start=2026-11-25&limit=100000",
        "/api/history/ticks?token=256265&start=2026-11-25&after=12:ab",
        "/api/history/candles?token=256265&date=25-11-2026",
        "/api/analytics/daily?days=0",
        "/api/chain/2020-01-07",
    ]
    for url in bad:
        response = api.client.get(url, headers=AUTH)
        assert 400 <= response.status_code < 500, (url, response.status_code)
        assert response.json()["detail"], url


def test_tick_history_pages_through_every_tick(api: Api) -> None:
    token = 256265
    expected = sum(int(np.count_nonzero(t["token"] == token)) for t in api.data.ticks)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"token": token, "start": api.data.day.isoformat(), "limit": 2}
    while True:
        page = api.client.get("/api/history/ticks", params=params, headers=AUTH).json()
        seen += page["ticks"]
        if page["next"] is None:
            break
        params["after"] = page["next"]
    assert len(seen) == expected == 3
    assert [t["ingest_seq"] for t in seen] == sorted(t["ingest_seq"] for t in seen)
    assert [t["ltp"] for t in seen] == [s["ltp"] for s in _spot_series(api)]


def _spot_series(api: Api) -> list[dict[str, Any]]:
    return [{"ltp": docs[api.data.expiries[0]]["spot"]} for docs in api.data.snapshots]


def test_candles_and_contract_series(api: Api) -> None:
    day = api.data.day.isoformat()
    candles = api.client.get(f"/api/history/candles?token=256265&date={day}", headers=AUTH).json()
    assert [c["close"] for c in candles] == [s["ltp"] for s in _spot_series(api)]
    expiry = api.data.expiries[0]
    atm = api.data.latest[expiry]["atm_strike"]
    leg = api.data.latest[expiry]["strikes"][f"{atm:g}"]["PE"]
    body = api.client.get(
        f"/api/history/contract?token={leg['token']}&date={day}", headers=AUTH
    ).json()
    assert body["option_type"] == "PE" and body["strike"] == atm and body["expiry"] == expiry
    assert [m["ltp"] for m in body["minutes"]] == [
        docs[expiry]["strikes"][f"{atm:g}"]["PE"]["ltp"] for docs in api.data.snapshots
    ]
    assert body["minutes"][0]["minute"] == api.data.minutes[0].isoformat()


def test_analytics(api: Api) -> None:
    expiry = api.data.expiries[0]
    live = api.data.latest[expiry]
    oi = api.client.get(f"/api/analytics/oi?expiry={expiry}", headers=AUTH).json()
    assert oi["max_pain"] == live["aggregates"]["max_pain"]
    assert sum(s["call_oi"] for s in oi["strikes"]) == live["aggregates"]["call_oi"]
    smile = api.client.get(f"/api/analytics/smile?expiry={expiry}", headers=AUTH).json()
    assert smile["points"] and all(p["iv"] > 0 for p in smile["points"])
    moneyness = [p["moneyness"] for p in smile["points"]]
    assert moneyness == sorted(moneyness)
    gex = api.client.get(f"/api/analytics/gex?expiry={expiry}", headers=AUTH).json()
    assert gex["total"] == pytest.approx(sum(r["gex"] for r in live["strikes"].values()))
    day = api.data.day.isoformat()
    intraday = api.client.get(
        f"/api/analytics/intraday?expiry={expiry}&date={day}", headers=AUTH
    ).json()
    assert [p["max_pain"] for p in intraday["points"]] == [
        d[expiry]["aggregates"]["max_pain"] for d in api.data.snapshots
    ]
    daily = api.client.get("/api/analytics/daily?days=10", headers=AUTH).json()
    assert daily[-1]["day"] == day and daily[-1]["expiry"] == expiry  # the front expiry
    assert daily[-1]["minutes"] == 3
    assert daily[-1]["atm_iv_close"] == live["aggregates"]["atm_iv"]
    # One session archived: its IV has no year to rank against ("-", not 0 %).
    assert daily[-1]["iv_rank"] is None and daily[-1]["iv_percentile"] is None


def test_iv_rank_and_percentile_against_the_earlier_sessions(api: Api) -> None:
    """Four earlier sessions stored (as the end-of-day job stores them) with closing ATM IVs
    10 %, 20 %, 30 % and 40 %: the day's IV ranks between the year's low and high (the day
    included) and its percentile is the share of the earlier days below it."""
    day = api.data.day
    expiry = api.data.expiries[0]
    current = api.data.latest[expiry]["aggregates"]["atm_iv"]
    earlier = [0.10, 0.20, 0.30, 0.40]
    with psycopg.connect(api.settings.database_url, autocommit=True) as conn:
        for n, iv in enumerate(earlier, start=1):
            conn.execute(
                "INSERT INTO daily_stats (underlying, day, expiry, minutes, atm_iv_close)"
                " VALUES ('NIFTY', %s, %s, 375, %s)",
                (day - timedelta(days=7 * n), expiry, iv),
            )
    daily = api.client.get("/api/analytics/daily?days=60", headers=AUTH).json()
    assert [d["day"] for d in daily][-1] == day.isoformat() and len(daily) == 5
    lo, hi = min(*earlier, current), max(*earlier, current)
    assert daily[-1]["iv_rank"] == pytest.approx(round(100 * (current - lo) / (hi - lo), 2))
    below = sum(iv < current for iv in earlier)
    assert daily[-1]["iv_percentile"] == pytest.approx(100 * below / len(earlier))
    assert daily[0]["iv_percentile"] is None  # the first stored day has none before it


def test_preferences_round_trip_per_user(api: Api) -> None:
    defaults = api.client.get("/api/preferences", headers=AUTH).json()
    assert defaults["theme"] == "dark" and defaults["flash"] is True
    wanted = {
        "columns": ["oi", "iv", "ltp"],
        "strikes": 10,
        "theme": "light",
        "default_expiry": api.data.expiries[0],
        "convention": "nse",
        "iv_leg": "call",
        "strategies": [],
        "flash": False,
    }
    assert api.client.put("/api/preferences", json=wanted, headers=AUTH).json() == wanted
    assert api.client.get("/api/preferences", headers=AUTH).json() == wanted
    for bad in ({"strikes": 0}, {"theme": "blue"}, {"columns": ["nope"]}, {"extra": 1}):
        response = api.client.put("/api/preferences", json=bad, headers=AUTH)
        assert response.status_code == 422 and response.json()["detail"]
    assert api.client.get("/api/preferences", headers=AUTH).json() == wanted


def test_health_says_closed_when_the_feed_is_stopped_outside_its_hours(
    archive_only: Api,
) -> None:
    """The cloud feed runs 08:30-16:05 IST on trading days (strikeboard/market/feed_hours.py):
    its health key absent outside those hours is the normal state, not a fault; inside them
    (pre-open included) it still degrades the system."""
    day = archive_only.data.day
    for at, status in ((dtime(20, 0), "closed"), (dtime(8, 0), "closed"),
                       (dtime(8, 45), "degraded"), (dtime(11, 0), "degraded")):  # fmt: skip
        archive_only.clock.now = datetime.combine(day, at, IST)
        body = archive_only.client.get("/api/health").json()
        assert body["status"] == status, at
        assert body["feed"]["connected"] is False
