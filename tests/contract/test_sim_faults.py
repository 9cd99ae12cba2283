"""Simulator fault injection and order-update pushes, seen through the official kiteconnect client.

A module-scoped simulator (its own port, speed 60) keeps the faults, above all `expire_token`,
away from the session simulator the other contract tests share.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kiteconnect import KiteConnect, KiteTicker, exceptions

from strikeboard.market import codec
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import Running, ServerOptions, run_simulator

DAY = dt.date(2026, 11, 25)
NIFTY, VIX = 256265, 264969
API_KEY, TOKEN = "sim_api_key", "sim_access_token"


@pytest.fixture(scope="module")
def fsim() -> Iterator[Running]:
    """A private simulator: 60 market seconds a second, so NIFTY ticks on every 100 ms step."""
    opts = ServerOptions(speed=60, start=dt.time(11, 0))
    with run_simulator(config=SimConfig(seed=7, day=DAY), options=opts) as running:
        yield running


class Recorder:
    """Everything a KiteTicker sees, with arrival times (time.monotonic)."""

    def __init__(self, parse: bool) -> None:
        self.parse = parse
        self.lock = threading.Lock()
        self.messages: list[tuple[float, bytes, bool]] = []
        self.ticks: list[tuple[float, dict[str, Any]]] = []
        self.errors: list[tuple[Any, Any]] = []
        self.closes: list[tuple[Any, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.reconnects = 0
        self.connects = 0

    def attach(self, t: KiteTicker, tokens: list[int]) -> None:
        def on_open(ws: KiteTicker) -> None:
            self.connects += 1
            ws.subscribe(tokens)

        def on_message(ws: KiteTicker, payload: bytes, is_binary: bool) -> None:
            with self.lock:
                self.messages.append((time.monotonic(), bytes(payload), is_binary))

        def on_ticks(ws: KiteTicker, ticks: list[dict[str, Any]]) -> None:
            now = time.monotonic()
            with self.lock:
                self.ticks.extend((now, x) for x in ticks)

        def on_reconnect(ws: KiteTicker, attempt: int) -> None:
            self.reconnects += 1

        t.on_open = on_open
        t.on_message = on_message
        if self.parse:  # kiteconnect's own parser; otherwise strikeboard's codec, later
            t.on_ticks = on_ticks
        t.on_error = lambda ws, code, reason: self.errors.append((code, reason))
        t.on_close = lambda ws, code, reason: self.closes.append((code, reason))
        t.on_order_update = lambda ws, data: self.orders.append(data)
        t.on_reconnect = on_reconnect

    def ticks_after(self, t0: float) -> list[dict[str, Any]]:
        with self.lock:
            return [x for ts, x in self.ticks if ts > t0]

    def binary_after(self, t0: float) -> list[tuple[float, bytes]]:
        """Binary messages (heartbeats included) received after `t0`."""
        with self.lock:
            return [(ts, p) for ts, p, b in self.messages if b and ts > t0]

    def good_after(self, t0: float) -> list[codec.TickBatch]:
        """Tick messages received after `t0` that decode whole with strikeboard's codec."""
        out = []
        for _, p in self.binary_after(t0):
            if len(p) > 1:
                with contextlib.suppress(codec.CodecError):
                    out.append(codec.decode(p))
        return [b for b in out if len(b)]


def _fault(sim: Running, kind: str, seconds: float = 5.0) -> dict[str, Any]:
    r = httpx.post(f"{sim.root}/_sim/fault", json={"kind": kind, "seconds": seconds})
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def _handshake_status(sim: Running, access_token: str) -> int:
    """HTTP status of a raw WebSocket upgrade request to the ticker."""
    r = httpx.get(
        sim.ws_root.replace("ws://", "http://"),
        params={"api_key": API_KEY, "access_token": access_token},
        headers={
            "connection": "upgrade",
            "upgrade": "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": "x3JJHMbDL1EzLkh9GBhXDw==",
        },
    )
    return r.status_code


def _tokens(sim: Running) -> list[int]:
    """NIFTY, VIX and a few NFO instruments, so a message carries several packets."""
    return [NIFTY, VIX, *(int(x) for x in sim.server.sim.token[2:6])]


