"""The simulator is as strict as Kite, seen through the official kiteconnect client.

Rate limits, /quote's exact fields, previous-day OI from day candles, the 06:00 token flush on
the market clock, seeded broadcast messages and last_trade_time. Tests that change the clock
or the tokens start their own simulator; none depends on the wall-clock date or time.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kiteconnect import KiteConnect, KiteTicker, exceptions

from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import Running, ServerOptions, run_simulator

DAY = dt.date(2026, 11, 25)
NIFTY = 256265
API_KEY, TOKEN = "sim_api_key", "sim_access_token"

QUOTE_KEYS = {
    "instrument_token", "timestamp", "last_trade_time", "last_price", "last_quantity",
    "buy_quantity", "sell_quantity", "volume", "average_price", "oi", "oi_day_high",
    "oi_day_low", "net_change", "lower_circuit_limit", "upper_circuit_limit", "ohlc", "depth",
}  # fmt: skip
"""Kite's documented /quote fields (kite.trade/docs/connect/v3/market-quotes/)."""


@pytest.fixture(scope="module")
def strict() -> Iterator[Running]:
    """Rate limits on, a broadcast message about every simulated minute, 60x speed."""
    opts = ServerOptions(speed=60, start=dt.time(10, 0), message_every=1)
    with run_simulator(config=SimConfig(seed=11, day=DAY), options=opts) as running:
        yield running


