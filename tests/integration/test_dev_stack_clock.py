"""`strikeboard dev` on the market's clock, whatever the wall clock says.

* Replaying a day at 30x (the simulator plays its trading day from 09:15): candles, minute
  chains and the API follow the market's time, and every minute that saw ticks has its spot
  candle.
* `--at` a trading morning at real speed: the whole stack is live, as it will be at that hour
  (/api/health open, ticks flowing and fresh, the dashboard's badge and banner live).
* `--at` a Sunday: closed for the weekend, with the last session and the next open (the
  simulator and the API only).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from strikeboard import dev, devservices
from strikeboard.api.app import create_app
from strikeboard.config import Settings
from strikeboard.market.calendar import IST

ROOT = Path(__file__).resolve().parents[2]
SPOT = 256265
TOKEN = "dev-stack-clock-test"
TRADING_MORNING = dt.datetime(2026, 11, 25, 10, 0, tzinfo=IST)
"""A Wednesday, an NSE trading day (the Tuesday before is a holiday: Guru Nanak Jayanti)."""
SUNDAY = dt.datetime(2026, 11, 29, 10, 0, tzinfo=IST)


def get(url: str, token: str = TOKEN) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@contextmanager
def dev_stack(
    args: list[str],
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    *,
    output: Path | None = None,
    log_level: str = "WARNING",
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`strikeboard dev ARGS` on the test's Redis prefix and database: its /api root and
    process, stopped (SIGINT, as Ctrl-C) at the end. ``output``: a directory to keep its
    stdout and stderr in (every child's output goes there too), else one under tmp_path."""
    port = devservices.free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url,
           "REDIS_KEY_PREFIX": redis_prefix, "DEV_TOKEN": TOKEN,
           "LOG_LEVEL": log_level}  # fmt: skip
    output = output or tmp_path / "dev-output"  # kept: a failure prints its stderr's tail
    with contextlib.ExitStack() as files:
        output.mkdir(parents=True, exist_ok=True)
        out = files.enter_context((output / "stdout").open("wb"))
        err = files.enter_context((output / "stderr").open("wb"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "strikeboard", "dev", *args, "--port", str(port),
             "--local-dir", str(tmp_path / "dev")],
            cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=err,
        )  # fmt: skip
        try:
            yield f"http://127.0.0.1:{port}/api", proc
        finally:
            if proc.poll() is not None:  # it stopped by itself: say why (pytest shows this)
                print((output / "stderr").read_text(errors="replace")[-4000:])
            else:
                os.killpg(proc.pid, signal.SIGINT)
            proc.wait(60)


def wait_for(base: str, proc: subprocess.Popen[bytes], ready: Any, timeout: float) -> Any:
    """Poll /api/health until ``ready(health)``; the last answer."""
    deadline = time.monotonic() + timeout
    health: Any = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"strikeboard dev exited with {proc.returncode}"
        try:
            health = get(f"{base}/health")
        except OSError:
            health = None
        if health is not None and ready(health):
            return health
        time.sleep(0.25)
    raise AssertionError(f"not ready within {timeout:.0f} s: {health}")


def spot(base: str) -> dict[str, Any]:
    market = get(f"{base}/market")
    return {**(market["instruments"].get("NIFTY 50") or {}),
            **{k: market[k] for k in ("stale", "market_open", "source")}}  # fmt: skip


