"""`strikeboard dev` as an operator sees it: no secret in any process's output, and a feed
killed with SIGKILL comes back by itself (as ECS restarts a stopped task)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from test_dev_stack_clock import TOKEN, dev_stack, get, wait_for

from strikeboard.store.hot import HotStore

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BANNER = ("  Dashboard ", "  API ", "  Dev token ")
"""The start banner's lines that show the local user their own dev token, on purpose."""


def _feeds(dev_pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(dev_pid).children()
            if "feed_container" in " ".join(p.cmdline())]  # fmt: skip


def _poll(what: str, ready: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := ready():
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _kite_login(base: str) -> str:
    """The Kite login round trip through the gateway and the simulator: the request token."""
    with httpx.Client(timeout=30) as client:
        started = client.post(f"{base}/auth/kite/login", headers=AUTH)
        assert started.status_code == 200, started.text
        login = httpx.get(started.json()["url"], timeout=30)
        assert login.status_code == 302, login.text
        back = httpx.URL(login.headers["location"])
        done = client.get(str(back))
        assert done.status_code == 302 and done.headers["location"] == "/?kite=ok", done.text
        return str(back.params["request_token"])


@pytest.mark.slow
def test_no_secret_in_any_output_and_a_killed_feed_restarts(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    stack = dev_stack(["--speed", "30"], database_url, redis_url, redis_prefix, tmp_path,
                      output=out, log_level="INFO")  # fmt: skip
    hot = HotStore.from_url(redis_url, redis_prefix)
    try:
        with stack as (base, proc):
            wait_for(base, proc, lambda h: h["status"] == "ok", 120)
            request_token = _kite_login(base)
            access_token = hot.read_access_token()
            assert access_token and access_token != "sim_access_token"
            # The feed reconnects with the new token (the simulator logs that handshake).
            wait_for(base, proc, lambda h: h["status"] == "ok", 60)

            (feed,) = _feeds(proc.pid)
            feed.kill()  # kill -9
            feed.wait(30)
            killed = time.time()
            (new,) = _poll("a new feed process", lambda: _feeds(proc.pid), 30)
            assert new.pid != feed.pid

            def ticking() -> Any:
                """Ok, with ticks written after the kill: the new process's."""
                asked = time.time()
                health = get(f"{base}/health")
                age = health["feed"]["last_tick_age_s"]
                fresh = health["status"] == "ok" and age is not None and asked - age > killed
                return health if fresh else None

            health = _poll("the new feed's ticks", ticking, 60)
            assert proc.poll() is None, "strikeboard dev stopped"
    finally:
        hot.close()
    stdout = (out / "stdout").read_text(errors="replace")
    stderr = (out / "stderr").read_text(errors="replace")
    assert f"feed (pid {feed.pid}) exited with -9; restarting in 1 s" in stderr
    assert health["feed"]["last_tick_age_s"] < 5
    assert "access_token=<redacted>" in stderr, "the simulator's ticker log is not there"
    secrets = {"dev token": TOKEN, "sim access token": "sim_access_token",
               "api secret": "sim_api_secret", "request token": request_token,
               "access token": access_token}  # fmt: skip
    outside_banner = stderr + "\n".join(
        line for line in stdout.splitlines() if not line.startswith(BANNER)
    )
    found = {name: s for name, s in secrets.items() if s in outside_banner}
    assert not found, f"secrets in the output: {found}"
