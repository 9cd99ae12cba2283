"""Pricing and publishing the chain, in a process of its own.

Pricing every expiry, building the snapshot documents and diffing them is Python work that
would hold the GIL against the ingest thread (whose tick-to-Redis latency it would add to); in
its own process it also gets the second core. The feed sends the universe once and then, each
cycle, a copy of the value matrix with the expiries that changed; the publisher prices them,
publishes snapshots and deltas to Redis, and at each minute close returns the minute's chain
rows for the feed to spool. `ChainPublisher` is the logic; `PublisherProcess` runs it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strikeboard.chain import document
from strikeboard.chain.document import Chain, ChainDocument
from strikeboard.chain.snapshot import PricingParams, expiry_chain
from strikeboard.chain.state import ChainState, Contract
from strikeboard.feed import alert_email
from strikeboard.feed.alerts import AlertEvaluator, AlertsConfig, maybe_start, stop_quietly
from strikeboard.logs import configure_logging
from strikeboard.store import archive
from strikeboard.store.errors import HotStoreError, StoreError
from strikeboard.store.hot import HotStore

log = logging.getLogger("strikeboard.feed.publisher")

Row = tuple[Any, ...]


@dataclass
class CycleResult:
    elapsed_ms: float = 0.0
    cpu_ms: float = 0.0
    """The publisher process's CPU time in the cycle (`elapsed_ms` also counts waits: Redis,
    and the other processes on a busy machine)."""
    underlying_ms: dict[str, float] = field(default_factory=dict)
    """Of `elapsed_ms`, the time spent pricing and publishing each underlying's expiries."""
    underlying_cpu_ms: dict[str, float] = field(default_factory=dict)
    """Of `cpu_ms`, each underlying's."""
    published: int = 0
    redis_ok: bool = True
    alerts: dict[str, int] = field(default_factory=dict)
    """The alert evaluator's counters gained since the last result (`ALERT_COUNTS`)."""
    alert_rules: int | None = None
    """Rules the evaluator holds (None: no evaluator)."""
    chain_rows: list[Row] = field(default_factory=list)  # store.archive.CHAIN_COLUMNS order
    agg_rows: list[Row] = field(default_factory=list)  # CHAIN_AGG_COLUMNS order