def _open(sim: Running, kit: Any, rec: Recorder, token: str = TOKEN) -> KiteTicker:
    """Connect a KiteTicker (on_message only, like strikeboard.kite) and wait for ticks."""
    t = KiteTicker(API_KEY, token, root=sim.ws_root, reconnect_max_delay=5)
    rec.attach(t, _tokens(sim))
    kit.start(t)
    kit.wait_for(lambda: rec.connects == 1 and len(rec.binary_after(0)) >= 3)
    return t


@pytest.fixture
def ticker(fsim: Running, kit: Any) -> Iterator[tuple[KiteTicker, Recorder]]:
    """A connected KiteTicker that decodes with strikeboard's codec (no on_ticks)."""
    kit.wait_for(lambda: not fsim.server.conns)  # the previous test's connection is gone
    rec = Recorder(parse=False)
    t = _open(fsim, kit, rec)
    try:
        yield t, rec
    finally:
        kit.close(t)


def test_stall_silences_ticks_but_keeps_the_socket(
    fsim: Running, ticker: tuple[KiteTicker, Recorder], kit: Any
) -> None:
    t, rec = ticker
    (conn,) = fsim.server.conns.values()
    sent_at: list[tuple[float, int]] = []
    fsim.server.on_sent = lambda msg: sent_at.append((time.monotonic(), msg.conn_id))
    stall = 2.5
    try:
        assert _fault(fsim, "stall", stall)["connections"] == 1
        until = conn.stall_until
        kit.wait_for(lambda: rec.good_after(until))  # ticks resume after the stall
    finally:
        fsim.server.on_sent = None
    # Server side: nothing sent to the connection while stalled (not even heartbeats), then
    # ticks again on the same connection.
    assert not [s for s, c in sent_at if until - stall <= s < until and c == conn.id]
    assert [s for s, c in sent_at if s >= until and c == conn.id]
    # Client side: a silent gap as long as the stall (less any delivery delay of the last
    # message sent before it), on the same socket: no close, no reconnect, no error; the
    # server answered KiteTicker's pings meanwhile, so its pong check did not drop the socket.
    arrivals = [ts for ts, _ in rec.binary_after(until - stall - 1.0)]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) > stall - 0.5
    assert rec.connects == 1 and not rec.closes and not rec.errors
    assert list(fsim.server.conns) == [conn.id] and t.is_connected()


def _damaged(rec: Recorder, after: float) -> list[tuple[float, bytes]]:
    """Binary messages received after `after` that strikeboard's codec rejects."""
    out = []
    for ts, p in rec.binary_after(after):
        try:
            codec.decode(p)
        except codec.CodecError:
            out.append((ts, p))
    return out


def test_garbage_is_rejected_and_the_stream_goes_on(
    fsim: Running, ticker: tuple[KiteTicker, Recorder], kit: Any
) -> None:
    t, rec = ticker
    t0 = time.monotonic()
    assert _fault(fsim, "garbage")["connections"] == 1
    kit.wait_for(lambda: _damaged(rec, t0))
    ((at, bad),) = _damaged(rec, t0)
    assert len(bad) == 37
    declared = int.from_bytes(bad[:2], "big")
    with pytest.raises(codec.CodecError) as err:
        codec.decode(bad)
    # The packet count alone needs more bytes than the message holds.
    assert 2 + 2 * declared > len(bad) and 2 <= err.value.offset < len(bad)
    with pytest.raises(struct.error):  # kiteconnect's own parser fails on it too
        t._parse_binary(bad)
    kit.wait_for(lambda: len(rec.good_after(at)) >= 3)
    assert rec.connects == 1 and not rec.closes and not rec.errors


