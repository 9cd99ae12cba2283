"""The ingest pipeline: raw ticker payloads -> codec -> validation -> chain state -> records.

Two threads: ingest (decode, validate, apply to the chain state, write recent ticks and market
data to Redis: the tick-to-Redis path) and spool (group-committed, fsynced spool records for
the archiver). `LiveChain` is the chain state and its lock, shared with the cycle and the Kite
session. I/O: Redis and the spool.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strikeboard.chain.snapshot import market_document
from strikeboard.chain.state import ChainState, Field, Kind
from strikeboard.feed.records import CandleBuilder, CandleRow, to_tick_records
from strikeboard.market import codec
from strikeboard.market.universe import Instrument
from strikeboard.market.validation import TickValidator
from strikeboard.store.archiver import encode_ticks
from strikeboard.store.errors import HotStoreError, StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.spool import Spool
from strikeboard.store.ticks import TickArray

log = logging.getLogger("strikeboard.feed")

# Quote API fields -> chain state fields (gap fills and baselines).
_QUOTED = {Field.LTP: "last_price", Field.VOLUME: "volume", Field.OI: "oi"}


class HotLink:
    """Whether Redis is usable; the feed ingests on through a Redis outage."""

    def __init__(self, hot: HotStore) -> None:
        self.hot = hot
        self.ok = True
        self.errors = 0

    def down(self, exc: Exception) -> None:
        self.errors += 1
        if self.ok:
            log.error("Redis unavailable, ingesting on: %s", exc)
        self.ok = False

    def check(self) -> None:
        if not self.ok and self.hot.ping():
            self.ok = True
            log.info("Redis back")


class LiveChain:
    """The chain state of every followed underlying, its validator and the market candles,
    under one lock."""

    def __init__(self, underlyings: str | Sequence[str]) -> None:
        self.lock = threading.RLock()  # re-entrant: the feed swaps universes under it
        self.state = ChainState(underlyings)
        self.validator: TickValidator | None = None
        self.candles = CandleBuilder(set())
        self.pending_candles: list[CandleRow] = []
        self.changed = threading.Event()
        """Set when ticks have changed the state: the cycle prices them without waiting out
        its period."""

    def set_universe(self, instruments: tuple[Instrument, ...]) -> None:
        with self.lock:
            state = self.state
            state.set_universe(instruments)
            spots = {name: int(state.tokens[col]) for name, col in state.spot_columns.items()}
            # A call is capped by its own underlying's spot: the validator knows which that is.
            if self.validator is None or (spots and self.validator.spot_tokens != spots):
                self.validator = TickValidator(instruments, spot_tokens=spots or None)
            else:
                self.validator.set_universe(instruments)
            self.candles.tokens = {i.instrument_token for i in instruments if not i.is_option}

    def set_values(self, fields: Mapping[Field, Mapping[int, float]]) -> None:
        with self.lock:
            for name, values in fields.items():
                if values:
                    self.state.set_values(name, values)

    def apply_quotes(self, quotes: Iterable[Mapping[str, Any]]) -> int:
        """Quote API values (last price, volume, OI, best bid/ask) into the state; returns how
        many instruments had a price."""
        fields: dict[Field, dict[int, float]] = {
            f: {} for f in (*_QUOTED, Field.CLOSE, Field.BID, Field.ASK, Field.BID_QTY,
                            Field.ASK_QTY)
        }  # fmt: skip
        for q in quotes:
            if not q.get("last_price"):
                continue
            token = int(q["instrument_token"])
            for name, key in _QUOTED.items():
                if q.get(key) is not None:
                    fields[name][token] = float(q[key])
            close = (q.get("ohlc") or {}).get("close")
            if close:  # the previous session's close: change in price is measured from it
                fields[Field.CLOSE][token] = float(close)
            depth = q.get("depth") or {}
            for side, price_f, qty_f in (("buy", Field.BID, Field.BID_QTY),
                                         ("sell", Field.ASK, Field.ASK_QTY)):  # fmt: skip
                best = (depth.get(side) or [{}])[0]
                if best.get("price"):
                    fields[price_f][token] = float(best["price"])
                    fields[qty_f][token] = float(best.get("quantity") or 0)
        self.set_values(fields)
        return len(fields[Field.LTP])

    def take_candles(self, flush: bool = False) -> list[CandleRow]:
        with self.lock:
            rows, self.pending_candles = self.pending_candles, []
            if flush:
                rows += self.candles.flush()
        return rows


@dataclass
class IngestCounters:
    ticks: int = 0
    messages: int = 0
    bad_messages: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    last_tick_at: float = 0.0
    ingest_wait_ms: float = 0.0  # longest wait of a burst in the queue since the last health
    ingest_ms: float = 0.0  # longest processing of a burst since the last health


class Ingest:
    """Payloads in (from the ticker's reactor thread), chain state and tick records out."""

    def __init__(self, chain: LiveChain, link: HotLink, spool: Spool) -> None:
        self.chain = chain
        self.link = link
        self.spool = spool
        self.counters = IngestCounters()
        self._seq = 0
        self._queue: queue.SimpleQueue[tuple[bytes, float] | None] = queue.SimpleQueue()
        self._to_spool: queue.SimpleQueue[TickArray | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self, first_seq: int) -> None:
        """`first_seq`: tick identities continue after it (they never repeat across restarts)."""
        self._seq = first_seq
        for name, target in (("ingest", self._ingest_loop), ("spool", self._spool_loop)):
            thread = threading.Thread(target=target, name=f"feed-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Process what was received, then spool it (ingest hands its last records over)."""
        self._queue.put(None)
        if self._threads:
            self._threads[0].join(10)
            if self._threads[0].is_alive():  # ending the spool now would lose its last records
                log.warning("ingest still busy after 10 s; waiting for it")
                self._threads[0].join()
        self._to_spool.put(None)
        for thread in self._threads:
            thread.join(10)

    def put(self, payload: bytes, received: float) -> None:
        """Reactor thread: queue and return at once."""
        self._queue.put((payload, received))

    def _ingest_loop(self) -> None:
        # Hand the GIL over sooner (default 5 ms) so that a burst is not kept waiting behind
        # the cycle thread's work.
        sys.setswitchinterval(0.001)
        while True:
            items = [self._queue.get()]
            while True:  # take everything that is already waiting: one pass per burst
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            work = [i for i in items if i is not None]
            if work:
                started = time.time()
                try:
                    self._ingest(work)
                except Exception:  # a bug must cost one burst, not the feed
                    log.exception("ingest failed for a burst of %d messages", len(work))
                c = self.counters
                c.ingest_wait_ms = max(c.ingest_wait_ms, (started - work[0][1]) * 1000)
                c.ingest_ms = max(c.ingest_ms, (time.time() - started) * 1000)
            if None in items:
                return

    def _spool_loop(self) -> None:
        """Group commit: one spool record and one fsync for whatever ingest queued meanwhile,
        so the disk never sits on the live path."""
        while True:
            pending = [self._to_spool.get()]
            while True:
                try:
                    pending.append(self._to_spool.get_nowait())
                except queue.Empty:
                    break
            arrays = [a for a in pending if a is not None]
            if arrays:
                try:
                    self.spool.append(encode_ticks(np.concatenate(arrays)))
                except StoreError:
                    # The disk is the last line: without it ticks would be lost silently.
                    log.critical("spool write failed: %d ticks not spooled", sum(map(len, arrays)),
                                 exc_info=True)  # fmt: skip
            if any(a is None for a in pending):
                return

    def _decode(self, items: list[tuple[bytes, float]]) -> codec.TickBatch:
        batches: list[codec.TickBatch] = []
        for payload, _at in items:
            try:
                batch = codec.decode(payload)
            except codec.CodecError as exc:
                self.counters.bad_messages += 1
                log.warning("bad ticker message: %s", exc)
                batch = exc.partial
            batches.append(batch)
        self.counters.messages += len(items)
        return codec.TickBatch.concat(batches)

    def _ingest(self, items: list[tuple[bytes, float]]) -> None:
        batch = self._decode(items)
        if not len(batch):
            return
        received = min(at for _, at in items)
        chain = self.chain
        with chain.lock:
            assert chain.validator is not None, "ticks before the universe"
            result = chain.validator.validate(batch)
            for reason, count in result.rejected.items():
                if count:
                    self.counters.rejects[str(reason.name).lower()] += count
            if result.total_rejected:
                log.info(
                    "rejected ticks",
                    extra={
                        "counts": {r.name: c for r, c in result.rejected.items() if c},
                        "sample": result.sample.to_dicts()[:3],
                    },
                )
            accepted = result.accepted
            chain.state.apply(accepted)
            if len(accepted):
                chain.changed.set()
            self._update_candles(accepted)
            market: dict[str, Any] = {}
            for name in chain.state.take_market_moved():
                market.update(market_document(chain.state, name))
            market_moved = bool(market)
        if not len(accepted):
            return
        records = to_tick_records(accepted, self._seq + 1, received)
        self._seq += len(records)
        # Redis first: the live path should not wait for the spool's fsync; the spool write
        # follows at once, before the next burst is taken.
        try:
            if self.link.ok:
                try:
                    self.link.hot.append_ticks(records)
                    if market_moved:
                        self.link.hot.write_market(market)
                except HotStoreError as exc:
                    self.link.down(exc)
        finally:  # whatever happened on the live path, the ticks reach the archive
            self._to_spool.put(records)
        self.counters.ticks += len(records)
        self.counters.last_tick_at = time.time()

    def _update_candles(self, batch: codec.TickBatch) -> None:
        """Candles follow the market's clock only: a tick without an exchange timestamp (the
        subscribe-time quote packet) is left out by the builder, never given the wall clock."""
        chain = self.chain
        cols = chain.state.column_of(batch.instrument_token)
        market = (cols >= 0) & (chain.state.kind[np.maximum(cols, 0)] <= Kind.FUTURE)
        for i in np.flatnonzero(market):
            chain.pending_candles += chain.candles.update(
                int(batch.instrument_token[i]),
                float(batch.exchange_timestamp[i]),
                float(batch.last_price[i]),
                float(batch.volume_traded[i]),
                float(batch.oi[i]),
            )