class ChainPublisher:
    """Prices dirty expiries and publishes them; keeps the last document of each
    (underlying, expiry)."""

    def __init__(
        self, hot: HotStore, underlyings: str | Sequence[str], pricing: PricingParams
    ) -> None:
        self.hot = hot
        self.pricing = pricing
        self.state = ChainState(underlyings)
        self.published: dict[tuple[str, str], Chain] = {}
        """The last chain of each (underlying, expiry): the next one's delta is taken from it."""
        self.redis_ok = True
        self.alerts: AlertEvaluator | None = None
        self.subscriptions: alert_email.SubscriptionWorker | None = None
        """Evaluates the users' alert rules on each cycle's documents (docs/alerts.md)."""

    def restore(self) -> None:
        """A restarted feed continues the seqs (and clients' deltas) where Redis has them."""
        try:
            restored = self.hot.load_state([u.name for u in self.state.underlyings])
        except StoreError as exc:
            log.warning("no hot state to restore: %s", exc)
            return
        for key, snapshot in restored.snapshots.items():
            self.published[key] = document.from_document(snapshot)

    def set_universe(self, contracts: Sequence[Contract]) -> None:
        self.state.set_universe(contracts)
        live = {(i.underlying, i.expiry.isoformat()) for i in self.state.expiries}
        for underlying, expiry in set(self.published) - live:
            del self.published[(underlying, expiry)]
            if self.redis_ok:
                try:
                    self.hot.retire_expiry(underlying, expiry)
                except HotStoreError as exc:
                    self._redis_down(exc)

    def cycle(
        self, values: NDArray[np.float64], dirty: Sequence[int], now: datetime,
        minutes: Sequence[str] = (),
    ) -> CycleResult:  # fmt: skip
        """Price and publish the dirty expiries; then the chain rows of each minute in
        `minutes` that closed since the last cycle (more than one only when a cycle took
        longer than a market minute: each gets the chain as it stands now, none is lost)."""
        started, cpu_started = time.perf_counter(), time.process_time()
        self.state.values = values
        if not self.redis_ok and self.hot.ping():
            self._redis_back()
        result = CycleResult()
        priced: list[ChainDocument] = []
        for i in dirty:
            expiry_started, expiry_cpu = time.perf_counter(), time.process_time()
            name = self.state.expiries[i].underlying
            priced_doc = self._price_and_publish(i, now, result)
            if priced_doc is not None:
                priced.append(priced_doc)
            spent = (time.perf_counter() - expiry_started) * 1000
            cpu = (time.process_time() - expiry_cpu) * 1000
            result.underlying_ms[name] = result.underlying_ms.get(name, 0.0) + spent
            result.underlying_cpu_ms[name] = result.underlying_cpu_ms.get(name, 0.0) + cpu
        if self.alerts is not None and priced:  # after publishing: alerts never delay the chain
            self.alerts.observe(priced, now)
        if self.alerts is not None:
            result.alerts = self.alerts.take_counts()
            result.alert_rules = self.alerts.stats.rules
        if self.subscriptions is not None:
            result.alerts.update(self.subscriptions.take_counts())
        for stamp in minutes:
            chain_rows, agg_rows = self.minute_rows(stamp)
            result.chain_rows += chain_rows
            result.agg_rows += agg_rows
        result.redis_ok = self.redis_ok
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        result.cpu_ms = (time.process_time() - cpu_started) * 1000
        return result

    def _price_and_publish(
        self, index: int, now: datetime, result: CycleResult
    ) -> ChainDocument | None:
        expiry = self.state.expiries[index]
        key = (expiry.underlying, expiry.expiry.isoformat())
        previous = self.published.get(key)
        built = expiry_chain(self.state, expiry, now, self.pricing, previous)
        if built is None:
            return None
        chain, delta = built
        if self.redis_ok:
            before = document.as_json(previous.document) if previous is not None else None
            try:
                self.hot.publish(document.as_json(chain.document), before, delta)
                result.published += 1
            except HotStoreError as exc:
                self._redis_down(exc)
        self.published[key] = chain
        return chain.document

    def minute_rows(self, stamp: str) -> tuple[list[Row], list[Row]]:
        """The chain as it stood at the close of the minute `stamp`, for the archive."""
        chain_rows: list[Row] = []
        agg_rows: list[Row] = []
        for chain in self.published.values():
            agg_rows.append(archive.aggregate_row(chain.document, stamp))
            chain_rows += archive.chain_rows(chain, stamp)
        return chain_rows, agg_rows

    def _redis_down(self, exc: Exception) -> None:
        if self.redis_ok:
            log.error("Redis unavailable, pricing on: %s", exc)
        self.redis_ok = False

    def _redis_back(self) -> None:
        try:
            self.hot.rebuild([document.as_json(c.document) for c in self.published.values()])
        except HotStoreError as exc:
            self._redis_down(exc)
            return
        self.redis_ok = True
        log.info("Redis back: snapshots rebuilt")


def _worker(conn: Connection, redis_url: str, prefix: str, underlyings: Sequence[str],
            pricing: PricingParams, log_level: str,
            alerts: AlertsConfig | None = None) -> None:  # fmt: skip
    configure_logging(log_level, "strikeboard-feed-publisher")
    publisher = ChainPublisher(HotStore.from_url(redis_url, prefix), underlyings, pricing)
    publisher.restore()
    publisher.alerts = maybe_start(alerts)
    # The users' e-mail subscriptions (the API cannot reach SNS): a thread of its own.
    subscriptions = (alert_email.maybe_start(alerts.database_url, alerts.topic_arn)
                     if alerts is not None else None)  # fmt: skip
    publisher.subscriptions = subscriptions
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the feed is gone
            stop_quietly(publisher.alerts)
            alert_email.stop_quietly(subscriptions)
            return
        kind = message[0]
        if kind == "stop":
            stop_quietly(publisher.alerts)  # records what it decided (a few seconds at most)
            alert_email.stop_quietly(subscriptions)
            conn.send(("stopped",))
            return
        try:
            if kind == "universe":
                publisher.set_universe(message[1])
                continue
            _, values, dirty, now, minutes = message
            conn.send(("done", publisher.cycle(values, dirty, now, minutes)))
        except Exception:  # one bad cycle must not end the publisher
            log.exception("publisher cycle failed")
            conn.send(("done", CycleResult(redis_ok=publisher.redis_ok)))