def test_truncated_keeps_whole_packets_and_the_stream_goes_on(
    fsim: Running, ticker: tuple[KiteTicker, Recorder], kit: Any
) -> None:
    t, rec = ticker
    t0 = time.monotonic()
    assert _fault(fsim, "truncated")["connections"] == 1
    kit.wait_for(lambda: _damaged(rec, t0))
    ((at, bad),) = _damaged(rec, t0)
    subscribed = set(_tokens(fsim))
    declared = int.from_bytes(bad[:2], "big")
    assert declared == len(subscribed)  # the connection's current ticks, one per instrument
    with pytest.raises(codec.CodecError) as err:
        codec.decode(bad)
    partial = err.value.partial
    assert len(partial) == declared - 1  # every packet but the cut one
    assert set(partial.instrument_token.tolist()) < subscribed
    assert bool((partial.last_price > 0).all())
    # kiteconnect splits it without an error and silently drops the short last packet:
    # the ticks it does return are exactly the whole packets in err.partial.
    theirs = t._parse_binary(bad)
    assert [x["instrument_token"] for x in theirs] == partial.instrument_token.tolist()
    assert [x["last_price"] for x in theirs] == partial.last_price.tolist()
    kit.wait_for(lambda: len(rec.good_after(at)) >= 3)
    assert rec.connects == 1 and not rec.closes and not rec.errors


def test_on_ticks_parser_crash_on_garbage_costs_a_reconnect(fsim: Running, kit: Any) -> None:
    """With on_ticks set, kiteconnect's parser raises inside Twisted, which drops the socket.

    KiteTicker then reconnects and resubscribes by itself; this is why strikeboard.kite only
    sets on_message and decodes with strikeboard's codec.
    """
    kit.wait_for(lambda: not fsim.server.conns)
    rec = Recorder(parse=True)
    t = _open(fsim, kit, rec)
    try:
        t0 = time.monotonic()
        _fault(fsim, "garbage")
        kit.wait_for(lambda: rec.connects == 2)
        kit.wait_for(lambda: rec.ticks_after(t0 + 0.1) and rec.connects == 2)
        assert rec.errors and rec.errors[0][0] == 1006  # closed uncleanly: dropped, not closed
        assert _damaged(rec, t0)
    finally:
        kit.close(t)


def test_expire_token_keeps_open_sockets_and_refuses_the_rest(fsim: Running, kit: Any) -> None:
    """As at Kite's 06:00 flush: REST 403, new handshakes 403, the open socket streams on."""
    kit.wait_for(lambda: not fsim.server.conns)
    rec = Recorder(parse=False)
    old = _open(fsim, kit, rec)
    kc = kit.polite(KiteConnect(API_KEY, access_token=TOKEN, root=fsim.root))
    new_ticker: KiteTicker | None = None
    try:
        assert kc.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
        t0 = time.monotonic()
        assert _fault(fsim, "expire_token")["connections"] == 1
        with pytest.raises(exceptions.TokenException) as err:
            kc.ltp("NSE:NIFTY 50")
        assert err.value.code == 403
        assert str(err.value) == "Incorrect `api_key` or `access_token`."
        assert _handshake_status(fsim, TOKEN) == 403
        # The open socket is neither told nor closed: ticks keep coming on it.
        kit.wait_for(lambda: len(rec.good_after(t0)) >= 5)
        assert rec.connects == 1 and not rec.closes and not rec.errors and old.is_connected()
        # A new token from the login flow works for REST and a new ticker.
        login = httpx.get(f"{fsim.root}/connect/login", params={"api_key": API_KEY, "v": "3"})
        kc2 = kit.polite(KiteConnect(API_KEY, root=fsim.root))
        session = kc2.generate_session(login.json()["data"]["request_token"], "sim_api_secret")
        fresh = session["access_token"]
        assert fresh != TOKEN and kc2.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
        with pytest.raises(exceptions.TokenException):
            kc.ltp("NSE:NIFTY 50")  # the expired one stays expired
        rec2 = Recorder(parse=True)
        new_ticker = _open(fsim, kit, rec2, token=fresh)
        kit.wait_for(lambda: rec2.ticks_after(0))
        # The admin endpoint issues the old token again: REST accepts it.
        r = httpx.post(f"{fsim.root}/_sim/token", json={"access_token": TOKEN})
        assert r.status_code == 200
        assert kc.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
        assert len(fsim.server.conns) == 2 and rec.connects == 1
    finally:
        kit.close(old)
        if new_ticker is not None:
            kit.close(new_ticker)
        # Leave the module simulator with its default token whatever happened above.
        httpx.post(f"{fsim.root}/_sim/token", json={"access_token": TOKEN})


