"""Simulator strictness without sockets: token expiry, last trade times, broadcasts, faults."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from strikeboard.market.calendar import IST
from strikeboard.sim.engine import SimConfig, Simulator
from strikeboard.sim.server import Connection, ServerOptions, SimServer

DAY = dt.date(2026, 11, 25)


def test_tokens_follow_the_market_clock() -> None:
    srv = SimServer(SimConfig(seed=1, day=DAY), ServerOptions(speed=0, start=dt.time(15, 0)))
    assert srv.token_valid("sim_access_token") and not srv.token_valid("other")
    srv.set_clock(srv.sec_of(dt.datetime(2026, 11, 26, 5, 59, 59)))
    assert srv.token_valid("sim_access_token")
    srv.set_clock(srv.sec_of(dt.datetime(2026, 11, 26, 6, 0)))
    assert not srv.token_valid("sim_access_token") and srv.valid_tokens == set()
    fresh = srv.issue_token()  # issued on the 26th after the flush: valid until the 27th
    assert srv.tokens[fresh] == dt.datetime(2026, 11, 27, 6, 0, tzinfo=IST)
    assert srv.valid_tokens == {fresh}


def test_last_trade_time_is_cadence_independent_and_not_after_the_tick() -> None:
    a = Simulator(SimConfig(seed=5, day=DAY))
    b = Simulator(SimConfig(seed=5, day=DAY))
    a.advance_to(900)
    for s in [*range(7, 900, 7), 900]:
        b.advance_to(s)
    assert np.array_equal(a.last_trade_sec, b.last_trade_sec)
    assert bool((a.last_trade_sec <= a.last_sec).all())
    # Some ticks move neither price nor volume: their last trade is older than the tick.
    assert bool((a.last_trade_sec < a.last_sec).any())


def _server_with_conns(n: int, **opts: Any) -> SimServer:
    srv = SimServer(SimConfig(seed=1, day=DAY), ServerOptions(speed=0, **opts))
    for i in range(1, n + 1):
        srv.conns[i] = Connection(i, "sim_api_key", "sim_access_token", ws=None)  # type: ignore[arg-type]
    return srv


def _texts(conn: Connection) -> list[str]:
    out = []
    while not conn.queue.empty():
        msg = conn.queue.get_nowait()
        if isinstance(msg, str):
            out.append(msg)
    return out


def test_seeded_broadcasts_about_once_per_n_minutes() -> None:
    counts = []
    for _ in range(2):
        srv = _server_with_conns(1, message_every=10)
        sent = 0
        for minute in range(1, 601):
            srv._broadcasts(minute * 60.0)
            sent += len(_texts(srv.conns[1]))
        counts.append(sent)
    assert counts[0] == counts[1]  # seeded: the same minutes every run
    assert 30 <= counts[0] <= 90  # ~60 in 600 minutes
    off = _server_with_conns(1, message_every=0)
    off._broadcasts(6000.0)
    assert not _texts(off.conns[1])


def test_fault_validation_and_targets() -> None:
    srv = _server_with_conns(3)
    assert srv.fault("stall", 5, index=2)["connection_ids"] == [3]
    assert srv.fault("stall", 5, connection=1)["connection_ids"] == [1]
    assert srv.fault("stall", 5)["connection_ids"] == [1, 2, 3]
    for kwargs, msg in [
        ({"kind": "nope"}, "unknown fault kind"),
        ({"kind": "stall", "connection": 9}, "no ticker connection"),
        ({"kind": "stall", "connection": 1, "index": 0}, "not both"),
        ({"kind": "slow_rest"}, "delay"),
        ({"kind": "stall", "seconds": float("nan")}, "seconds"),
        ({"kind": "garbage", "text": "x"}, "`message` only"),
    ]:
        with pytest.raises(ValueError, match=msg):
            srv.fault(**kwargs)
    srv.fault("expire_token")
    assert srv.valid_tokens == set() and len(srv.conns) == 3
    assert all(c.queue.empty() or None not in _drain(c) for c in srv.conns.values())


def _drain(conn: Connection) -> list[Any]:
    out = []
    while not conn.queue.empty():
        out.append(conn.queue.get_nowait())
    return out
