"""The feed's cycle thread: hand the changed expiries to the publisher process, spool the minute
rows as minutes close, re-centre the strike windows, and call `on_second` about once a second
(gap fills, health). I/O: the publisher process (Redis) and the spool.

A cycle runs as soon as ticks have changed the chain (`SETTLE_S` later, so the rest of a burst of
frames lands with it) and the publisher is free, but at most once every `cycle_ms`; with nothing
ticking, once every two periods (minutes still close, health still runs). A tick so waits for at
most one period, and never for a period plus a busy publisher's remainder plus another period.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from strikeboard.chain.state import Field
from strikeboard.feed.alerts import ALERT_COUNTS
from strikeboard.feed.ingest import HotLink, LiveChain
from strikeboard.feed.publisher import CycleResult, PublisherProcess
from strikeboard.market.calendar import IST
from strikeboard.store.archiver import encode_minute
from strikeboard.store.spool import Spool

log = logging.getLogger("strikeboard.feed")

SETTLE_S = 0.01
"""After the first ticks of a burst, how long the cycle waits for the rest of its frames."""


@dataclass
class CycleCounters:
    cycles: int = 0
    last_cycle_ms: float = 0.0
    last_cycle_cpu_ms: float = 0.0
    """The publisher's CPU time in the last cycle (wall time also counts waits)."""
    max_cycle_ms: float = 0.0
    underlying_ms: dict[str, float] = field(default_factory=dict)
    """Per underlying, the time the last cycle that priced it spent on its expiries."""
    underlying_cpu_ms: dict[str, float] = field(default_factory=dict)
    """Per underlying, the publisher's CPU time on its expiries in that cycle."""
    alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALERT_COUNTS, 0))
    """The alert evaluator's counters since the feed started (all publisher processes)."""
    alert_rules: int | None = None
    """Rules the evaluator holds (None: no evaluator, or no cycle yet)."""


class Cycle:
    def __init__(
        self,
        chain: LiveChain,
        publisher: PublisherProcess,
        spool: Spool,
        link: HotLink,
        *,
        cycle_ms: int,
        now: Callable[[], datetime],
        on_spot: Callable[[dict[str, float], datetime], None],
        on_second: Callable[[], None],
    ) -> None:
        self.chain = chain
        self.publisher = publisher
        self.spool = spool
        self.link = link
        self.counters = CycleCounters()
        self._period = cycle_ms / 1000
        self._now = now
        self._on_spot = on_spot
        self._on_second = on_second
        self._minute: int | None = None
        self._not_before: datetime | None = None
        self._close_requested = threading.Event()
        self.paused = False
        """After the close: no minutes are counted until the next session's refresh resumes
        them; only what still changes (a previous close arriving late) is priced again."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="feed-cycle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop cycling, then take the publisher's last minute rows and the open candles."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for result in self.publisher.stop():
            self.spool_minute(result)
        rows = self.chain.take_candles(flush=True)
        if rows:
            self.spool.append(encode_minute(candles=rows))

    def close_session(self) -> None:
        """At the close: the next cycle publishes the last minute's rows and the open candles,
        then minutes pause (after 15:30 nothing changes but the clock)."""
        self._close_requested.set()

    def resume(self, session_start: datetime) -> None:
        """A new session: minutes are counted from its first tick. Until one arrives the
        market clock still reads the last session's close, and a minute stamped then must
        not be written again with this session's values."""
        self._minute = None
        self._not_before = session_start
        self.paused = False

    def market_now(self) -> datetime:
        """The market's clock: the latest exchange timestamp seen (so a replay or a simulator
        running at another speed prices and buckets minutes in its own time), else the wall."""
        with self.chain.lock:
            stamps = self.chain.state.values[Field.EXCHANGE_TS]
            latest = float(np.nanmax(stamps)) if np.isfinite(stamps).any() else math.nan
        if math.isfinite(latest):
            return datetime.fromtimestamp(latest, IST)
        return self._now()

    def _wait_for_work(self, started: float) -> bool:
        """Wait for the next cycle's moment; False once stopped."""
        if self._stop.wait(max(0.0, started + self._period - time.monotonic())):
            return False
        if self.chain.changed.wait(self._period):
            self._stop.wait(SETTLE_S)
        self.chain.changed.clear()  # before `take_dirty`: a later tick sets it again
        self.publisher.wait_idle(self._period)
        return not self._stop.is_set()

    def _loop(self) -> None:
        next_second = 0.0
        started = -math.inf
        while self._wait_for_work(started):
            started = time.monotonic()
            try:
                self._cycle()
            except Exception:
                log.exception("cycle failed")
            self.counters.cycles += 1
            if time.monotonic() >= next_second:
                next_second = time.monotonic() + 1.0
                try:
                    self._on_second()
                except Exception:
                    log.exception("health failed")

    def _cycle(self) -> None:
        closing = self._close_requested.is_set()
        idle = self.paused and not closing  # still collects what the publisher sends back
        now = self.market_now()
        with self.chain.lock:  # held for a copy only: ingest must never wait on pricing
            # Even after the close: a baseline that lands late (a strike added just before
            # 15:30) must still correct that leg's change in OI on screen.
            ids = self.chain.state.take_dirty()
            values = self.chain.state.values.copy()
            spots = self.chain.state.spots()
        self.link.check()
        minutes = [] if idle else [m for m in (self._closed_minute(now),) if m]
        if closing:  # and the session's last minute, which no later tick will close
            minutes += [m for m in (self._last_minute(),) if m]
        for result in self.publisher.cycle(values, ids, now, minutes):
            c = self.counters
            c.last_cycle_ms = result.elapsed_ms
            c.last_cycle_cpu_ms = result.cpu_ms
            c.underlying_cpu_ms.update(result.underlying_cpu_ms)
            c.max_cycle_ms = max(c.max_cycle_ms, result.elapsed_ms)
            c.underlying_ms.update(result.underlying_ms)
            for name, gained in result.alerts.items():
                c.alerts[name] = c.alerts.get(name, 0) + gained
            c.alert_rules = result.alert_rules
            self.spool_minute(result)
        if closing:
            rows = self.chain.take_candles(flush=True)
            if rows:
                self.spool.append(encode_minute(candles=rows))
            self._close_requested.clear()
            self.paused = True
        elif not idle and all(math.isfinite(s) for s in spots.values()):
            self._on_spot(spots, now)

    def _closed_minute(self, now: datetime) -> str | None:
        """The minute that just closed (its stamp), once, when the market clock leaves it."""
        if self._not_before is not None and now < self._not_before:
            return None  # the previous session's clock: this session has not ticked yet
        minute = int(now.timestamp() // 60)
        if self._minute is None or minute == self._minute:
            self._minute = minute
            return None
        stamp = datetime.fromtimestamp(self._minute * 60, IST).isoformat()
        self._minute = minute
        return stamp

    def _last_minute(self) -> str | None:
        """The session's last open minute (no later tick will close it)."""
        minute, self._minute = self._minute, None
        if minute is None:
            return None
        return datetime.fromtimestamp(minute * 60, IST).isoformat()

    def spool_minute(self, result: CycleResult) -> None:
        candles = self.chain.take_candles() if result.chain_rows else []
        if result.chain_rows or candles:
            self.spool.append(encode_minute(result.chain_rows, result.agg_rows, candles))