def test_stall_one_connection_others_tick(fsim: Running, kit: Any) -> None:
    kit.wait_for(lambda: not fsim.server.conns)
    recs = [Recorder(parse=False), Recorder(parse=False)]
    tickers = [_open(fsim, kit, r) for r in recs]
    sent: list[tuple[float, int]] = []
    try:
        first, second = fsim.server.conns  # ids, in connection order
        fsim.server.on_sent = lambda msg: sent.append((time.monotonic(), msg.conn_id))
        # By index (0-based, in connection order) picks the second; by id, the first.
        r = httpx.post(f"{fsim.root}/_sim/fault", json={"kind": "stall", "seconds": 0, "index": 1})
        assert r.status_code == 200 and r.json()["connection_ids"] == [second]
        body = _fault_body(fsim, {"kind": "stall", "seconds": 3, "connection": first})
        assert body["connection_ids"] == [first] and body["connections"] == 1
        until = fsim.server.conns[first].stall_until
        t0 = until - 3
        kit.wait_for(lambda: len(recs[1].good_after(t0)) >= 5)  # the other one ticks on
        kit.wait_for(lambda: recs[0].good_after(until))  # the stalled one resumes after
        assert not [s for s, c in sent if t0 <= s < until and c == first]
        assert [s for s, c in sent if t0 <= s < until and c == second]
        assert all(r.connects == 1 and not r.closes and not r.errors for r in recs)
    finally:
        fsim.server.on_sent = None
        for t in tickers:
            kit.close(t)


def _fault_body(sim: Running, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{sim.root}/_sim/fault", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_hang_handshake_delays_new_connections(fsim: Running, kit: Any) -> None:
    kit.wait_for(lambda: not fsim.server.conns)
    rec = Recorder(parse=False)
    opened: list[float] = []
    t = KiteTicker(API_KEY, TOKEN, root=fsim.ws_root, reconnect_max_delay=5)
    rec.attach(t, _tokens(fsim))
    on_open = t.on_open
    t.on_open = lambda ws: (opened.append(time.monotonic()), on_open(ws))
    _fault(fsim, "hang_handshake", 3)
    until = fsim.server.hang_until
    kit.start(t)
    try:
        kit.wait_for(lambda: opened and rec.good_after(0), timeout=30)
        # No answer (not even a refusal) until the hang ended; then a normal session.
        assert opened[0] >= until - 0.05 and rec.connects >= 1
    finally:
        kit.close(t)


def test_slow_rest_and_rate_limit_storm(fsim: Running, kit: Any) -> None:
    kc = KiteConnect(API_KEY, access_token=TOKEN, root=fsim.root)
    _fault_body(fsim, {"kind": "slow_rest", "seconds": 4, "delay": 1.0})
    until = fsim.server.slow_until
    t0 = time.monotonic()
    kc.instruments("NSE")
    assert time.monotonic() - t0 >= 1.0  # every REST call, public ones too, waits `delay`
    kit.wait_for(lambda: time.monotonic() > until)
    _fault(fsim, "rate_limit_storm", 2)
    storm_end = fsim.server.storm_until
    with pytest.raises(exceptions.NetworkException) as err:
        kc.ltp("NSE:NIFTY 50")  # the first call of the second: still refused
    assert err.value.code == 429 and str(err.value) == "Too many requests"
    with pytest.raises(exceptions.NetworkException):
        kc.historical_data(NIFTY, "2026-11-25", "2026-11-25", "day")
    assert kc.instruments("NSE")  # public, never rate-limited
    kit.wait_for(lambda: time.monotonic() > storm_end + 1.0)
    assert kc.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"kind": "meltdown"}, "unknown fault kind"),
        ({"kind": "stall", "seconds": -1}, "seconds"),
        ({"kind": "stall", "seconds": "5"}, "seconds"),
        ({"kind": "stall", "connection": 999}, "no ticker connection"),
        ({"kind": "stall", "index": 5}, "out of range"),
        ({"kind": "stall", "connection": True}, "integer"),
        ({"kind": "slow_rest", "seconds": 2}, "delay"),
        ({"kind": "drop", "delay": 1}, "`slow_rest` only"),
        ({"kind": "drop", "bogus": 1}, "unknown fault parameter"),
        ({"seconds": 1}, "kind"),
    ],
)
def test_bad_faults_are_input_errors(fsim: Running, body: dict[str, Any], needle: str) -> None:
    r = httpx.post(f"{fsim.root}/_sim/fault", json=body)
    assert r.status_code == 400
    err = r.json()
    assert err["status"] == "error" and err["error_type"] == "InputException"
    assert needle in err["message"]
    assert httpx.get(f"{fsim.root}/_sim/state").status_code == 200  # still serving


