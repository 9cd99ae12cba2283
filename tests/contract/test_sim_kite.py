"""The official kiteconnect client (REST and KiteTicker) against the simulator."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from typing import Any

import httpx
import pytest
from kiteconnect import KiteConnect, KiteTicker, exceptions

from strikeboard.sim.server import Running

DAY = dt.date(2026, 11, 25)

NIFTY, VIX = 256265, 264969


def _atm_tokens(kite: KiteConnect, n: int) -> list[int]:
    spot = kite.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"]
    ins = [i for i in kite.instruments("NFO") if i["instrument_type"] in ("CE", "PE")]
    near = min(i["expiry"] for i in ins)
    ins = sorted((i for i in ins if i["expiry"] == near), key=lambda i: abs(i["strike"] - spot))
    return [i["instrument_token"] for i in ins[:n]]


def test_instruments_parse(kite: KiteConnect) -> None:
    nfo = kite.instruments("NFO")
    everything = kite.instruments()
    assert len(everything) == len(nfo) + 2
    opt = [i for i in nfo if i["instrument_type"] == "CE"]
    assert opt and all(isinstance(i["expiry"], dt.date) for i in opt)
    assert all(isinstance(i["strike"], float) and i["lot_size"] == 65 for i in opt)
    fut = [i for i in nfo if i["instrument_type"] == "FUT"]
    assert fut[0]["tradingsymbol"] == "NIFTY26DECFUT" and fut[0]["segment"] == "NFO-FUT"
    idx = {i["instrument_token"]: i for i in everything if i["segment"] == "INDICES"}
    assert idx[NIFTY]["tradingsymbol"] == "NIFTY 50" and idx[VIX]["tradingsymbol"] == "INDIA VIX"
    assert any(i["tradingsymbol"] == "NIFTY26D0126000CE" for i in opt)


def test_quote_ltp_ohlc(kite: KiteConnect) -> None:
    sym = next(i for i in kite.instruments("NFO") if i["instrument_type"] == "PE")["tradingsymbol"]
    q = kite.quote("NSE:NIFTY 50", f"NFO:{sym}", "NFO:NOSUCH")
    assert set(q) == {"NSE:NIFTY 50", f"NFO:{sym}"}
    o = q[f"NFO:{sym}"]
    assert isinstance(o["timestamp"], dt.datetime) and o["timestamp"].date() == DAY
    assert len(o["depth"]["buy"]) == 5 and len(o["depth"]["sell"]) == 5
    assert o["depth"]["buy"][0]["price"] < o["depth"]["sell"][0]["price"]
    assert o["oi"] % 65 == 0 and o["ohlc"]["close"] > 0
    lt = kite.ltp("NSE:INDIA VIX")["NSE:INDIA VIX"]
    assert lt["instrument_token"] == VIX and 5 < lt["last_price"] < 60
    oh = kite.ohlc("NSE:NIFTY 50")["NSE:NIFTY 50"]
    assert oh["ohlc"]["low"] <= oh["last_price"] <= oh["ohlc"]["high"]


def test_bad_auth_and_bad_params(sim: Running, kit: Any) -> None:
    bad = KiteConnect("sim_api_key", access_token="wrong", root=sim.root)
    with pytest.raises(exceptions.TokenException):
        bad.ltp("NSE:NIFTY 50")
    r = httpx.get(f"{sim.root}/quote", params={"i": "NSE:NIFTY 50"})
    assert r.status_code == 403 and r.json()["error_type"] == "TokenException"
    good = kit.polite(KiteConnect("sim_api_key", access_token="sim_access_token", root=sim.root))
    with pytest.raises(exceptions.InputException):
        good.historical_data(NIFTY, "2026-11-25", "2026-11-25", "7minute")


def test_historical_agrees_with_state(kite: KiteConnect, sim: Running, kit: Any) -> None:
    tok = _atm_tokens(kite, 1)[0]
    c = kite.historical_data(tok, "2026-11-25 09:15:00", "2026-11-25 15:30:00", "minute", oi=True)
    snap = sim.call(sim.server.sim.snapshot, [tok])[tok]
    assert c[0]["date"].hour == 9 and c[0]["date"].minute == 15
    assert all(x["low"] <= min(x["open"], x["close"]) and x["high"] >= max(x["open"], x["close"])
               for x in c)  # fmt: skip
    # The last candle ends at (or just before) the streamed state; volumes add up.
    assert sum(x["volume"] for x in c) <= snap["volume"]
    assert min(x["low"] for x in c) >= snap["low"] - 1e-9
    day = kite.historical_data(tok, "2026-11-20", "2026-11-25", "day", oi=True)
    assert len(day) == 3  # 20th, 23rd, 25th (the 24th is a holiday)
    assert day[1]["close"] == snap["close"]  # yesterday's close is today's ohlc.close


def test_login_flow(sim: Running, kit: Any) -> None:
    r = httpx.get(
        f"{sim.root}/connect/login",
        params={"api_key": "sim_api_key", "v": "3", "redirect_url": "http://cb/x",
                "redirect_params": "state=abc-123&next=/chain"},
    )  # fmt: skip
    assert r.status_code == 302
    loc = httpx.URL(r.headers["location"])
    assert loc.params["status"] == "success" and loc.params["action"] == "login"
    # As Kite: redirect_params come back decoded, as query parameters of the redirect.
    assert loc.params["state"] == "abc-123" and loc.params["next"] == "/chain"
    kc = kit.polite(KiteConnect("sim_api_key", root=sim.root))
    with pytest.raises(exceptions.TokenException):
        kc.generate_session(loc.params["request_token"], "wrong_secret")
    sess = kc.generate_session(loc.params["request_token"], "sim_api_secret")
    assert kc.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
    assert isinstance(sess["login_time"], dt.datetime)
    assert hashlib.sha256(b"x").hexdigest()  # checksum scheme is the client's own


def test_ticker_modes_match_sent_log(kite: KiteConnect, sim: Running, kit: Any) -> None:
    opts = _atm_tokens(kite, 6)
    ltp_t, quote_t, full_t = opts[:2], opts[2:4], opts[4:6]
    col = kit.Collector()
    t = KiteTicker("sim_api_key", "sim_access_token", root=sim.ws_root)

    def on_open(ws: KiteTicker) -> None:
        ws.subscribe([NIFTY, VIX, *opts])
        ws.set_mode(ws.MODE_FULL, [NIFTY, *full_t])
        ws.set_mode(ws.MODE_LTP, ltp_t)

    col.attach(t, on_open)
    kit.start(t)
    try:
        kit.wait_for(lambda: {(x["instrument_token"], x["mode"]) for x in col.ticks}
                 >= {(NIFTY, "full"), (VIX, "quote"), (ltp_t[0], "ltp"), (quote_t[0], "quote"),
                     (full_t[0], "full")})  # fmt: skip
    finally:
        kit.close(t)
    assert {x["instrument_token"] for x in col.ticks} <= {NIFTY, VIX, *opts}
    sent = [x for x in sim.server.sent_ticks() if x["instrument_token"] in {NIFTY, VIX, *opts}]
    by_key = {(x["instrument_token"], x.get("exchange_timestamp"), x["last_price"],
               x["packet_size"]) for x in sent}  # fmt: skip
    sizes = {"ltp": 8, "quote": 44, "full": 184}
    for tk in col.ticks:
        index = tk["instrument_token"] in (NIFTY, VIX)
        size = (
            {"quote": 28, "full": 32}[tk["mode"]]
            if index and tk["mode"] != "ltp"
            else sizes[tk["mode"]]
        )
        ts = tk.get("exchange_timestamp")
        key = (tk["instrument_token"], int(ts.timestamp()) if ts else None, tk["last_price"], size)
        assert key in by_key
        if tk["mode"] == "full" and not index:
            match = next(x for x in sent if x["instrument_token"] == tk["instrument_token"]
                         and x["packet_size"] == 184 and x["volume_traded"] == tk["volume_traded"]
                         and x["exchange_timestamp"] == key[1])  # fmt: skip
            assert (
                tk["oi"] == match["oi"] and tk["depth"]["buy"][0]["price"] == match["depth"][0][1]
            )
            assert tk["depth"]["buy"][0]["price"] < tk["depth"]["sell"][0]["price"]


def test_reconnect_after_drop_and_token_refusal(sim: Running, kit: Any) -> None:
    col = kit.Collector()
    t = KiteTicker("sim_api_key", "sim_access_token", root=sim.ws_root, reconnect_max_delay=5)
    col.attach(t, lambda ws: ws.subscribe([NIFTY]))
    kit.start(t)
    try:
        kit.wait_for(lambda: col.connects == 1 and col.ticks)
        r = httpx.post(f"{sim.root}/_sim/fault", json={"kind": "drop"})
        assert r.json()["connections"] >= 1
        kit.wait_for(lambda: col.connects >= 2, timeout=30)
        n = len(col.ticks)
        kit.wait_for(lambda: len(col.ticks) > n)  # resubscribed after the reconnect
    finally:
        kit.close(t)
    bad = httpx.get(
        f"{sim.root}/ws",
        params={"api_key": "sim_api_key", "access_token": "nope"},
        headers={
            "connection": "upgrade",
            "upgrade": "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": "x3JJHMbDL1EzLkh9GBhXDw==",
        },
    )
    assert bad.status_code == 403


def test_limits_3000_instruments_and_4th_connection(
    kite: KiteConnect, sim: Running, kit: Any
) -> None:
    tokens = [i["instrument_token"] for i in kite.instruments()][:3001]
    cols = [kit.Collector() for _ in range(4)]
    tickers = [KiteTicker("sim_api_key", "sim_access_token", root=sim.ws_root, reconnect=False)
               for _ in range(4)]  # fmt: skip
    kit.wait_for(lambda: not sim.server.conns)
    cols[0].attach(tickers[0], lambda ws: ws.subscribe(tokens))
    for c, t in zip(cols[1:3], tickers[1:3], strict=True):
        c.attach(t)
    try:
        for t in tickers[:3]:
            kit.start(t)
        kit.wait_for(lambda: all(c.opened.is_set() for c in cols[:3]))
        kit.wait_for(lambda: cols[0].errors)
        assert "3000" in str(cols[0].errors[0][1])
        conn = next(c for c in sim.server.conns.values() if len(c.subs))
        assert len(conn.subs) == 3000
        cols[3].attach(tickers[3])
        kit.start(tickers[3])
        time.sleep(2)
        assert not cols[3].opened.is_set() and len(sim.server.conns) == 3
    finally:
        for t in tickers:
            kit.close(t)
