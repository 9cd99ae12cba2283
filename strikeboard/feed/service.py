"""The feed: Kite ticks in; a priced chain, market data and history out.

Threads, each with one job:
- the Twisted reactor (kiteconnect's KiteTicker) queues raw binary payloads, nothing more;
- ingest: decode (vectorised codec) -> validate -> chain state -> spool (durable) and Redis
  recent ticks, market data as soon as it arrives (tick-to-Redis latency is this path);
- cycle (every `cycle_ms`): price the expiries that changed, publish snapshots and deltas,
  write the chain minute rows as minutes close, re-centre the strike windows, write health;
- archiver: spool -> PostgreSQL, retried through outages.
The main thread owns start-up, token expiry and shutdown.
"""

from __future__ import annotations

import logging
import math
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from strikeboard.chain import conventions
from strikeboard.chain.snapshot import PricingParams, market_document
from strikeboard.chain.state import SPOT_TOKEN, ChainState, Field, Kind
from strikeboard.feed.publisher import CycleResult, PublisherProcess
from strikeboard.feed.records import CandleBuilder, to_tick_records
from strikeboard.kite.ticker import ShardState, ShardStatus, TickerShards
from strikeboard.market import codec
from strikeboard.market.universe import (
    Catalog,
    Universe,
    UniverseConfig,
    parse_instruments,
    recentre,
    select_universe,
    shard,
)
from strikeboard.market.validation import TickValidator
from strikeboard.store.archive import Archive
from strikeboard.store.archiver import Archiver, encode_minute, encode_ticks
from strikeboard.store.errors import HotStoreError, StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.spool import Spool
from strikeboard.store.ticks import TickArray

log = logging.getLogger("strikeboard.feed")

QUOTE_BATCH = 500

# Snapshot/market document keys a restarted feed takes back into its chain state.
_RESTORED = {
    Field.LTP: "ltp", Field.CLOSE: "close", Field.BID: "bid", Field.ASK: "ask",
    Field.BID_QTY: "bid_qty", Field.ASK_QTY: "ask_qty", Field.VOLUME: "volume", Field.OI: "oi",
    Field.OPEN: "open", Field.HIGH: "high", Field.LOW: "low", Field.EXCHANGE_TS: "ts",
}  # fmt: skip  # Kite's /quote takes at most 500 instruments per call


@dataclass(frozen=True)
class FeedConfig:
    api_key: str
    access_token: str
    api_url: str
    ticker_url: str
    redis_url: str
    database_url: str
    spool_dir: Path
    redis_prefix: str = "sb:"
    cycle_ms: int = 250
    universe: UniverseConfig = field(default_factory=UniverseConfig)
    pricing: PricingParams = field(default_factory=PricingParams)
    health_every_s: float = 1.0
    spool_fsync: bool = True
    log_level: str = "INFO"


@dataclass
class Counters:
    ticks: int = 0
    messages: int = 0
    bad_messages: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    gap_fills: int = 0
    cycles: int = 0
    last_cycle_ms: float = 0.0
    max_cycle_ms: float = 0.0
    last_tick_at: float = 0.0
    redis_errors: int = 0
    tick_rate: float = 0.0
    ingest_wait_ms: float = 0.0  # longest wait of a burst in the queue since the last health
    ingest_ms: float = 0.0  # longest processing of a burst since the last health