def test_message_frames_are_tolerated(fsim: Running, kit: Any) -> None:
    kit.wait_for(lambda: not fsim.server.conns)
    rec = Recorder(parse=True)  # kiteconnect's own parser and callbacks
    t = _open(fsim, kit, rec)
    try:
        r = httpx.post(f"{fsim.root}/_sim/message", json={"text": "Exchange notice"})
        assert r.status_code == 200 and r.json()["connections"] == 1
        _fault_body(fsim, {"kind": "message", "text": "second notice"})

        def texts() -> list[Any]:
            with rec.lock:
                return [json.loads(p) for _, p, b in rec.messages if not b]

        kit.wait_for(lambda: len([x for x in texts() if x["type"] == "message"]) >= 2)
        msgs = [x for x in texts() if x["type"] == "message"]
        assert msgs[:2] == [{"type": "message", "data": "Exchange notice"},
                            {"type": "message", "data": "second notice"}]  # fmt: skip
        t1 = time.monotonic()
        kit.wait_for(lambda: rec.ticks_after(t1))
        assert rec.connects == 1 and not rec.errors and not rec.closes and not rec.orders
    finally:
        kit.close(t)


ORDER_KEYS = {
    "account_id", "unfilled_quantity", "checksum", "placed_by", "order_id",
    "exchange_order_id", "parent_order_id", "status", "status_message", "status_message_raw",
    "order_timestamp", "exchange_update_timestamp", "exchange_timestamp", "variety",
    "exchange", "tradingsymbol", "instrument_token", "order_type", "transaction_type",
    "validity", "product", "quantity", "disclosed_quantity", "price", "trigger_price",
    "average_price", "filled_quantity", "pending_quantity", "cancelled_quantity",
    "market_protection", "meta", "tag", "guid",
}  # fmt: skip
"""The fields of Kite's WebSocket order update (the same structure as a postback)."""


def test_order_update_reaches_on_order_update(
    fsim: Running, ticker: tuple[KiteTicker, Recorder], kit: Any
) -> None:
    _, rec = ticker
    pushed = fsim.call(fsim.server.order_update)  # the in-process API
    cancel = {"order_id": "251125000000042", "status": "CANCELLED", "filled_quantity": 0,
              "cancelled_quantity": 65}  # fmt: skip
    r = httpx.post(f"{fsim.root}/_sim/order", json={"data": cancel})
    assert r.status_code == 200
    kit.wait_for(lambda: len(rec.orders) == 2)
    first, second = rec.orders
    assert first == pushed
    for o in (first, second):
        assert set(o) == ORDER_KEYS
        assert isinstance(o["order_id"], str) and isinstance(o["instrument_token"], int)
        assert o["exchange"] == "NFO" and o["transaction_type"] in {"BUY", "SELL"}
        assert o["quantity"] % 65 == 0 and o["quantity"] > 0
        for k in ("order_timestamp", "exchange_update_timestamp", "exchange_timestamp"):
            assert dt.datetime.strptime(o[k], "%Y-%m-%d %H:%M:%S").date() == DAY
    assert first["status"] == "COMPLETE" and first["filled_quantity"] == first["quantity"]
    assert first["average_price"] > 0
    assert second["order_id"] == "251125000000042" and second["status"] == "CANCELLED"
    assert second["filled_quantity"] == 0 and second["cancelled_quantity"] == 65
    # The instrument is a real one of the simulator's NFO list, by token and symbol.
    kc = KiteConnect(API_KEY, access_token=TOKEN, root=fsim.root)
    nfo = {i["instrument_token"]: i["tradingsymbol"] for i in kc.instruments("NFO")}
    assert nfo[first["instrument_token"]] == first["tradingsymbol"]
    # Order updates are text: no tick parsing, no error, the stream goes on.
    assert rec.connects == 1 and not rec.errors and not rec.closes
