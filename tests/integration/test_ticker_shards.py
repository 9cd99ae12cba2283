"""The sharded ticker against the simulator with the official KiteTicker underneath: a silent
socket is noticed and replaced, subscriptions changed during an outage are what the server has
after it, and a refused handshake waits for a new token."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strikeboard.kite.ticker import ShardState, TickerShards
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import Running, ServerOptions, run_simulator

DAY = dt.date(2026, 11, 25)


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


class Received:
    def __init__(self) -> None:
        self.by_shard: dict[int, float] = {}
        self.count: dict[int, int] = {}
        self.lock = threading.Lock()

    def __call__(self, shard: int, _payload: bytes, at: float) -> None:
        with self.lock:
            self.by_shard[shard] = at
            self.count[shard] = self.count.get(shard, 0) + 1

    def messages(self, shard: int) -> int:
        with self.lock:
            return self.count.get(shard, 0)


@pytest.fixture
def sim() -> Iterator[Running]:
    opts = ServerOptions(speed=5, start=dt.time(10, 0))
    with run_simulator(config=SimConfig(seed=3, day=DAY), options=opts) as running:
        yield running


def server_subscriptions(sim: Running) -> list[set[int]]:
    """Each open ticker connection's subscribed tokens, from the simulator's side."""

    def read() -> list[set[int]]:
        s = sim.server.sim
        return [{int(s.token[i]) for i in c.subs} for c in sim.server.conns.values()]

    result: list[set[int]] = sim.call(read)
    return result


def shard_tokens(sim: Running, count: int) -> list[set[int]]:
    tokens = [int(t) for t in sim.server.sim.token[: count * 40]]
    return [set(tokens[i * 40 : (i + 1) * 40]) for i in range(count)]


def test_a_silent_socket_is_replaced_and_the_silence_is_a_gap(sim: Running) -> None:
    got = Received()
    shards = TickerShards("sim_api_key", "sim_access_token", sim.ws_root, on_payload=got)
    try:
        shards.assign(shard_tokens(sim, 2))
        wait_for(lambda: got.messages(0) > 3 and got.messages(1) > 3, 20, "both shards ticking")
        conns = sorted(sim.server.conns)
        # Stall the connection behind shard 0 only: the socket stays open and answers pings.
        stalled = next(c for c in conns if server_subscriptions_of(sim, c) & shards.wanted(0))
        sim.call(functools.partial(sim.server.fault, "stall", 60.0, connection=stalled))
        before = got.messages(0), got.messages(1)
        status = shards.status[0]
        took = wait_for(
            lambda: (
                status.stalls == 1
                and status.state == ShardState.CONNECTED
                and got.messages(0) > before[0] + 3
            ),
            15,
            "shard 0 ticking again",
        )
        print(f"silent shard replaced, ticking again after {took:.1f} s")
        assert shards.status[1].stalls == 0 and got.messages(1) > before[1]
        assert len(shards.status[0].gaps) == 1
        down, up = shards.status[0].gaps[0]
        assert up - down >= shards.policy.stall_after_s
        assert server_subscriptions(sim) and all(
            subs in (shards.wanted(0), shards.wanted(1)) for subs in server_subscriptions(sim)
        )
    finally:
        shards.close()


def server_subscriptions_of(sim: Running, conn_id: int) -> set[int]:
    def read() -> set[int]:
        s = sim.server.sim
        return {int(s.token[i]) for i in sim.server.conns[conn_id].subs}

    result: set[int] = sim.call(read)
    return result


def test_subscriptions_changed_during_an_outage_are_the_servers_after_it(sim: Running) -> None:
    got = Received()
    shards = TickerShards("sim_api_key", "sim_access_token", sim.ws_root, on_payload=got)
    try:
        first = shard_tokens(sim, 1)
        shards.assign(first)
        wait_for(lambda: server_subscriptions(sim) == first, 20, "first set subscribed")
        # Kite unreachable: every socket dropped and every new handshake hangs for a while.
        sim.call(sim.server.fault, "hang_handshake", 8.0)
        sim.call(sim.server.fault, "drop")
        wait_for(lambda: shards.status[0].state != ShardState.CONNECTED, 10, "outage seen")
        tokens = [int(t) for t in sim.server.sim.token[:200]]
        moved = [set(tokens[20:60]) | {tokens[150]}]  # a re-centre: some out, some new in
        shards.assign(moved)
        assert not server_subscriptions(sim)
        took = wait_for(lambda: server_subscriptions(sim) == moved, 40, "moved set subscribed")
        print(f"reconnected with the re-centred set after {took:.1f} s")
        assert shards.status[0].state == ShardState.CONNECTED
        assert shards.status[0].subscribed == len(moved[0])
        # And a change while connected is applied in place (no reconnect).
        connects = shards.status[0].connects
        shards.assign([set(tokens[30:70])])
        wait_for(lambda: server_subscriptions(sim) == [set(tokens[30:70])], 10, "in place")
        assert shards.status[0].connects == connects
    finally:
        shards.close()


def test_a_refused_handshake_waits_for_a_new_token(sim: Running) -> None:
    got = Received()
    shards = TickerShards("sim_api_key", "not-a-token", sim.ws_root, on_payload=got)
    try:
        shards.assign(shard_tokens(sim, 1))
        wait_for(lambda: shards.status[0].state == ShardState.UNAUTHORIZED, 15, "refused")
        time.sleep(1.0)
        assert shards.status[0].connects == 0 and shards.status[0].attempts == 1  # no hammering
        shards.set_access_token("sim_access_token")
        wait_for(lambda: got.messages(0) > 2, 15, "ticking on the new token")
    finally:
        shards.close()


def test_the_watchdog_rests_while_no_data_is_expected(sim: Running) -> None:
    """Outside market hours Kite may send nothing: silence is not a dead socket then."""
    got = Received()
    market = threading.Event()
    shards = TickerShards("sim_api_key", "sim_access_token", sim.ws_root, on_payload=got,
                          expect_data=market.is_set)  # fmt: skip
    try:
        shards.assign(shard_tokens(sim, 1))
        wait_for(lambda: got.messages(0) > 2, 20, "ticking")
        sim.call(sim.server.fault, "stall", 60.0)
        time.sleep(shards.policy.stall_after_s + 2)  # longer than the watchdog would wait
        assert shards.status[0].stalls == 0 and shards.status[0].state == ShardState.CONNECTED
        market.set()  # the open: from now on silence counts
        took = wait_for(lambda: shards.status[0].stalls == 1 and got.messages(0) > 5, 20,
                        "silent socket replaced after the open")  # fmt: skip
        assert took >= shards.policy.stall_after_s
    finally:
        shards.close()
