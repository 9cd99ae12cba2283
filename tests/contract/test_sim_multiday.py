"""Many trading days on one simulated clock, through the official kiteconnect client.

Friday 2026-11-20, Monday 2026-11-23 (the November weekly and monthly expiry, moved from
Tuesday the 24th, an NSE holiday) and Wednesday 2026-11-25, driven by clock jumps at speed 0:
the market only moves when the test moves the clock, so nothing depends on the box's speed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from kiteconnect import KiteConnect, KiteTicker, exceptions

from strikeboard.market.calendar import IST
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import ServerOptions, run_simulator

D1, D2, D3 = dt.date(2026, 11, 20), dt.date(2026, 11, 23), dt.date(2026, 11, 25)
NEW_WEEKLY = dt.date(2027, 1, 5)
API_KEY = "sim_api_key"


def _epoch_local(day: dt.date, h: int, mi: int) -> dt.datetime:
    """kiteconnect's tick times are naive local datetimes of the epoch seconds."""
    return dt.datetime.fromtimestamp(dt.datetime.combine(day, dt.time(h, mi), IST).timestamp())


def _ticked_since(ticks: list[dict[str, Any]], since: dt.datetime) -> set[int]:
    """Tokens of the ticks stamped at or after `since`."""
    return {
        t["instrument_token"]
        for t in list(ticks)
        if t.get("exchange_timestamp") and t["exchange_timestamp"] >= since
    }


