"""The feed's handle on the publisher process: a new universe sent while a cycle is in flight
neither deadlocks on the pipe nor loses that cycle's result."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime
from typing import Any

import numpy as np

from strikeboard.chain.snapshot import PricingParams
from strikeboard.feed.publisher import CycleResult, PublisherProcess
from strikeboard.market.calendar import IST

ROWS = 50_000  # a minute's chain rows at 9,000 instruments: far more than a pipe buffers


def test_a_universe_sent_during_a_cycle_waits_for_its_result_and_keeps_it() -> None:
    """As at a re-centre right after a minute closed: the publisher is writing a big result
    while the feed writes a big universe. Each used to wait for the other to read (the feed
    froze with 9,000 instruments over three underlyings)."""
    handle = PublisherProcess("redis://127.0.0.1:1/0", "t:", "NIFTY", PricingParams())
    feed_end, worker_end = multiprocessing.Pipe()
    handle._conn = feed_end  # the worker's end is served by the thread below, not a process
    received: list[Any] = []
    big_result = CycleResult(chain_rows=[(i, "NIFTY", 1.5) for i in range(ROWS)])

    def worker() -> None:
        received.append(worker_end.recv())  # the cycle
        worker_end.send(("done", big_result))  # blocks until the feed reads it
        received.append(worker_end.recv())  # the universe

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    now = datetime(2026, 11, 25, 10, 0, tzinfo=IST)
    assert handle.cycle(np.zeros((1, 1)), [0], now, ["2026-11-25T09:59:00+05:30"]) == []
    universe = [("contract", i) for i in range(ROWS)]  # pickled as is: size is what matters
    feed = threading.Thread(target=handle.set_universe, args=(universe, 1), daemon=True)
    feed.start()
    for t in (feed, thread):
        t.join(60)  # a deadlock detector only: the exchange itself takes milliseconds
        assert not t.is_alive(), "the feed and the publisher wait for each other"
    assert received[0][0] == "cycle" and received[1] == ("universe", universe)
    (result,) = handle.cycle(np.zeros((1, 1)), [], now)  # the result set_universe took in
    assert len(result.chain_rows) == ROWS
