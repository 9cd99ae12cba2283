"""A feed task replaced (a deploy, a failure) loses nothing and doubles nothing: on SIGTERM the
feed drains its spool to PostgreSQL; what it cannot drain (PostgreSQL down) stays in the spool
directory, and the next feed on that directory archives it, exactly once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_feed_session import (
    DAY,
    SPEED,
    SentTicks,
    _feed,
    archived_once,
    received,
    rejected,
    wait_for,
)

from strikeboard.devservices import PostgresCluster
from strikeboard.feed.feed import Feed
from strikeboard.market.universe import UniverseConfig
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import Running, ServerOptions, run_simulator
from strikeboard.store.hot import HotStore
from strikeboard.store.spool import Spool

SMALL = UniverseConfig(weekly_expiries=1, include_monthly=False, strikes_each_side=3)


@pytest.fixture
def sim() -> Iterator[tuple[Running, SentTicks]]:
    sent = SentTicks()
    opts = ServerOptions(speed=SPEED, start=dt.time(11, 0))
    with run_simulator(config=SimConfig(seed=31, day=DAY), options=opts) as running:
        running.server.on_sent = sent
        yield running, sent


def freeze(sim: Running) -> None:
    """Stop the market: nothing more is sent, so what was sent can all be received."""
    sim.call(sim.server.set_clock, None, 0.0)


def sent_total(sent: SentTicks) -> int:
    return sum(sent.counter().values())


def wait_received(feeds: list[Feed], sent: SentTicks) -> None:
    """Until the feeds have taken in every tick the (frozen) simulator sent."""
    try:
        wait_for(lambda: received(feeds) == sent_total(sent), 30, "every sent tick received")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {received(feeds)} of {sent_total(sent)}") from None


@pytest.mark.slow
def test_a_feed_replaced_while_postgres_is_down_hands_its_spool_over(
    sim: tuple[Running, SentTicks], private_postgres: PostgresCluster, redis_url: str,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    running, sent = sim
    first = _feed(running, private_postgres.url, redis_url, redis_prefix, tmp_path, SMALL)
    first.start()
    try:
        wait_for(lambda: first.ingest.counters.ticks > 200, 60, "ticks flowing")
        private_postgres.stop()
        lag = first.adapters.archiver.status
        wait_for(lambda: lag().lag.records > 20, 60, "records piling up in the spool")
        freeze(running)
        wait_received([first], sent)
    finally:
        # SIGTERM's path with PostgreSQL still down: nothing drains, the feed stops anyway.
        assert not first.stop(drain_timeout=0.5)
    with Spool(tmp_path / "spool") as left:  # released by the feed that stopped
        assert left.lag().records > 20

    private_postgres.start()
    running.call(running.server.set_clock, None, SPEED)  # the market goes on
    second = _feed(running, private_postgres.url, redis_url, redis_prefix, tmp_path, SMALL)
    second.start()
    try:
        wait_for(lambda: second.ingest.counters.ticks > 200, 60, "the second feed's ticks")
        freeze(running)
        wait_received([first, second], sent)
        archiver = second.adapters.archiver
        wait_for(lambda: archiver.status().lag.records == 0, 60, "both feeds' ticks archived")
    finally:
        assert second.stop()
    assert archived_once(private_postgres.url, sent, rejected([first, second])) > 400


@pytest.mark.slow
def test_sigterm_drains_the_spool_and_exits_0(
    sim: tuple[Running, SentTicks], private_postgres: PostgresCluster, redis_url: str,
    redis_prefix: str, tmp_path: Path,
) -> None:  # fmt: skip
    """`python -m feed_container` gets SIGTERM just as PostgreSQL returns from an outage, with
    a backlog in its spool: it archives all of it before it exits."""
    running, sent = sim
    market = running.server.market_now().isoformat()
    env = {**os.environ, "KITE_API_KEY": "sim_api_key", "KITE_ACCESS_TOKEN": "sim_access_token",
           "KITE_SECRET_NAME": "", "KITE_API_URL": running.root, "KITE_TICKER_URL":
           running.ws_root, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
           "DATABASE_URL": private_postgres.url, "SPOOL_DIR": str(tmp_path / "spool"),
           "MARKET_CLOCK": f"{market}@{time.time()}", "MARKET_CLOCK_SPEED": str(SPEED),
           "WEEKLY_EXPIRIES": "1", "INCLUDE_MONTHLY": "false", "STRIKES_EACH_SIDE": "3",
           "FEED_DRAIN_S": "100", "LOG_LEVEL": "WARNING"}  # fmt: skip
    log_path = tmp_path / "feed.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "feed_container"], env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)  # fmt: skip
    hot = HotStore.from_url(redis_url, redis_prefix)

    def health() -> dict[str, Any]:
        assert proc.poll() is None, log_path.read_text()
        return hot.read_health() or {"ticks": 0, "rejects": {}, "archive": {"lag_records": 0}}

    try:
        wait_for(lambda: health()["ticks"] > 200, 60, "ticks flowing")
        private_postgres.stop()
        wait_for(lambda: health()["archive"]["lag_records"] > 20, 60, "a backlog in the spool")
        freeze(running)

        def all_received() -> bool:
            doc = health()
            return bool(doc["ticks"] + sum(doc["rejects"].values()) == sent_total(sent))

        wait_for(all_received, 30, "every sent tick received")
        dropped = sum(health()["rejects"].values())
        private_postgres.start()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(150) == 0, log_path.read_text()  # a hang guard, not a time limit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        hot.close()
    with Spool(tmp_path / "spool") as spool:  # the lock went with the process
        assert spool.lag().records == 0 and spool.committed == spool.end
    assert archived_once(private_postgres.url, sent, dropped) > 200


def test_a_second_feed_refuses_a_spool_in_use(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """A feed started by mistake next to a running one (same spool, so the same Kite
    account) waits for the lock, then exits 3 naming the holder, before any Kite call."""
    env = {**os.environ, "KITE_API_KEY": "sim_api_key", "KITE_ACCESS_TOKEN": "",
           "KITE_SECRET_NAME": "", "KITE_API_URL": "http://127.0.0.1:9",
           "KITE_TICKER_URL": "ws://127.0.0.1:9/ws", "REDIS_URL": redis_url,
           "REDIS_KEY_PREFIX": redis_prefix, "DATABASE_URL": database_url,
           "SPOOL_DIR": str(tmp_path / "spool"), "SPOOL_LOCK_WAIT_S": "1"}  # fmt: skip
    holder = "arn:aws:ecs:ap-south-1:123456789012:task/strikeboard/feed-1"
    with Spool(tmp_path / "spool", owner=holder):
        done = subprocess.run([sys.executable, "-m", "feed_container"], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert holder in done.stdout + done.stderr