class Frozen:
    """A stopped clock for the server's rate limiter: the test, not the box's speed, decides."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _nfo(kc: KiteConnect, kind: str) -> dict[str, Any]:
    ins: dict[str, Any] = next(i for i in kc.instruments("NFO") if i["instrument_type"] == kind)
    return ins


def test_second_quote_within_a_second_is_429(strict: Running) -> None:
    clock = Frozen()
    limiter = strict.server.limiter
    assert limiter is not None
    limiter.clock = clock
    try:
        _quote_and_historical_limits(strict, clock)
    finally:
        limiter.clock = time.monotonic


def _quote_and_historical_limits(strict: Running, clock: Frozen) -> None:
    kc = KiteConnect(API_KEY, access_token=TOKEN, root=strict.root)
    assert kc.quote("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
    for call in (lambda: kc.quote("NSE:NIFTY 50"), lambda: kc.ltp("NSE:NIFTY 50"),
                 lambda: kc.ohlc("NSE:NIFTY 50")):  # fmt: skip
        with pytest.raises(exceptions.NetworkException) as err:
            call()  # /quote, /quote/ltp and /quote/ohlc share the 1/s budget
        assert err.value.code == 429 and str(err.value) == "Too many requests"
    raw = httpx.get(
        f"{strict.root}/quote/ltp",
        params={"i": "NSE:NIFTY 50"},
        headers={"authorization": f"token {API_KEY}:{TOKEN}"},
    )
    assert raw.status_code == 429
    assert raw.json() == {"status": "error", "message": "Too many requests", "data": None,
                          "error_type": "NetworkException"}  # fmt: skip
    # Historical candles: 3 a second, counted apart from quotes.
    for _ in range(3):
        kc.historical_data(NIFTY, "2026-11-25", "2026-11-25", "day")
    with pytest.raises(exceptions.NetworkException) as err:
        kc.historical_data(NIFTY, "2026-11-25", "2026-11-25", "day")
    assert err.value.code == 429
    assert kc.instruments("NSE")  # public: never limited
    clock.now += 1.0  # one second on: the window is free again
    assert kc.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
    assert len(kc.historical_data(NIFTY, "2026-11-25", "2026-11-25", "day")) == 1


def test_no_rate_limits_for_benchmarks() -> None:
    opts = ServerOptions(speed=10, start=dt.time(10, 0), rate_limits=False)
    with run_simulator(config=SimConfig(seed=11, day=DAY), options=opts) as r:
        assert r.server.limiter is None
        kc = KiteConnect(API_KEY, access_token=TOKEN, root=r.root)
        for _ in range(5):
            assert kc.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
        for _ in range(5):
            kc.historical_data(NIFTY, "2026-11-25", "2026-11-25", "day")


def test_quote_fields_are_exactly_kites(kite: KiteConnect) -> None:
    opt, fut = _nfo(kite, "CE"), _nfo(kite, "FUT")
    keys = [f"NFO:{opt['tradingsymbol']}", f"NFO:{fut['tradingsymbol']}", "NSE:NIFTY 50"]
    q = kite.quote(*keys)
    for k in keys:
        assert set(q[k]) == QUOTE_KEYS  # no oi_prev_close: Kite does not send it
        assert set(q[k]["ohlc"]) == {"open", "high", "low", "close"}
        assert set(q[k]["depth"]) == {"buy", "sell"}
        for side in ("buy", "sell"):
            assert all(set(e) == {"price", "quantity", "orders"} for e in q[k]["depth"][side])
        assert isinstance(q[k]["timestamp"], dt.datetime)
        assert isinstance(q[k]["last_trade_time"], dt.datetime)
        assert q[k]["last_trade_time"] <= q[k]["timestamp"]
    oh = kite.ohlc(*keys)
    assert all(set(oh[k]) == {"instrument_token", "last_price", "ohlc"} for k in keys)
    lt = kite.ltp(*keys)
    assert all(set(lt[k]) == {"instrument_token", "last_price"} for k in keys)


def test_previous_day_oi_from_day_candles(kite: KiteConnect, sim: Running) -> None:
    s = sim.server.sim
    prev = s.prev_day.isoformat()  # 2026-11-23: the 24th is a holiday
    nfo = kite.instruments("NFO")
    for kind in ("CE", "PE", "FUT"):
        # A contract listed yesterday too (far strikes listed today around a moved spot are
        # new: they open with OI 0 and have no earlier candles).
        ins = next(
            i for i in nfo
            if i["instrument_type"] == kind and not s.new_today[s.by_token[i["instrument_token"]]]
        )  # fmt: skip
        tok = ins["instrument_token"]
        days = kite.historical_data(tok, prev, DAY.isoformat(), "day", oi=True)
        assert [d["date"].date() for d in days] == [s.prev_day, DAY]
        i = s.by_token[tok]
        # Yesterday's candle carries yesterday's closing OI: the OI today's moves start from.
        assert days[0]["oi"] == int(s.oi_prev[i]) > 0
        assert days[0]["oi"] % 65 == 0 and days[1]["oi"] % 65 == 0
        assert (
            days[0]["close"]
            == kite.quote(f"NFO:{ins['tradingsymbol']}")[f"NFO:{ins['tradingsymbol']}"]["ohlc"][
                "close"
            ]
        )


class Wire:
    """Every frame a KiteTicker receives (on_message only, no tick parsing)."""

    def __init__(self, t: KiteTicker, tokens: list[int], mode: str = "quote") -> None:
        self.lock = threading.Lock()
        self.frames: list[tuple[float, Any, bool]] = []
        self.connects = 0
        self.closes: list[Any] = []
        self.errors: list[Any] = []
        self.ticks: list[dict[str, Any]] = []

        def on_open(ws: KiteTicker) -> None:
            self.connects += 1
            ws.subscribe(tokens)
            ws.set_mode(mode, tokens)

        def on_message(ws: KiteTicker, payload: bytes, is_binary: bool) -> None:
            with self.lock:
                self.frames.append((time.monotonic(), bytes(payload), is_binary))

        t.on_open = on_open
        t.on_message = on_message
        t.on_ticks = lambda ws, ticks: self.ticks.extend(ticks)
        t.on_close = lambda ws, code, reason: self.closes.append((code, reason))
        t.on_error = lambda ws, code, reason: self.errors.append((code, reason))

    def binary_after(self, t0: float) -> int:
        with self.lock:
            return sum(1 for ts, _, b in self.frames if b and ts > t0)

    def texts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(p) for _, p, b in self.frames if not b]


def _handshake(root: str, token: str) -> int:
    r = httpx.get(
        root.replace("ws://", "http://"),
        params={"api_key": API_KEY, "access_token": token},
        headers={"connection": "upgrade", "upgrade": "websocket",
                 "sec-websocket-version": "13", "sec-websocket-key": "x3JJHMbDL1EzLkh9GBhXDw=="},
    )  # fmt: skip
    return r.status_code


def _clock(r: Running, at: str) -> dict[str, Any]:
    resp = httpx.post(f"{r.root}/_sim/clock", json={"at": at})
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def test_tokens_expire_at_0600_next_day_sockets_stay_open(kit: Any) -> None:
    opts = ServerOptions(speed=1, start=dt.time(15, 28), message_every=0)
    with run_simulator(config=SimConfig(seed=3, day=DAY), options=opts) as r:
        kc = kit.polite(KiteConnect(API_KEY, access_token=TOKEN, root=r.root))
        t = KiteTicker(API_KEY, TOKEN, root=r.ws_root, reconnect_max_delay=5)
        wire = Wire(t, [NIFTY])
        kit.start(t)
        try:
            kit.wait_for(lambda: wire.connects == 1 and wire.binary_after(0) >= 2)
            # After the close, through the night: the token issued on the 25th still works.
            _clock(r, "2026-11-26T05:59:00")
            assert kc.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
            body = _clock(r, "2026-11-26T06:00:00")
            assert body["time"].startswith("2026-11-26T06:00")
            with pytest.raises(exceptions.TokenException) as err:
                kc.ltp("NSE:NIFTY 50")
            assert err.value.code == 403
            assert str(err.value) == "Incorrect `api_key` or `access_token`."
            with pytest.raises(exceptions.TokenException):
                kc.historical_data(NIFTY, "2026-11-25", "2026-11-25", "day")
            assert _handshake(r.ws_root, TOKEN) == 403  # a new handshake is refused
            # The open socket is not closed and keeps receiving (heartbeats: market closed).
            t0 = time.monotonic()
            kit.wait_for(lambda: wire.binary_after(t0) >= 2)
            assert t.is_connected() and wire.connects == 1 and not wire.closes
            assert not wire.errors and len(r.server.conns) == 1
            # A new token (admin or login flow) is valid until the next day's 06:00.
            resp = httpx.post(f"{r.root}/_sim/token", json={"access_token": "day2"})
            assert resp.json()["expires"] == "2026-11-27T06:00:00+05:30"
            kc2 = kit.polite(KiteConnect(API_KEY, access_token="day2", root=r.root))
            assert kc2.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
            login = httpx.get(f"{r.root}/connect/login", params={"api_key": API_KEY, "v": "3"})
            kc3 = kit.polite(KiteConnect(API_KEY, root=r.root))
            sess = kc3.generate_session(login.json()["data"]["request_token"], "sim_api_secret")
            assert sess["login_time"].date() == dt.date(2026, 11, 26)  # on the market clock
            assert kc3.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
            _clock(r, "2026-11-27T06:00:00")
            with pytest.raises(exceptions.TokenException):
                kc2.ltp("NSE:NIFTY 50")
        finally:
            kit.close(t)


def test_broadcast_messages_arrive_and_are_tolerated(strict: Running, kit: Any) -> None:
    t = KiteTicker(API_KEY, TOKEN, root=strict.ws_root, reconnect_max_delay=5)
    wire = Wire(t, [NIFTY])
    kit.start(t)
    try:
        # About one per simulated minute at 60x: one a second or so; seeded, not on demand.
        kit.wait_for(lambda: len([x for x in wire.texts() if x["type"] == "message"]) >= 2, 30)
        msgs = [x for x in wire.texts() if x["type"] == "message"]
        assert all(isinstance(x["data"], str) and x["data"] for x in msgs)
        assert wire.ticks and wire.connects == 1 and not wire.errors and not wire.closes
    finally:
        kit.close(t)


def test_last_trade_time_and_exchange_timestamp_in_full_mode(strict: Running, kit: Any) -> None:
    s = strict.server.sim
    toks = [int(x) for x in s.token[~s.is_index][:400]]  # far strikes tick without trading
    t = KiteTicker(API_KEY, TOKEN, root=strict.ws_root, reconnect_max_delay=5)
    wire = Wire(t, toks, mode="full")
    kit.start(t)
    try:

        def full() -> list[dict[str, Any]]:
            return [x for x in list(wire.ticks) if x.get("mode") == "full"]

        kit.wait_for(lambda: any(x["last_trade_time"] < x["exchange_timestamp"] for x in full()))
        ticks = full()
        for x in ticks:
            ltt, ets = x["last_trade_time"], x["exchange_timestamp"]
            assert isinstance(ltt, dt.datetime) and isinstance(ets, dt.datetime)
            assert ltt <= ets and ets.date() == DAY
        assert any(x["last_trade_time"] == x["exchange_timestamp"] for x in ticks)
    finally:
        kit.close(t)