def test_three_trading_days_over_a_weekend_and_a_holiday(kit: Any) -> None:
    opts = ServerOptions(speed=0, start=dt.time(15, 0))
    cfg = SimConfig(seed=21, day=D1, days=3)
    with (
        run_simulator(config=cfg, options=opts) as r,
        httpx.Client(base_url=r.root, timeout=120) as admin,
    ):

        def jump(at: str) -> dict[str, Any]:
            res = admin.post("/_sim/clock", json={"at": at})
            assert res.status_code == 200, res.text
            body: dict[str, Any] = res.json()
            return body

        def handshake(token: str) -> int:
            res = admin.get(
                "/ws",
                params={"api_key": API_KEY, "access_token": token},
                headers={"connection": "upgrade", "upgrade": "websocket",
                         "sec-websocket-version": "13",
                         "sec-websocket-key": "x3JJHMbDL1EzLkh9GBhXDw=="},
            )  # fmt: skip
            return res.status_code

        def login(token: str) -> None:
            assert admin.post("/_sim/token", json={"access_token": token}).status_code == 200
            kc.set_access_token(token)

        kc = kit.polite(KiteConnect(API_KEY, access_token="sim_access_token", root=r.root))
        ins1 = kc.instruments("NFO")
        spot = kc.ltp(["NSE:NIFTY 50"])["NSE:NIFTY 50"]["last_price"]

        def atm(expiry: dt.date, kind: str) -> dict[str, Any]:
            rows = [i for i in ins1 if i["expiry"] == expiry and i["instrument_type"] == kind]
            return min(rows, key=lambda i: abs(i["strike"] - spot))

        expiring = atm(D2, "CE")  # the November weekly, last traded on Monday
        cont = [atm(dt.date(2026, 12, 1), "PE"), atm(dt.date(2026, 12, 29), "CE")]
        cont.append(next(i for i in ins1 if i["instrument_type"] == "FUT" and i["expiry"] > D3))
        keys = [f"NFO:{i['tradingsymbol']}" for i in [expiring, *cont]]
        cont_tokens = {i["instrument_token"] for i in cont} | {256265}
        subscribed = [expiring["instrument_token"], *cont_tokens]

        col = kit.Collector()

        def on_open(ws: KiteTicker) -> None:
            ws.subscribe(subscribed)
            ws.set_mode(ws.MODE_FULL, subscribed)

        ticker = KiteTicker(API_KEY, "sim_access_token", root=r.ws_root, reconnect=False)
        col.attach(ticker, on_open)
        kit.start(ticker)
        try:
            assert col.opened.wait(15)
            kit.wait_for(
                lambda: r.server.conns and len(next(iter(r.server.conns.values())).subs) == 5
            )
            # Day 1 (Friday): tick, then close.
            jump("2026-11-20T15:20:00")
            kit.wait_for(lambda: {t["instrument_token"] for t in col.ticks} >= set(subscribed))
            jump("2026-11-20T15:31:00")
            close1 = kc.quote(keys)

            # Monday 08:00: the new listing; yesterday's token died at Saturday's 06:00.
            assert jump("2026-11-23T08:00:00")["day"] == D2.isoformat()
            with pytest.raises(exceptions.TokenException):
                kc.quote(keys)
            login("day2_token")
            # A new handshake needs the new token (the open socket carries on, below).
            assert handshake("sim_access_token") == 403
            q2 = kc.quote(keys)
            for k in keys:  # before the open: yesterday's close everywhere
                assert q2[k]["ohlc"]["close"] == close1[k]["last_price"]
                assert q2[k]["last_price"] == close1[k]["last_price"]
                assert q2[k]["oi"] == close1[k]["oi"]
                assert q2[k]["volume"] == 0
                (candle,) = kc.historical_data(q2[k]["instrument_token"], D1, D1, "day", oi=True)
                assert candle["close"] == close1[k]["last_price"]
                assert candle["volume"] == close1[k]["volume"]
                assert candle["oi"] == close1[k]["oi"]
            # The socket opened on Friday still streams Monday's ticks (no new handshake).
            jump("2026-11-23T09:20:00")
            t_open2 = _epoch_local(D2, 9, 15)
            kit.wait_for(lambda: _ticked_since(col.ticks, t_open2) >= set(subscribed))
            jump("2026-11-23T15:31:00")
            close2 = kc.quote(keys)

            # Tuesday: an NSE holiday, nothing starts; Wednesday 08:00 the next listing.
            assert jump("2026-11-24T12:00:00")["day"] == D2.isoformat()
            assert r.server.sim.day == D2 and r.server.sim.sec == 22_500
            assert jump("2026-11-25T08:00:00")["day"] == D3.isoformat()
            login("day3_token")
            ins3 = kc.instruments("NFO")
            exp1 = {i["expiry"] for i in ins1}
            exp3 = {i["expiry"] for i in ins3}
            assert D2 in exp1 and D2 not in exp3
            assert NEW_WEEKLY in exp3 and NEW_WEEKLY not in exp1
            tok1 = {i["tradingsymbol"]: i["instrument_token"] for i in ins1}
            tok3 = {i["tradingsymbol"]: i["instrument_token"] for i in ins3}
            common = tok1.keys() & tok3.keys()
            assert len(common) > 1000 and all(tok1[s] == tok3[s] for s in common)
            cont_keys = keys[1:]
            q3 = kc.quote(keys)
            assert keys[0] not in q3  # expired: no longer a listed instrument
            for k in cont_keys:
                assert q3[k]["ohlc"]["close"] == close2[k]["last_price"]
                assert q3[k]["oi"] == close2[k]["oi"]
                (candle,) = kc.historical_data(q3[k]["instrument_token"], D2, D2, "day", oi=True)
                assert candle["oi"] == close2[k]["oi"]
                assert candle["close"] == close2[k]["last_price"]
            conn = next(iter(r.server.conns.values()))
            assert {int(r.server.sim.token[i]) for i in conn.subs} == cont_tokens
            jump("2026-11-25T09:20:00")
            t_open3 = _epoch_local(D3, 9, 15)
            kit.wait_for(lambda: _ticked_since(col.ticks, t_open3) >= cont_tokens)
            assert expiring["instrument_token"] not in _ticked_since(col.ticks, t_open3)
            # A new socket with the morning's token is accepted.
            fresh = kit.Collector()
            second = KiteTicker(API_KEY, "day3_token", root=r.ws_root, reconnect=False)
            fresh.attach(second)
            kit.start(second)
            try:
                assert fresh.opened.wait(15)
            finally:
                kit.close(second)

            # After the last day's close the clock runs on and no new day starts.
            body = jump("2026-11-26T10:00:00")
            assert body["day"] == D3.isoformat()
            state = admin.get("/_sim/state").json()
            assert state["last_day"] == D3.isoformat() and state["sec"] == 22_500
            assert col.connects == 1 and not col.errors
        finally:
            kit.close(ticker)