class PublisherProcess:
    """The feed's handle on the publisher process. Cycles never queue up: while one is being
    priced, the next one's dirty expiries accumulate and go out together."""

    def __init__(self, redis_url: str, prefix: str, underlyings: str | Sequence[str],
                 pricing: PricingParams, log_level: str = "INFO",
                 alerts: AlertsConfig | None = None) -> None:  # fmt: skip
        """``alerts``: evaluate the users' alert rules in the process (None: no alerts)."""
        names = (underlyings,) if isinstance(underlyings, str) else tuple(underlyings)
        self._args = (redis_url, prefix, names, pricing, log_level, alerts)
        self._ctx = multiprocessing.get_context("spawn")
        self._conn: Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._universe: list[Contract] = []
        self._expiries = 0
        self._busy = False
        self._pending: set[int] = set()
        self._minutes: list[str] = []
        self._held: list[CycleResult] = []
        """Results taken in by `set_universe`, handed out by the next `cycle`."""
        self._lock = threading.Lock()
        self.restarts = 0

    def start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker, args=(child, *self._args),
                                       name="feed-publisher", daemon=True)  # fmt: skip
        self._proc.start()
        child.close()
        self._conn = parent
        self._busy = False
        if self._universe:
            parent.send(("universe", self._universe))

    def set_universe(self, contracts: Sequence[Contract], expiries: int) -> None:
        """A new universe: its `expiries` are all dirty (their columns moved)."""
        with self._lock:
            self._universe = list(contracts)
            self._expiries = expiries
            self._pending = set(range(expiries))
            if self._conn is not None:
                # The cycle in flight first: its result (a minute's rows can be megabytes) and
                # this universe would otherwise each wait, in a full pipe, for the other side
                # to read.
                self._held += self._finish_cycle_in_flight()
                self._conn.send(("universe", self._universe))

    def _finish_cycle_in_flight(self) -> list[CycleResult]:
        results: list[CycleResult] = []
        while self._busy and self._conn is not None:
            if self._proc is not None and not self._proc.is_alive():
                break  # `cycle` restarts it (and sends it the universe)
            try:
                if not self._conn.poll(1.0):
                    continue
                message = self._conn.recv()
            except (OSError, EOFError):
                break  # a dead process: `cycle` restarts it
            if message[0] == "done":
                results.append(message[1])
                self._busy = False
        return results

    def cycle(self, values: NDArray[np.float64], dirty: Sequence[int], now: datetime,
              minutes: Sequence[str] = ()) -> list[CycleResult]:  # fmt: skip
        """Send a cycle unless one is in flight; returns the results that came back. Closed
        minutes queue while a cycle is in flight, so none is skipped."""
        with self._lock:
            results = self._collect()
            self._pending.update(dirty)
            self._minutes += minutes
            if self._busy or self._conn is None or not (self._pending or self._minutes):
                return results
            self._conn.send(("cycle", values, sorted(self._pending), now, self._minutes))
            self._pending.clear()
            self._minutes = []
            self._busy = True
            return results

    def wait_idle(self, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, for the cycle in flight to come back: the next one
        goes out as soon as the publisher is free, not a whole period later."""
        with self._lock:
            conn, busy = self._conn, self._busy
        if busy and conn is not None:
            with contextlib.suppress(OSError, EOFError):  # a dead process: `cycle` restarts it
                conn.poll(timeout)

    def _collect(self) -> list[CycleResult]:
        results, self._held = self._held, []
        if self._proc is not None and not self._proc.is_alive():
            log.error("publisher process died (exit %s): restarting", self._proc.exitcode)
            self.restarts += 1
            self._pending = set(range(self._expiries))  # a new process knows nothing yet
            self.start()
            return results
        assert self._conn is not None
        while self._conn.poll():
            message = self._conn.recv()
            if message[0] == "done":
                results.append(message[1])
                self._busy = False
        return results

    def stop(self, timeout: float = 10.0) -> list[CycleResult]:
        """Let the cycle in flight finish (its minute rows are returned), then stop."""
        with self._lock:
            if self._conn is None or self._proc is None:
                return []
            results: list[CycleResult] = []
            deadline = time.monotonic() + timeout
            while self._busy and time.monotonic() < deadline:
                if self._conn.poll(0.05):
                    message = self._conn.recv()
                    if message[0] == "done":
                        results.append(message[1])
                        self._busy = False
            self._conn.send(("stop",))
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.kill()
            self._conn.close()
            self._conn = None
            return results
