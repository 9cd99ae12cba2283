"""`strikeboard dev` restarts a child that exits, with ECS-like backoff; its plan."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from strikeboard import dev
from strikeboard.dev import Backoff, Child, Supervisor
from strikeboard.devservices import Services


def test_backoff_doubles_to_30_s_and_resets_after_a_healthy_minute() -> None:
    backoff = Backoff()
    assert [backoff.after_exit(0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.after_exit(60.0) == 1
    assert backoff.after_exit(3.0) == 2


def test_an_exited_child_is_restarted_after_its_delay() -> None:
    now = [100.0]
    supervisor = Supervisor({}, clock=lambda: now[0])
    supervisor.start(Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"]))
    try:
        running = supervisor.running[0]
        first = running.proc
        first.wait(30)
        supervisor.tick()  # notices the exit: restart due in 1 s (the clock is still at 100)
        assert running.restart_at == 101.0 and running.proc is first
        supervisor.tick()
        assert running.proc is first, "restarted before its delay"
        now[0] = 101.0
        supervisor.tick()
        assert running.proc is not first and running.restarts == 1
        running.proc.wait(30)
        supervisor.tick()  # a second quick crash waits twice as long
        assert running.restart_at == 103.0
    finally:
        supervisor.stop()


def test_stop_ends_a_running_child() -> None:
    supervisor = Supervisor({})
    supervisor.start(Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"]))
    supervisor.stop()
    assert supervisor.running[0].proc.returncode is not None


def test_the_gateway_serves_the_static_dir_it_is_given(tmp_path: Path) -> None:
    """`strikeboard dev --static-dir` reaches the gateway (bench/bench_hostile.py serves a
    stand-in SPA when web/dist is not built); without it the gateway keeps its default."""
    parser = argparse.ArgumentParser()
    dev.register(parser.add_subparsers())

    def gateway_argv(*extra: str) -> list[str]:
        args = parser.parse_args(["dev", "--speed", "2", *extra])
        (gateway,) = [c for c in dev.plan(args, 9999) if c.name == "gateway"]
        return gateway.argv

    assert "--static-dir" not in gateway_argv()
    assert gateway_argv("--static-dir", str(tmp_path))[-2:] == ["--static-dir", str(tmp_path)]


def test_the_local_stack_follows_three_underlyings_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make dev` shows NIFTY, BANKNIFTY and SENSEX; UNDERLYINGS in the environment wins."""
    found = Services("redis://127.0.0.1:1/0", "postgresql://127.0.0.1:1/test")
    monkeypatch.delenv("UNDERLYINGS", raising=False)
    assert dev.stack_env(found, 9999, "t")["UNDERLYINGS"] == "NIFTY,BANKNIFTY,SENSEX"
    monkeypatch.setenv("UNDERLYINGS", "SENSEX")
    assert dev.stack_env(found, 9999, "t")["UNDERLYINGS"] == "SENSEX"