class Feed:
    """One feed process. `start()`, then `stop()` (flushes) from any thread."""

    def __init__(
        self,
        config: FeedConfig,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(conventions.IST),
        credentials: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        self.config = config
        self._now = now
        self._credentials = credentials
        self.kite = KiteConnect(
            config.api_key, access_token=config.access_token, root=config.api_url
        )
        self.hot = HotStore.from_url(config.redis_url, config.redis_prefix)
        self.archive = Archive(config.database_url, auto_migrate=True)
        self.spool = Spool(config.spool_dir, fsync=config.spool_fsync)
        # The archiver thread gets a connection of its own (an Archive is not thread-safe).
        self.archiver = Archiver(self.spool, Archive(config.database_url, auto_migrate=True))
        self.state = ChainState(config.universe.underlying)
        self.counters = Counters()
        self.token_state = "ok"
        self.catalog: Catalog | None = None
        self.universe: Universe | None = None
        self.validator: TickValidator | None = None
        self.shards: TickerShards | None = None
        self._shard_sets: tuple[frozenset[int], ...] = ()
        self._queue: queue.SimpleQueue[tuple[bytes, float] | None] = queue.SimpleQueue()
        self._to_spool: queue.SimpleQueue[TickArray | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seq = 0
        self.publisher = PublisherProcess(config.redis_url, config.redis_prefix,
                                          config.universe.underlying, config.pricing,
                                          config.log_level)  # fmt: skip
        self._redis_ok = True
        self._minute: int | None = None
        self._candles = CandleBuilder(set())
        self._pending_candles: list[tuple[Any, ...]] = []
        self._rate_window: tuple[float, int] = (time.monotonic(), 0)
        self._down_since: dict[int, float] = {}
        self._access_token = config.access_token

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load instruments, pick the universe, open the ticker shards and start the threads."""
        self._seq = self._first_seq()
        self.publisher.start()
        rows = self.kite.instruments("NFO") + self.kite.instruments("NSE")
        try:
            self.archive.upsert_instruments(rows)
        except StoreError as exc:
            log.warning("instruments not archived (PostgreSQL unavailable): %s", exc)
        self.catalog = Catalog(parse_instruments(rows), self.config.universe)
        spot = self._spot_from_rest()
        today = self._now().date()
        self.universe = select_universe(self.catalog, spot, today)
        self._set_universe(self.universe)
        self._restore_state()
        self._load_previous_oi()
        self.archiver.start()
        loops = (("ingest", self._ingest_loop), ("spool", self._spool_loop),
                 ("cycle", self._cycle_loop))  # fmt: skip
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"feed-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.shards = TickerShards(
            self.config.api_key,
            self.config.access_token,
            self.config.ticker_url,
            on_payload=self._on_payload,
            on_text=self._on_text,
            on_state=self._on_shard_state,
        )
        self.shards.assign(self._shard_sets)
        log.info(
            "feed started",
            extra={"instruments": len(self.universe.tokens), "shards": len(self._shard_sets)},
        )

    def stop(self, drain_timeout: float = 20.0) -> None:
        """Close the ticker, process what was received, spool it, and archive what we can."""
        if self.shards is not None:
            self.shards.close()
        self._queue.put(None)
        self._stop.set()
        if self._threads:  # ingest first: it hands its last records to the spool writer
            self._threads[0].join(10)
        self._to_spool.put(None)
        for thread in self._threads:
            thread.join(10)
        for result in self.publisher.stop():
            self._spool_minute(result)
        with self._lock:
            rows = self._pending_candles + self._candles.flush()
            self._pending_candles = []
        if rows:
            self.spool.append(encode_minute(candles=rows))
        if not self.archiver.wait_drained(drain_timeout):
            log.warning(
                "feed stopping with %s still spooled (archived on next start)", self.spool.lag()
            )
        self.archiver.stop()
        self.spool.close()
        self.archive.close()
        self.hot.close()

    def supervise(self) -> None:
        """Main-thread duty, about once a second: notice an expired Kite token, say so plainly,
        stop hammering Kite with refused handshakes, and resume when a new token appears."""
        if self.shards is None:
            return
        if self.token_state == "expired":
            self._try_new_token()
            return
        now = time.monotonic()
        for status in self.shards.status:
            if status.tokens and status.state != ShardState.CONNECTED:
                self._down_since.setdefault(status.shard, now)
            else:
                self._down_since.pop(status.shard, None)
        if not self._down_since or now - min(self._down_since.values()) < 3.0:
            return
        try:
            self.kite.ltp(["NSE:NIFTY 50"])
        except kite_errors.TokenException as exc:
            self.token_state = "expired"
            self.shards.close()
            log.error("Kite access token expired or revoked: waiting for a new one (%s)", exc)
        except Exception as exc:
            log.warning("Kite unreachable while shards are down: %s", exc)
        self._down_since.clear()

    def _try_new_token(self) -> None:
        if self.shards is None:
            return
        try:
            # A local login stores the token in Redis; the cloud one in Secrets Manager.
            token = self.hot.read_access_token() or ""
            if not token and self._credentials is not None:
                _api_key, token = self._credentials()
        except Exception as exc:
            log.warning("cannot read Kite credentials: %s", exc)
            return
        if not token or token == self._access_token:
            return
        self._access_token = token
        self.kite.set_access_token(token)
        self.token_state = "ok"
        self.shards.set_access_token(token)
        log.info("new Kite access token: reconnecting")

    # -- universe -----------------------------------------------------------------------------

    def _first_seq(self) -> int:
        """Tick identities never repeat across restarts: they start at the wall clock in
        microseconds (a feed ingests far fewer than a million ticks a second), or after the
        highest archived one if that is later (a clock set back)."""
        floor = int(time.time() * 1_000_000)
        try:
            return max(floor, self.archive.max_ingest_seq())
        except StoreError as exc:
            log.warning("PostgreSQL unavailable at start, spooling: %s", exc)
            return floor

    def _set_universe(self, universe: Universe) -> None:
        with self._lock:
            self.state.set_universe(universe.instruments)
            if self.validator is None:
                self.validator = TickValidator(universe.instruments)
            else:
                self.validator.set_universe(universe.instruments)
            market = {i.instrument_token for i in universe.instruments if not i.is_option}
            self._candles.tokens = market
            self.publisher.set_universe(universe.instruments, len(self.state.expiries))
        self._shard_sets = shard(
            universe.tokens,
            self._shard_sets,
            max_connections=self.config.universe.max_connections,
            per_connection=self.config.universe.per_connection,
        )

    def _restore_state(self) -> None:
        """A restarted feed starts from the last state it published to Redis, so the first
        cycles do not publish a chain with holes while the instruments' first ticks arrive."""
        try:
            restored = self.hot.load_state([self.config.universe.underlying])
        except StoreError as exc:
            log.warning("no hot state to restore: %s", exc)
            return
        fields: dict[Field, dict[int, float]] = {f: {} for f in _RESTORED}
        for document in restored.market.values():
            self._restore_values(fields, document, document.get("ts"))
        for document in restored.snapshots.values():
            for row in document.get("strikes", {}).values():
                for side in ("CE", "PE"):
                    if isinstance(row.get(side), dict):
                        self._restore_values(fields, row[side], document.get("ts"))
        with self._lock:
            for name, values in fields.items():
                if values:
                    self.state.set_values(name, values)
        log.info("restored from Redis", extra={"instruments": len(fields[Field.LTP])})

    @staticmethod
    def _restore_values(
        fields: dict[Field, dict[int, float]], doc: dict[str, Any], ts: Any
    ) -> None:
        token = doc.get("token")
        if not isinstance(token, int):
            return
        for name, key in _RESTORED.items():
            value = ts if key == "ts" else doc.get(key)
            if isinstance(value, int | float):
                fields[name][token] = float(value)

    def _spot_from_rest(self) -> float:
        data = self.kite.ltp(["NSE:NIFTY 50"])
        return float(data["NSE:NIFTY 50"]["last_price"])

    def _load_previous_oi(self) -> None:
        """OI change is against the previous session's close: Kite's quote gives today's OI
        only, so the close comes from our own archive, else from the quote's ohlc day."""
        assert self.universe is not None
        tokens = [i.instrument_token for i in self.universe.options]
        previous: dict[int, float] = {}
        try:
            previous.update(self.archive.previous_close_oi(tokens, self._now().date()))
        except StoreError as exc:
            log.warning("previous OI from PostgreSQL unavailable, asking Kite: %s", exc)
        missing = [t for t in tokens if t not in previous]
        if missing:
            previous.update(self._quote_previous_oi(missing))
        with self._lock:
            self.state.set_values(Field.OI_PREV, {t: float(v) for t, v in previous.items()})

    def _quote_previous_oi(self, tokens: list[int]) -> dict[int, float]:
        assert self.catalog is not None
        out: dict[int, float] = {}
        for quote in self._quotes(tokens):
            prev = quote.get("oi_prev_close")
            if prev is not None:
                out[int(quote["instrument_token"])] = float(prev)
        return out

    def _quotes(self, tokens: list[int]) -> list[dict[str, Any]]:
        assert self.catalog is not None
        names = {}
        for t in tokens:
            inst = self.catalog.by_token.get(t)
            if inst is not None:
                names[f"{inst.exchange}:{inst.tradingsymbol}"] = t
        out: list[dict[str, Any]] = []
        keys = list(names)
        for i in range(0, len(keys), QUOTE_BATCH):
            out.extend(self.kite.quote(keys[i : i + QUOTE_BATCH]).values())
        return out

    # -- reactor thread: as little as possible ------------------------------------------------

    def _on_payload(self, _shard: int, payload: bytes, received: float) -> None:
        self._queue.put((payload, received))

    def _on_text(self, shard_no: int, message: dict[str, Any]) -> None:
        if message.get("type") == "order":
            try:
                self.hot.publish_order(message)
            except HotStoreError as exc:
                self._redis_down(exc)
        elif message.get("type") == "error":
            log.warning("ticker error", extra={"shard": shard_no, "error": message.get("data")})

    def _on_shard_state(self, status: ShardStatus) -> None:
        log.info(
            "shard state",
            extra={"shard": status.shard, "state": status.state.value, "error": status.last_error},
        )

    # -- ingest thread ------------------------------------------------------------------------

    def _ingest_loop(self) -> None:
        # Hand the GIL over sooner (default 5 ms) so that a burst is not kept waiting behind
        # the cycle thread's pricing and JSON work.
        sys.setswitchinterval(0.001)
        while True:
            item = self._queue.get()
            items = [item]
            while True:  # take everything that is already waiting: one pass per burst
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in items
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
            if done:
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

    def _ingest(self, items: list[tuple[bytes, float]]) -> None:
        batches: list[codec.TickBatch] = []
        for payload, _at in items:
            try:
                batch = codec.decode(payload)
            except codec.CodecError as exc:
                self.counters.bad_messages += 1
                log.warning("bad ticker message: %s", exc)
                batch = exc.partial
            batches.append(batch)
        batch = codec.TickBatch.concat(batches)
        self.counters.messages += len(items)
        if not len(batch):
            return
        assert self.validator is not None
        with self._lock:
            result = self.validator.validate(batch)
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
            self.state.apply(accepted)
            self._update_candles(accepted)
            cols = self.state.column_of(accepted.instrument_token)
            market_moved = bool((self.state.kind[cols[cols >= 0]] <= Kind.FUTURE).any())
            market = market_document(self.state) if market_moved else {}
        if not len(accepted):
            return
        records = to_tick_records(accepted, self._seq + 1, min(at for _, at in items))
        self._seq += len(records)
        # Redis first: the live path should not wait for the spool's fsync; the spool write
        # follows at once, before the next burst is taken.
        if self._redis_ok:
            try:
                self.hot.append_ticks(records)
                if market_moved:
                    self.hot.write_market(market)
            except HotStoreError as exc:
                self._redis_down(exc)
        self._to_spool.put(records)
        self.counters.ticks += len(records)
        self.counters.last_tick_at = time.time()

    def _update_candles(self, batch: codec.TickBatch) -> None:
        cols = self.state.column_of(batch.instrument_token)
        market = (cols >= 0) & (self.state.kind[np.maximum(cols, 0)] <= Kind.FUTURE)
        for i in np.flatnonzero(market):
            # NaN (no exchange timestamp) is skipped by the builder, not given the wall clock.
            self._pending_candles += self._candles.update(
                int(batch.instrument_token[i]),
                float(batch.exchange_timestamp[i]),
                float(batch.last_price[i]),
                float(batch.volume_traded[i]),
                float(batch.oi[i]),
            )

    # -- cycle thread -------------------------------------------------------------------------

    def _cycle_loop(self) -> None:
        period = self.config.cycle_ms / 1000
        next_health = 0.0
        while not self._stop.wait(period):
            try:
                self._cycle()
            except Exception:
                log.exception("cycle failed")
            self.counters.cycles += 1
            if time.monotonic() >= next_health:
                next_health = time.monotonic() + self.config.health_every_s
                self._write_health()

    def _market_now(self) -> datetime:
        """The market's clock: the latest exchange timestamp seen (so a replay or a simulator
        running at another speed prices and buckets minutes in its own time), else the wall."""
        with self._lock:
            stamps = self.state.values[Field.EXCHANGE_TS]
            latest = float(np.nanmax(stamps)) if np.isfinite(stamps).any() else math.nan
        if math.isfinite(latest):
            return datetime.fromtimestamp(latest, conventions.IST)
        return self._now()

    def _cycle(self) -> None:
        now = self._market_now()
        with self._lock:  # held for a copy only: ingest must never wait on pricing
            ids = self.state.take_dirty()
            values = self.state.values.copy()
            spot = self.state.value(SPOT_TOKEN, Field.LTP)
        if not self._redis_ok and self.hot.ping():
            self._redis_ok = True
            log.info("Redis back")
        for result in self.publisher.cycle(values, ids, now, self._closed_minute(now)):
            self.counters.last_cycle_ms = result.elapsed_ms
            self.counters.max_cycle_ms = max(self.counters.max_cycle_ms, result.elapsed_ms)
            self._spool_minute(result)
        if math.isfinite(spot):
            self._maybe_recentre(spot, now.date())

    def _closed_minute(self, now: datetime) -> str | None:
        """The minute that just closed (its stamp), once, when the market clock leaves it."""
        minute = int(now.timestamp() // 60)
        if self._minute is None or minute == self._minute:
            self._minute = minute
            return None
        stamp = datetime.fromtimestamp(self._minute * 60, conventions.IST).isoformat()
        self._minute = minute
        return stamp

    def _spool_minute(self, result: CycleResult) -> None:
        with self._lock:
            candles = self._pending_candles if result.chain_rows else []
            if result.chain_rows:
                self._pending_candles = []
        if result.chain_rows or candles:
            self.spool.append(encode_minute(result.chain_rows, result.agg_rows, candles))

    def _maybe_recentre(self, spot: float, today: date) -> None:
        if self.catalog is None or self.universe is None:
            return
        move = recentre(self.catalog, self.universe, spot, today)
        if not move.to_subscribe and not move.to_unsubscribe:
            return
        self.universe = move.universe
        self._set_universe(move.universe)
        self._load_previous_oi()
        if self.shards is not None:
            self.shards.assign(self._shard_sets)
        log.info(
            "re-centred",
            extra={
                "spot": spot,
                "added": len(move.to_subscribe),
                "removed": len(move.to_unsubscribe),
            },
        )

    # -- Redis outage -------------------------------------------------------------------------

    def _redis_down(self, exc: Exception) -> None:
        self.counters.redis_errors += 1
        if self._redis_ok:
            log.error("Redis unavailable, ingesting on: %s", exc)
        self._redis_ok = False

    # -- health -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        now = time.time()
        start, count = self._rate_window
        if time.monotonic() - start >= 1.0:
            self.counters.tick_rate = (self.counters.ticks - count) / (time.monotonic() - start)
            self._rate_window = (time.monotonic(), self.counters.ticks)
        archiver = self.archiver.status()
        shards = self.shards.status if self.shards is not None else []
        c = self.counters
        return {
            "ts": now,
            "token": self.token_state,
            "shards": [
                {
                    "shard": s.shard,
                    "state": s.state.value,
                    "tokens": s.tokens,
                    "connects": s.connects,
                    "disconnects": s.disconnects,
                    "gaps": len(s.gaps),
                    "error": s.last_error,
                }
                for s in shards
            ],
            "connected": bool(shards)
            and all(s.state == ShardState.CONNECTED for s in shards if s.tokens),
            "last_tick_age_s": round(now - c.last_tick_at, 3) if c.last_tick_at else None,
            "ticks_per_s": round(c.tick_rate, 1),
            "ticks": c.ticks,
            "messages": c.messages,
            "bad_messages": c.bad_messages,
            "rejects": dict(c.rejects),
            "ingest_wait_ms": round(c.ingest_wait_ms, 2),
            "ingest_ms": round(c.ingest_ms, 2),
            "cycle_ms": round(c.last_cycle_ms, 2),
            "max_cycle_ms": round(c.max_cycle_ms, 2),
            "redis_ok": self._redis_ok,
            "archive": {
                "state": archiver.state,
                "lag_records": archiver.lag.records,
                "lag_bytes": archiver.lag.bytes,
                "lag_s": archiver.lag.seconds,
                "rows": archiver.archived_rows,
                "error": archiver.last_error,
            },
            "instruments": len(self.universe.tokens) if self.universe else 0,
            "gap_fills": c.gap_fills,
        }

    def _write_health(self) -> None:
        self._fill_gaps()
        if not self._redis_ok:
            return
        try:
            health = self.health()
            self.counters.ingest_wait_ms = self.counters.ingest_ms = 0.0
            self.hot.write_health(health)
        except HotStoreError as exc:
            self._redis_down(exc)

    # -- recovery -----------------------------------------------------------------------------

    def _apply_quotes(self, quotes: list[dict[str, Any]]) -> int:
        """Quote API values (last price, volume, OI, best bid/ask) into the chain state."""
        quoted = (Field.LTP, Field.VOLUME, Field.OI, Field.BID, Field.ASK, Field.BID_QTY,
                  Field.ASK_QTY)  # fmt: skip
        fields: dict[Field, dict[int, float]] = {f: {} for f in quoted}
        for q in quotes:
            token = int(q["instrument_token"])
            if not q.get("last_price"):
                continue
            fields[Field.LTP][token] = float(q["last_price"])
            for name, key in ((Field.VOLUME, "volume"), (Field.OI, "oi")):
                if q.get(key) is not None:
                    fields[name][token] = float(q[key])
            depth = q.get("depth") or {}
            for side, price_f, qty_f in (("buy", Field.BID, Field.BID_QTY),
                                         ("sell", Field.ASK, Field.ASK_QTY)):  # fmt: skip
                best = (depth.get(side) or [{}])[0]
                if best.get("price"):
                    fields[price_f][token] = float(best["price"])
                    fields[qty_f][token] = float(best.get("quantity") or 0)
        with self._lock:
            for name, values in fields.items():
                if values:
                    self.state.set_values(name, values)
        return len(fields[Field.LTP])

    def _fill_gaps(self) -> None:
        """After a reconnect, the ticks missed while down are gone: fetch the current quotes of
        that shard's instruments so the chain is whole again at once."""
        if self.shards is None:
            return
        for status, tokens in zip(self.shards.status, self._shard_sets, strict=False):
            if len(status.gaps) <= status.gaps_filled:
                continue
            status.gaps_filled = len(status.gaps)
            try:
                quotes = self._quotes(sorted(tokens))
            except kite_errors.TokenException:
                self.token_state = "expired"
                continue
            except Exception as exc:
                log.warning("gap fill failed: %s", exc)
                continue
            filled = self._apply_quotes(quotes)
            self.counters.gap_fills += 1
            start, end = status.gaps[-1]
            down, up = (_ist(t) for t in (start, end))
            gap = (status.shard, down, up, len(tokens), filled)
            self.spool.append(encode_minute(gaps=[gap]))
            log.info(
                "gap filled from quotes",
                extra={
                    "shard": status.shard,
                    "gap_s": round(end - start, 3),
                    "instruments": filled,
                },
            )


def _ist(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, conventions.IST).isoformat()