@pytest.mark.slow
def test_every_minute_has_its_candle_on_the_markets_clock(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    stack = dev_stack(["--speed", "30"], database_url, redis_url, redis_prefix, tmp_path)
    with stack as (base, proc):
        wait_for(base, proc, lambda h: h["status"] == "ok", 120)
        first = spot(base)
        assert first.get("ts"), "no market data from the dev stack"
        day = dt.datetime.fromtimestamp(first["ts"], IST).date()
        # The replay's hours are market hours: the API and the dashboard's banner say open.
        health = get(f"{base}/health")
        assert health["session"]["state"] == "open" and health["market_open"], health
        assert dt.datetime.fromisoformat(health["now"]).date() == day
        # About 25 market minutes at 30x; then every minute between the first and the last
        # candle must be there, stamped on the simulated day.
        time.sleep(50)
        candles = get(f"{base}/history/candles?token={SPOT}&date={day.isoformat()}")
    minutes = [dt.datetime.fromisoformat(c["minute"]).astimezone(IST) for c in candles]
    assert len(minutes) >= 15, minutes
    assert all(m.date() == day for m in minutes)
    expected = (minutes[-1] - minutes[0]).total_seconds() // 60 + 1
    assert len(minutes) == expected, (minutes[0], minutes[-1], len(minutes))
    with psycopg.connect(database_url) as conn:
        days = conn.execute(
            "SELECT DISTINCT (minute AT TIME ZONE 'Asia/Kolkata')::date FROM chain_minute"
        ).fetchall()
    assert days == [(day,)]


@pytest.mark.slow
def test_at_a_trading_morning_the_stack_is_live(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    at = ["--at", TRADING_MORNING.isoformat()]
    with dev_stack(at, database_url, redis_url, redis_prefix, tmp_path) as (base, proc):
        wait_for(base, proc, lambda h: h["status"] == "ok", 120)
        first = spot(base)
        view: dict[str, Any] = {"chain": {"source": None, "stale": True}}

        def live() -> bool:
            """Polled (a loaded machine may briefly lag): a newer tick than the first, fresh,
            stamped near the API's clock, and a fresh chain."""
            view["later"] = spot(base)
            view["health"] = h = get(f"{base}/health")
            expiries = get(f"{base}/expiries")
            if not expiries:  # the feed's first snapshot is still on its way
                return False
            view["chain"] = get(f"{base}/chain/{expiries[0]['expiry']}?strikes=2")
            f, later = h["feed"], view["later"]
            now = dt.datetime.fromisoformat(h["now"]).timestamp()
            return bool(later["ts"] > first["ts"] and not later["stale"]
                        and not view["chain"]["stale"] and abs(later["ts"] - now) < 5
                        and f["ticks_per_s"] > 0 and f["last_tick_age_s"] < 5)  # fmt: skip

        deadline = time.monotonic() + 60
        while not live() and time.monotonic() < deadline:
            time.sleep(0.5)
        later, chain, health = view["later"], view["chain"], view["health"]
    now = dt.datetime.fromisoformat(health["now"])
    # The API's clock is the simulator's: the morning asked for, not the wall clock's night.
    assert TRADING_MORNING <= now < TRADING_MORNING + dt.timedelta(minutes=5), now
    session = health["session"]
    assert session["state"] == "open" and health["market_open"] is True, health
    assert session["last_session"] == "2026-11-25" and session["reason"] is None
    assert session["next_open"] == "2026-11-26T09:15:00+05:30"
    # Ticks flowing and fresh, and the feed (on the same clock) agrees the market is open.
    feed = health["feed"]
    assert health["status"] == "ok" and feed["connected"] and feed["token"] == "ok", feed
    assert feed["last_tick_age_s"] < 5 and feed["ticks_per_s"] > 0, feed
    assert feed["session"] == "open" and feed["market_open"] is True, feed
    assert later["ts"] > first["ts"], (first, later)
    # The market's time stamps agree with the API's clock (the processes share one clock).
    assert abs(later["ts"] - now.timestamp()) < 5, (later["ts"], now)
    # What the dashboard reads (web/src/store/selectors.ts badgeFor, clock.ts sessionText):
    # session "open" = no closed banner; live, fresh, non-archive data = the badge is live.
    assert later["source"] == "live" and later["stale"] is False and later["market_open"]
    assert chain["source"] == "live" and chain["stale"] is False, chain["source"]


@pytest.mark.slow
def test_at_a_sunday_the_market_is_closed_for_the_weekend(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """The simulator as `strikeboard dev --at <Sunday>` starts it (Friday's close, then the
    jump to Sunday) and the API on the market clock dev hands out: no feed needed."""
    args = argparse.Namespace(at=SUNDAY, speed=1.0, seed=7, port=devservices.free_port(),
                              local_dir=tmp_path)  # fmt: skip
    sim_port = devservices.free_port()
    sim, *others = dev.plan(args, sim_port)
    with dev.run_children([sim], dict(os.environ)):
        state = get(f"http://127.0.0.1:{sim_port}/_sim/state")
        shared = {(c.env["MARKET_CLOCK"], c.env["MARKET_CLOCK_SPEED"]) for c in others}
        assert len(shared) == 1, shared  # the feed, the gateway and the pusher alike
        ((anchor, speed),) = shared
        settings = Settings(redis_url=redis_url, redis_key_prefix=redis_prefix,
                            database_url=database_url, dev_token=SecretStr(TOKEN),
                            market_clock=anchor, market_clock_speed=float(speed))  # fmt: skip
        with TestClient(create_app(settings)) as client:
            health = client.get("/api/health").json()
    assert state["day"] == "2026-11-27" and not state["is_open"], state  # Friday's market
    sim_now = dt.datetime.fromisoformat(state["clock"])
    now = dt.datetime.fromisoformat(health["now"])
    assert SUNDAY <= sim_now <= now < SUNDAY + dt.timedelta(minutes=5), (sim_now, now)
    session = health["session"]
    assert session["state"] == "holiday" and health["market_open"] is False, health
    assert session["reason"] == "2026-11-29 is a Sunday"
    assert session["last_session"] == "2026-11-27"
    assert session["last_close"] == "2026-11-27T15:30:00+05:30"
    assert session["next_open"] == "2026-11-30T09:15:00+05:30"
