"""The containers' health check: a heartbeat file's age (strikeboard/heartbeat.py), and the
feed's tick age metric before any tick (feed_container/__main__.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from feed_container.__main__ import emit_metrics
from strikeboard import heartbeat
from strikeboard.push import __main__ as push_main


def test_fresh_stale_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    assert heartbeat.check(path, 30, now=1000.0) == f"no heartbeat at {path}"
    heartbeat.beat(path, now=1000.0)
    assert heartbeat.check(path, 30, now=1029.0) is None
    assert heartbeat.check(path, 30, now=1031.0) == f"heartbeat {path} is 31 s old (limit 30 s)"


def test_every_worker_must_beat(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    files = [heartbeat.worker_file(path, i, 2) for i in range(2)]
    assert [f.name for f in files] == ["heartbeat.0", "heartbeat.1"]
    assert heartbeat.worker_file(path, 0, 1) == path
    heartbeat.beat(files[0], now=1000.0)
    heartbeat.beat(files[1], now=900.0)
    assert "heartbeat.1 is 100 s old" in (heartbeat.check(path, 30, now=1000.0) or "")
    heartbeat.beat(files[1], now=1000.0)
    assert heartbeat.check(path, 30, now=1001.0) is None


def test_the_command_ecs_runs(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    command = [sys.executable, "-m", "strikeboard.heartbeat", str(path), "30"]
    missing = subprocess.run(command, capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and "no heartbeat" in missing.stderr
    heartbeat.beat(path)
    assert subprocess.run(command, check=False).returncode == 0
    bad = subprocess.run([*command[:-1], "soon"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "MAX_AGE_S must be a number" in bad.stderr


class Recorder:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.values[name] = value

    def flush_metrics(self) -> None:
        pass


HEALTH: dict[str, Any] = {
    "ticks": 0, "ticks_per_s": 0.0, "cycle_ms": 1.0, "archive": {"lag_records": 0},
    "bad_messages": 0, "token": "ok", "status": "ok", "shards": [], "gap_fills_pending": 0,
    "rejects": {}, "last_tick_age_s": None, "market_open": False,
    "alerts": {"rules": 4, "evaluated": 900, "fired": 3, "pushed": 3, "emailed": 1, "failed": 2,
               "dropped": 0, "subscriptions_done": 7, "subscriptions_failed": 5},
}  # fmt: skip


def test_tick_age_before_any_tick_is_the_feeds_age_in_market_hours() -> None:
    """So the no-tick alarm also sees a feed that never got a tick (missing data does not
    breach it)."""
    closed, opened, ticking = Recorder(), Recorder(), Recorder()
    emit_metrics(closed, HEALTH, running_s=300.0)  # type: ignore[arg-type]
    emit_metrics(opened, {**HEALTH, "market_open": True}, running_s=300.0)  # type: ignore[arg-type]
    emit_metrics(ticking, {**HEALTH, "market_open": True, "last_tick_age_s": 0.4}, 300.0)  # type: ignore[arg-type]
    assert "LastTickAgeSeconds" not in closed.values
    assert opened.values["LastTickAgeSeconds"] == 300.0
    assert ticking.values["LastTickAgeSeconds"] == 0.4


def test_the_alert_counters_are_metrics() -> None:
    recorder = Recorder()
    emit_metrics(recorder, HEALTH)  # type: ignore[arg-type]
    assert {k: v for k, v in recorder.values.items() if k.startswith("Alerts")} == {
        "AlertsFired": 3, "AlertsEmailed": 1, "AlertsFailed": 2 + 5}  # fmt: skip


def test_the_pusher_beats_while_its_loop_runs(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"

    async def run() -> None:
        stop = asyncio.Event()
        beating = asyncio.create_task(push_main._beat(path, stop))
        while not path.exists():  # the first beat is immediate
            await asyncio.sleep(0)
        stop.set()
        await beating  # returns at once on stop, not after the beat interval

    asyncio.run(run())
    assert heartbeat.check(path, 30, now=path.stat().st_mtime) is None
