"""The feed's cycle thread prices what ticks changed without waiting out its period."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from strikeboard.feed.cycle import Cycle
from strikeboard.feed.ingest import HotLink, LiveChain
from strikeboard.feed.publisher import CycleResult
from strikeboard.market.calendar import IST
from strikeboard.store.hot import HotStore
from strikeboard.store.spool import Spool

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=IST)


class RecordingPublisher:
    """Stands in for the publisher process: notes each cycle it is handed."""

    def __init__(self) -> None:
        self.cycles = 0
        self.sent = threading.Event()

    def cycle(self, values: NDArray[np.float64], dirty: Sequence[int], now: datetime,
              minutes: Sequence[str] = ()) -> list[CycleResult]:  # fmt: skip
        self.cycles += 1
        self.sent.set()
        return []

    def wait_idle(self, timeout: float) -> None:
        return None

    def stop(self) -> list[CycleResult]:
        return []


def test_ticks_are_priced_at_once_not_a_period_later(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """With a 60 s period a cycle that waited out its period would not run for a minute; one
    that follows the ticks runs as soon as they change the chain."""
    chain = LiveChain("NIFTY")
    publisher = RecordingPublisher()
    hot = HotStore.from_url(redis_url, redis_prefix)
    cycle = Cycle(chain, publisher, Spool(tmp_path / "spool"), HotLink(hot),  # type: ignore[arg-type]
                  cycle_ms=60_000, now=lambda: NOW, on_spot=lambda _s, _n: None,
                  on_second=lambda: None)  # fmt: skip
    cycle.start()
    try:
        chain.changed.set()  # what ingest does once ticks are applied
        assert publisher.sent.wait(50), "no cycle followed the ticks"  # the period is 60 s
        assert publisher.cycles == 1
        assert not chain.changed.is_set()  # taken by that cycle
    finally:
        cycle.stop()
        hot.close()


class ResultsPublisher(RecordingPublisher):
    """Hands back the given results, one list a cycle."""

    def __init__(self, *results: list[CycleResult]) -> None:
        super().__init__()
        self.results = list(results)

    def cycle(self, values: NDArray[np.float64], dirty: Sequence[int], now: datetime,
              minutes: Sequence[str] = ()) -> list[CycleResult]:  # fmt: skip
        super().cycle(values, dirty, now, minutes)
        return self.results.pop(0)


def test_the_alert_counters_add_up_over_results_and_publisher_restarts(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """Each result carries what the evaluator's counters gained since the last one (a
    restarted publisher process starts again from 0): the feed's health sums them."""
    gained = {"evaluated": 10, "fired": 1, "pushed": 1, "emailed": 0, "failed": 0, "dropped": 0}
    later = {**gained, "evaluated": 4, "fired": 0, "pushed": 0, "failed": 1}
    publisher = ResultsPublisher(
        [CycleResult(alerts=gained, alert_rules=3), CycleResult(alerts=later, alert_rules=3)],
        [], [CycleResult(alerts=gained, alert_rules=2)],
    )  # fmt: skip
    hot = HotStore.from_url(redis_url, redis_prefix)
    cycle = Cycle(LiveChain("NIFTY"), publisher, Spool(tmp_path / "spool"),  # type: ignore[arg-type]
                  HotLink(hot), cycle_ms=1000, now=lambda: NOW, on_spot=lambda _s, _n: None,
                  on_second=lambda: None)  # fmt: skip
    try:
        for _ in range(3):
            cycle._cycle()
        assert cycle.counters.alerts == {"evaluated": 24, "fired": 2, "pushed": 2,
                                         "emailed": 0, "failed": 1, "dropped": 0,
                                         "subscriptions_done": 0,
                                         "subscriptions_failed": 0}  # fmt: skip
        assert cycle.counters.alert_rules == 2
    finally:
        hot.close()
