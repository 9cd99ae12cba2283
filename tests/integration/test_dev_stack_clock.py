"""`strikeboard dev` replaying a day at 30x, whatever the wall clock says (the simulator plays
its last trading day from 09:15): candles, minute chains and the API follow the market's time,
never the wall clock's, and every minute that saw ticks has its spot candle."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest

from strikeboard import devservices
from strikeboard.market.calendar import IST

ROOT = Path(__file__).resolve().parents[2]
SPOT = 256265


def get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_every_minute_has_its_candle_on_the_markets_clock(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    port = devservices.free_port()
    token = "dev-stack-clock-test"
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url,
           "REDIS_KEY_PREFIX": redis_prefix, "DEV_TOKEN": token,
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "strikeboard", "dev", "--speed", "30", "--port", str(port),
         "--local-dir", str(tmp_path / "dev")],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        first: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"strikeboard dev exited with {proc.returncode}"
            try:
                market = get(f"{base}/market", token)["instruments"].get("NIFTY 50") or {}
            except OSError:
                market = {}
            if market.get("ts"):
                first = market
                break
            time.sleep(0.5)
        assert first is not None, "no market data from the dev stack"
        day = dt.datetime.fromtimestamp(first["ts"], IST).date()
        # About 25 market minutes at 30x; then every minute between the first and the last
        # candle must be there, stamped on the simulated day.
        time.sleep(50)
        candles = get(f"{base}/history/candles?token={SPOT}&date={day.isoformat()}", token)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
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
