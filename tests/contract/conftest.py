"""The simulator in-process and a shared Twisted reactor for KiteTicker (started once)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from kiteconnect import KiteConnect, KiteTicker
from twisted.internet import reactor

from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import Running, ServerOptions, run_simulator

DAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="session")
def sim() -> Iterator[Running]:
    """One simulator for the contract suite: speed 10 from 10:00 so ticks flow quickly."""
    opts = ServerOptions(speed=10, start=dt.time(10, 0), record_sent=True)
    with run_simulator(config=SimConfig(seed=42, day=DAY), options=opts) as running:
        yield running


class BackoffSession(requests.Session):
    """A requests session that waits and retries on HTTP 429, as a polite Kite client must.

    The simulator enforces Kite's rate limits (1 quote call/s per api_key); tests that are not
    about the limits use this so back-to-back calls queue up instead of failing.
    """

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        deadline = time.monotonic() + 30
        while True:
            r = super().request(*args, **kwargs)
            if r.status_code != 429 or time.monotonic() > deadline:
                return r
            time.sleep(0.2)


def polite(kc: KiteConnect) -> KiteConnect:
    """The official client with its session swapped for a BackoffSession."""
    kc.reqsession = BackoffSession()
    return kc


@pytest.fixture
def kite(sim: Running) -> KiteConnect:
    """The official REST client, unchanged but backing off on 429, pointed at the simulator."""
    return polite(KiteConnect("sim_api_key", access_token="sim_access_token", root=sim.root))


def start_ticker(ticker: KiteTicker) -> None:
    """Connect a ticker on the shared reactor (run once, threaded; never stopped)."""
    if not reactor.running:
        ticker.connect(threaded=True)
    else:
        reactor.callFromThread(ticker.connect)


def close_ticker(ticker: KiteTicker) -> None:
    """Close one ticker without stopping the process-wide reactor."""
    reactor.callFromThread(ticker.close)


def wait_for(cond: Callable[[], Any], timeout: float = 15.0) -> None:
    """Poll `cond` until true (a readiness wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


class Collector:
    """Callbacks recording everything a KiteTicker sees."""

    def __init__(self) -> None:
        self.ticks: list[dict[str, Any]] = []
        self.errors: list[tuple[Any, Any]] = []
        self.opened = threading.Event()
        self.connects = 0
        self.closes: list[Any] = []

    def attach(self, t: KiteTicker, on_open: Callable[[KiteTicker], None] | None = None) -> None:
        def _open(ws: KiteTicker) -> None:
            self.connects += 1
            if on_open is not None:
                on_open(ws)
            self.opened.set()

        t.on_open = _open
        t.on_ticks = lambda ws, ticks: self.ticks.extend(ticks)
        t.on_error = lambda ws, code, reason: self.errors.append((code, reason))
        t.on_close = lambda ws, code, reason: self.closes.append((code, reason))


class Kit:
    """The helpers above as one fixture (test modules cannot import conftest)."""

    start = staticmethod(start_ticker)
    close = staticmethod(close_ticker)
    wait_for = staticmethod(wait_for)
    polite = staticmethod(polite)
    Collector = Collector
    day = DAY


@pytest.fixture
def kit() -> type[Kit]:
    """Reactor-sharing ticker helpers."""
    return Kit
