"""History mode's numbers are the chosen minute's: the quotes at that minute (GET /market?at=)
and each option's change from the previous session's close (Kite's, as live); a missing IV says
why."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import psycopg
from conftest import AUTH, Api

from strikeboard.market.calendar import IST
from strikeboard.store.archive import CHAIN_COLUMNS, Archive

PREVIOUS_CLOSE = time(15, 29)
"""The previous session's last archived minute (the day before the test session)."""


def _previous_session(api: Api) -> tuple[datetime, dict[int, float], dict[int, float]]:
    """Archive a last minute of the day before: every option 2.5 cheaper than at the test
    session's first minute, every quote 1 % lower. Returns the minute and the prices by token."""
    data = api.data
    minute = datetime.combine(data.day - timedelta(days=1), PREVIOUS_CLOSE, IST)
    stamp = minute.isoformat()
    first = data.minutes[0].isoformat()
    token_i, ltp_i = CHAIN_COLUMNS.index("token"), CHAIN_COLUMNS.index("ltp")
    chain: list[tuple[Any, ...]] = []
    options: dict[int, float] = {}
    for row in data.chain_rows:
        if row[2] != first or row[ltp_i] is None:
            continue
        values = list(row)
        values[2] = stamp
        values[ltp_i] = round(row[ltp_i] + 2.5, 2)
        options[int(row[token_i])] = values[ltp_i]
        chain.append(tuple(values))
    aggregates = [(a[0], a[1], stamp, *a[3:]) for a in data.agg_rows if a[2] == first]
    quotes: dict[int, float] = {}
    candles = []
    for c in data.candles:
        if c[1] == first:
            close = round(c[5] * 0.99, 2)
            quotes[int(c[0])] = close
            candles.append((c[0], stamp, close, close, close, close, c[6], c[7]))
    with Archive(api.settings.database_url) as db:
        db.write_chain_minute(chain, aggregates)
        db.upsert_candles(candles)
    return minute, options, quotes


def _legs(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {
        int(row[side]["token"]): row[side]
        for row in doc["strikes"].values()
        for side in ("CE", "PE")
        if row.get(side)
    }


def _drop_ticks(api: Api) -> None:
    """The day's ticks gone, as after their retention (shorter than the minutes')."""
    with psycopg.connect(api.settings.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM ticks")


def test_a_past_minute_counts_each_change_from_kites_close_as_the_live_chain_did(
    api: Api,
) -> None:
    """The change at a past minute is the one the live chain showed then: from Kite's `close`
    in the day's ticks, also where an earlier session is archived (its last LTP differs)."""
    _previous_session(api)
    expiry = api.data.expiries[0]
    at = api.data.minutes[1]
    body = api.client.get(f"/api/chain/{expiry}", params={"at": at.isoformat()}, headers=AUTH)
    assert body.status_code == 200, body.text
    live_then = _legs(api.data.snapshots[1][expiry])
    checked = 0
    for token, leg in _legs(body.json()).items():
        if leg["ltp"] is None:
            continue
        was = live_then[token]
        assert leg["close"] == was["close"] and leg["close"] > 0
        assert leg["change"] == was["change"]
        assert leg["change_pct"] == was["change_pct"]
        checked += 1
    assert checked >= 20


def test_without_the_days_ticks_the_change_is_from_the_previous_sessions_last_ltp(
    api: Api,
) -> None:
    _drop_ticks(api)
    _, closes, _ = _previous_session(api)
    expiry = api.data.expiries[0]
    at = api.data.minutes[1]
    body = api.client.get(f"/api/chain/{expiry}", params={"at": at.isoformat()}, headers=AUTH)
    assert body.status_code == 200, body.text
    checked = 0
    for token, leg in _legs(body.json()).items():
        if leg["ltp"] is None:
            continue
        close = closes[token]
        assert leg["close"] == close
        assert leg["change"] == round(leg["ltp"] - close, 2)
        assert leg["change_pct"] == round((leg["ltp"] - close) / close * 100, 2)
        checked += 1
    assert checked >= 20


def test_without_ticks_or_a_previous_session_the_change_is_unknown_not_zero(api: Api) -> None:
    _drop_ticks(api)
    expiry = api.data.expiries[0]
    params = {"at": api.data.minutes[1].isoformat()}
    body = api.client.get(f"/api/chain/{expiry}", params=params, headers=AUTH).json()
    legs = [row[side] for row in body["strikes"].values() for side in ("CE", "PE")]
    assert all(leg["close"] is None and leg["change"] is None for leg in legs)


def test_the_quotes_at_a_past_minute_are_that_minutes_with_their_change(api: Api) -> None:
    _, _, closes = _previous_session(api)
    at = api.data.minutes[1]
    response = api.client.get("/api/market", params={"at": at.isoformat()}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "archive" and body["stale"] is True
    then = {int(c[0]): c for c in api.data.candles if c[1] == at.isoformat()}
    names = body["instruments"]
    assert {"NIFTY 50", "INDIA VIX"} <= set(names)
    assert any(n.startswith("FUT ") for n in names)
    for quote in names.values():
        candle = then[quote["token"]]
        close = closes[quote["token"]]
        assert quote["ltp"] == candle[5] and quote["ts"] == at.timestamp()
        assert quote["close"] == close
        assert quote["change"] == round(candle[5] - close, 2)
    # Not the live quotes: the minute asked for differs from the latest one.
    assert names["NIFTY 50"]["ltp"] == then[256265][5]


def test_quotes_before_the_days_first_candle_are_404(api: Api) -> None:
    before = api.data.minutes[0] - timedelta(minutes=5)
    response = api.client.get("/api/market", params={"at": before.isoformat()}, headers=AUTH)
    assert response.status_code == 404
    assert "no quotes archived" in response.json()["detail"]


def test_a_missing_iv_says_why_in_every_source(api: Api) -> None:
    expiry = api.data.expiries[0]
    codes = {"no_price", "no_spot", "expired", "intrinsic", "bound", "unsolved"}
    urls = [
        (f"/api/chain/{expiry}", {}),
        (f"/api/chain/{expiry}", {"convention": "nse"}),
        (f"/api/chain/{expiry}", {"at": api.data.minutes[1].isoformat()}),
    ]
    for url, params in urls:
        body = api.client.get(url, params=params, headers=AUTH).json()
        legs = [row[side] for row in body["strikes"].values() for side in ("CE", "PE")]
        for leg in legs:
            if leg["iv"] is None:
                assert leg["iv_reason"] in codes, (params, leg)
            else:
                assert leg["iv_reason"] is None, (params, leg)
