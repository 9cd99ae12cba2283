"""The feed without a working Kite token: it stays up and says `waiting` (none stored yet) or
`expired` (Kite refused it), makes no Kite call and opens no socket without one, and streams
within 20 s of a valid token appearing: locally in the Redis key the local login writes, in
the cloud in the Secrets Manager secret (moto) followed by the login's Redis notice."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from test_feed_session import DAY, SPEED, _feed, fault, wait_for

from strikeboard.feed.feed import Feed
from strikeboard.market.universe import UniverseConfig
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import Running, ServerOptions, run_simulator
from strikeboard.store.hot import HotStore

SMALL = UniverseConfig(weekly_expiries=1, include_monthly=False, strikes_each_side=3)
STREAMS_WITHIN_S = 20.0  # the issue's bound: a stored token to ticks flowing


@pytest.fixture
def sim() -> Iterator[Running]:
    # 11:00 on a trading day: the market is open, so ticks flow once subscribed.
    opts = ServerOptions(speed=SPEED, start=dt.time(11, 0))
    with run_simulator(config=SimConfig(seed=21, day=DAY), options=opts) as running:
        yield running


def supervised(feed: Feed, cond: Callable[[], Any]) -> Callable[[], Any]:
    """`cond`, after one `supervise()` (what feed_container's main loop does each second)."""

    def check() -> Any:
        feed.supervise()
        return cond()

    return check


def health_says(hot: HotStore, feed: Feed, token: str, after: float = 0.0) -> Callable[[], bool]:
    def check() -> bool:
        feed.supervise()
        doc = hot.read_health() or {}
        return doc.get("token") == token and doc.get("ts", 0) > after

    return check


def untouched(feed: Feed, sim: Running) -> None:
    """No Kite REST request sent and no ticker socket opened."""
    assert feed.adapters.rest.status().requests == 0
    assert not sim.server.conns
    assert feed.phase == "starting" and feed.universe is None


def streams_after(feed: Feed, store: Callable[[], None]) -> float:
    """Store a valid token with `store`; seconds until ticks flow (asserted <= 20 s)."""
    ticks = feed.ingest.counters.ticks
    took_store = time.monotonic()
    store()
    wait_for(supervised(feed, lambda: feed.ingest.counters.ticks > ticks + 50),
             STREAMS_WITHIN_S, "ticks after the token appeared")  # fmt: skip
    took = time.monotonic() - took_store
    assert feed.session.token_state == "ok" and feed.phase == "live"
    return took


def test_local_waiting_then_expired_then_streaming(
    sim: Running, database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    feed = _feed(sim, database_url, redis_url, redis_prefix, tmp_path, SMALL, access_token="")
    hot = HotStore.from_url(redis_url, redis_prefix)
    feed.start()
    try:
        # No token anywhere: waiting, and the feed keeps writing its health (it stays up).
        wait_for(health_says(hot, feed, "waiting"), 10, "health waiting")
        first = (hot.read_health() or {})["ts"]
        wait_for(health_says(hot, feed, "waiting", after=first + 2), 10, "still waiting")
        doc = hot.read_health() or {}
        assert doc["status"] == "degraded"
        assert "no Kite access token yet: log in to Kite" in doc["problems"]
        assert not any(p.startswith("starting") for p in doc["problems"])
        untouched(feed, sim)

        # Yesterday's token (Kite's 06:00 flush): tried once, refused, reported.
        stale = sim.call(sim.server.issue_token, "yesterdays-token")
        fault(sim, "expire_token")
        hot.write_access_token(stale)
        wait_for(health_says(hot, feed, "expired"), 10, "health expired")
        assert "Kite access token expired: log in again" in (hot.read_health() or {})["problems"]
        assert feed.adapters.rest.status().token_expired and not sim.server.conns

        # The day's login stores a valid token in the Redis key.
        def login() -> None:
            hot.write_access_token(sim.call(sim.server.issue_token, "todays-token"))

        took = streams_after(feed, login)
        print(f"local: ticks {took:.1f} s after the token was stored")
        wait_for(health_says(hot, feed, "ok"), 5, "health ok")
    finally:
        feed.stop()
        hot.close()


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("secretsmanager")


def test_cloud_secret_placeholder_then_a_login(
    sim: Running, secrets: Any, database_url: str, redis_url: str, redis_prefix: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    # What the Data stack's first deploy leaves: generated JSON without a token.
    secrets.create_secret(
        Name="kite", SecretString=json.dumps({"access_token": "", "placeholder": "x1y2"})
    )
    feed = _feed(sim, database_url, redis_url, redis_prefix, tmp_path, SMALL, access_token="",
                 secret_name="kite", secrets_client=secrets)  # fmt: skip
    hot = HotStore.from_url(redis_url, redis_prefix)
    feed.start()
    try:
        wait_for(health_says(hot, feed, "waiting"), 10, "health waiting")
        untouched(feed, sim)

        # The login: the secret first (the truth), then the Redis notice (read at once).
        def login() -> None:
            token = sim.call(sim.server.issue_token, "cloud-token")
            payload = json.dumps({"access_token": token})
            secrets.put_secret_value(SecretId="kite", SecretString=payload)
            hot.bump_token_notice()

        took = streams_after(feed, login)
        print(f"cloud: ticks {took:.1f} s after the token was stored and noticed")
    finally:
        feed.stop()
        hot.close()


def test_the_feed_process_waits_for_a_token(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """`python -m feed_container` with no token stays up; SIGTERM stops it cleanly."""
    env = {**os.environ, "KITE_API_KEY": "sim_api_key", "KITE_ACCESS_TOKEN": "",
           "KITE_SECRET_NAME": "", "KITE_API_URL": "http://127.0.0.1:9",
           "KITE_TICKER_URL": "ws://127.0.0.1:9/ws", "REDIS_URL": redis_url,
           "REDIS_KEY_PREFIX": redis_prefix, "DATABASE_URL": database_url,
           "SPOOL_DIR": str(tmp_path / "spool"), "LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "feed_container"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    hot = HotStore.from_url(redis_url, redis_prefix)
    try:

        def health(after: float) -> bool:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            doc = hot.read_health() or {}
            return doc.get("token") == "waiting" and doc.get("ts", 0) > after

        wait_for(lambda: health(0.0), 60, "the feed's health")
        first = (hot.read_health() or {})["ts"]
        wait_for(lambda: health(first + 2), 20, "two more seconds of health")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        hot.close()
