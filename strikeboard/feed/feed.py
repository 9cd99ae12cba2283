"""The feed: Kite ticks in; a priced chain, market data and history out.

`Feed` wires its parts, each with one job: the ticker shards (sockets, watchdog, subscriptions),
`Ingest` (payload -> chain state -> Redis and the spool), `Cycle` (pricing and publishing,
minute rows, re-centring, health each second), `KiteSession` (REST: instruments, gap fills, OI
baselines, the token) and the archiver (spool -> PostgreSQL). The adapters are built by
`feed_container.factory` and passed in. The main thread calls `supervise()` once a second.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from strikeboard.chain.snapshot import PricingParams
from strikeboard.chain.state import Field
from strikeboard.feed.alerts import AlertsConfig
from strikeboard.feed.cycle import Cycle
from strikeboard.feed.day import DayAction, DayLifecycle, DayPlan
from strikeboard.feed.health import FeedView, health_document
from strikeboard.feed.ingest import HotLink, Ingest, LiveChain
from strikeboard.feed.kite_session import KiteSession
from strikeboard.feed.publisher import PublisherProcess
from strikeboard.kite.rest import KiteRest
from strikeboard.kite.ticker import ShardState, TickerPolicy, TickerShards
from strikeboard.market.calendar import IST, PRE_OPEN
from strikeboard.market.universe import Universe, UniverseConfig, recentre, select_universe, shard
from strikeboard.store.archive import Archive
from strikeboard.store.archiver import Archiver
from strikeboard.store.errors import HotStoreError, StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.spool import Spool

log = logging.getLogger("strikeboard.feed")

# Snapshot/market document keys a restarted feed takes back into its chain state.
_RESTORED = {
    Field.LTP: "ltp", Field.CLOSE: "close", Field.BID: "bid", Field.ASK: "ask",
    Field.BID_QTY: "bid_qty", Field.ASK_QTY: "ask_qty", Field.VOLUME: "volume", Field.OI: "oi",
    Field.OPEN: "open", Field.HIGH: "high", Field.LOW: "low", Field.EXCHANGE_TS: "ts",
}  # fmt: skip


@dataclass(frozen=True)
class FeedConfig:
    api_key: str
    access_token: str
    """The token to start with; empty: the feed waits for one (`read_token`) before any call."""
    api_url: str
    ticker_url: str
    redis_url: str
    database_url: str
    spool_dir: Path
    redis_prefix: str = "sb:"
    cycle_ms: int = 250
    universe: UniverseConfig = field(default_factory=UniverseConfig)
    pricing: PricingParams = field(default_factory=PricingParams)
    ticker: TickerPolicy = field(default_factory=TickerPolicy)
    day: DayPlan = field(default_factory=DayPlan)
    token_probe_s: float = 60.0
    """How often an idle feed asks Kite whether its token still works (Kite keeps sockets open
    when it expires at 06:00)."""
    spool_fsync: bool = True
    spool_owner: str = ""
    """Who this feed is, written in the spool's lock file (the ECS task ARN in the cloud)."""
    spool_lock_wait_s: float = 0.0
    """How long to wait for another feed to release the spool before refusing it."""
    log_level: str = "INFO"
    alerts: AlertsConfig | None = None
    """The users' alert rules, evaluated in the publisher process (None: no alerts)."""


@dataclass
class FeedAdapters:
    """The feed's connections to the world, built once by the factory."""

    rest: KiteRest
    hot: HotStore
    archive: Archive
    """For the session (previous OI, instruments); the archiver has a connection of its own."""
    archiver: Archiver
    spool: Spool
    publisher: PublisherProcess


class Feed:
    """One feed process. `start()`, `supervise()` each second, then `stop()` (flushes)."""

    def __init__(
        self,
        config: FeedConfig,
        adapters: FeedAdapters,
        *,
        now: Callable[[], datetime],
        read_token: Callable[[], str],
        market_open: Callable[[datetime], bool],
        is_trading_day: Callable[[date], bool],
    ) -> None:
        self.config = config
        self.adapters = adapters
        self._now = now
        self._market_open = market_open
        self.names = [u.name for u in config.universe.underlyings]
        self.chain = LiveChain(self.names)
        self.link = HotLink(adapters.hot)
        self.ingest = Ingest(self.chain, self.link, adapters.spool)
        self.cycle = Cycle(
            self.chain, adapters.publisher, adapters.spool, self.link,
            cycle_ms=config.cycle_ms, now=now, on_spot=self._maybe_recentre,
            on_second=self._each_second,
        )  # fmt: skip
        self.shards = TickerShards(
            config.api_key, config.access_token, config.ticker_url,
            on_payload=lambda _shard, payload, at: self.ingest.put(payload, at),
            on_text=self._on_text, policy=config.ticker,
            expect_data=lambda: market_open(now()),
        )  # fmt: skip
        self.session = KiteSession(
            adapters.rest, adapters.archive, adapters.spool, self.chain,
            today=lambda: self.session_day, read_token=read_token,
            on_token=self.shards.set_access_token,
            probe_every_s=config.token_probe_s, underlyings=config.universe.underlyings,
        )  # fmt: skip
        self.phase = "starting"
        self.day = DayLifecycle(is_trading_day, config.day)
        self.session_day = now().date()
        """The session the chain belongs to: baselines are the close before it."""
        self._universe_lock = threading.Lock()  # re-centring (cycle) and refresh (session)
        self.universe: Universe | None = None
        self._shard_sets: tuple[frozenset[int], ...] = ()
        self._fills_requested = [0] * len(self.shards.status)
        self._rate: tuple[float, int] = (time.monotonic(), 0)
        self._tick_rate = 0.0

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start every thread; the Kite session loads instruments and opens the shards, retrying
        until Kite answers (no token yet, a 429, a timeout or a refused token never ends the
        process)."""
        if self.session.token_state != "ok":
            self.session.refresh_token()  # a token already stored is used from the first call
        left = self.adapters.spool.lag()
        if left.records:  # a previous feed stopped (or died) before PostgreSQL took them all
            log.info("archiving %d records (%d bytes) left in the spool by a previous feed",
                     left.records, left.bytes)  # fmt: skip
        self.adapters.publisher.start()
        self.adapters.archiver.start()
        self.ingest.start(self._first_seq())
        self.cycle.start()
        self.session.start(self._bootstrap)

    def stop(self, drain_timeout: float = 20.0) -> bool:
        """Stop within about ``drain_timeout`` seconds (SIGTERM; ECS kills the task at its stop
        timeout): close the ticker first (from here on no Kite connection is held), process
        and spool what was received and the open minute, then archive the spool until it is
        empty or the time is spent. Returns whether it was drained. What is left stays in the
        spool directory (EFS in the cloud) and is archived first, exactly once, by the next
        feed on it: the ticks' keys and the minute rows' upserts make a replay a no-op."""
        started = time.monotonic()
        self.shards.close()
        self.session.stop()
        self.ingest.stop()
        self.cycle.stop()
        a = self.adapters
        budget = max(0.0, drain_timeout - (time.monotonic() - started))
        drained = a.archiver.wait_drained(budget)
        lag = a.spool.lag()
        took = time.monotonic() - started
        if drained:
            log.info("stopped in %.1f s: spool drained", took)
        else:
            log.warning("stopped in %.1f s with %d records (%d bytes) still spooled: the next "
                        "feed on %s archives them", took, lag.records, lag.bytes,
                        a.spool.directory)  # fmt: skip
        if a.archiver.stop():
            a.archiver.archive.close()
            a.spool.close()  # releases the spool's lock: the next feed may take it
        else:  # it may still move the checkpoint: the lock goes with the process
            log.warning("archiver still busy with PostgreSQL; the spool stays locked until exit")
        a.archive.close()
        a.hot.close()
        return drained

    def supervise(self) -> None:
        """Main-thread duty, about once a second: notice a refused token, and while there is
        none that works look for a new one (the session hands it to the shards)."""
        if any(s.state == ShardState.UNAUTHORIZED for s in self.shards.status):
            self.session.mark_expired("the ticker handshake was refused (403)")
        if self.session.token_state != "ok":
            self.session.refresh_token()
        if self.phase != "live":
            return
        now = self._now()
        action = self.day.due(now)
        if action == DayAction.REFRESH:
            self.session.request_task("refresh", self._refresh)
        elif action == DayAction.CLOSE:
            self._close(now)

    def _bootstrap(self) -> None:
        """On the Kite session's thread: instruments, spot, universe, then subscribe."""
        session = self.session
        catalog = session.retry_until_done(
            "instruments", lambda: session.load_catalog(self.config.universe)
        )
        spot = session.retry_until_done("spot", session.spots)
        if catalog is None or spot is None:
            return  # stopped while waiting for Kite
        session.catalog = catalog
        now = self._now()
        today = now.date()
        # Before the morning refresh (or on a weekend) the chain is the last session's.
        self.session_day = self.day.session_of(now)
        try:
            universe = select_universe(catalog, spot, today)
            with self._universe_lock:
                self._set_universe(universe)
        except ValueError as exc:  # e.g. a universe that does not fit Kite's connection limits
            self.phase = f"failed: {exc}"
            log.error("feed cannot subscribe: %s", exc)
            return
        self._restore_state()
        # Before subscribing, as the ticks then land on a whole chain and the quote work
        # (parsing thousands of quotes) is not done against the live ingest.
        session.retry_until_done("snapshot", lambda: session.snapshot(universe.tokens))
        self.shards.assign(self._shard_sets)
        session.request_baselines(i.instrument_token for i in universe.options_nearest_first())
        self.day.loaded = self.session_day
        self.phase = "live"
        shards = len(self._shard_sets)
        log.info("feed started", extra={"instruments": len(universe.tokens), "shards": shards})

    # -- the trading day ----------------------------------------------------------------------

    def _refresh(self) -> None:
        """On the session's thread, before a trading day's open: the day's instrument dump
        (expired series leave, new ones and strikes arrive), the universe around spot, and
        the new day's baselines. Raises (and is retried) while Kite cannot answer."""
        now = self._now()
        catalog = self.session.load_catalog(self.config.universe)
        universe = select_universe(catalog, self.session.spots(), now.date())
        with self._universe_lock:
            before = self.universe
            self.session.catalog = catalog
            self._set_universe(universe)
            self.shards.assign(self._shard_sets)
        options = [i.instrument_token for i in universe.options_nearest_first()]
        # Yesterday's baselines are the day before's closes: unknown ("-") beats wrong.
        self.chain.set_values({Field.OI_PREV: dict.fromkeys(options, math.nan)})
        self.session_day = now.date()
        self.session.request_baselines(options)
        self.day.loaded = now.date()
        self.cycle.resume(datetime.combine(now.date(), PRE_OPEN, IST))
        self._write_session("open", now)
        old = set(before.tokens) if before is not None else set()
        log.info("session refreshed", extra={
            "day": now.date().isoformat(), "instruments": len(universe.tokens),
            "added": len(set(universe.tokens) - old), "removed": len(old - set(universe.tokens)),
            "expiries": [w.expiry.isoformat() for w in universe.windows],
        })  # fmt: skip

    def _close(self, now: datetime) -> None:
        """At the close: the last minute and candles are written, minutes pause, and the
        session is marked closed for the API."""
        self.cycle.close_session()
        self.day.closed = now.date()
        self._write_session("closed", now)
        log.info("session closed", extra={"day": now.date().isoformat()})

    def _write_session(self, state: str, now: datetime) -> None:
        try:
            self.adapters.hot.write_session(
                {"day": now.date().isoformat(), "state": state, "at": now.isoformat()}
            )
        except HotStoreError as exc:
            self.link.down(exc)

    # -- universe -----------------------------------------------------------------------------

    def _first_seq(self) -> int:
        """Tick identities never repeat across restarts: they start at the wall clock in
        microseconds (a feed ingests far fewer than a million ticks a second), or after the
        highest archived one if that is later (a clock set back)."""
        floor = int(time.time() * 1_000_000)
        try:
            return max(floor, self.adapters.archive.max_ingest_seq())
        except StoreError as exc:
            log.warning("PostgreSQL unavailable at start, spooling: %s", exc)
            return floor

    def _set_universe(self, universe: Universe) -> None:
        if universe.trimmed and (
            self.universe is None or self.universe.trimmed != universe.trimmed
        ):
            per = {p.underlying.name: p.trimmed for p in universe.parts}
            log.warning(
                "universe trimmed to fit Kite's connections: %d option instruments left out "
                "(the strikes farthest from the ATM, the farther expiries, then the later "
                "underlyings first); narrow strikes_each_side, the expiries or UNDERLYINGS to "
                "follow all of them",
                universe.trimmed,
                extra={"instruments": len(universe.tokens), "trimmed": universe.trimmed,
                       "trimmed_by_underlying": per},
            )  # fmt: skip
        self._shard_sets = shard(
            universe.tokens,
            self._shard_sets,
            max_connections=self.config.universe.max_connections,
            per_connection=self.config.universe.per_connection,
        )
        self.universe = universe
        # Under the chain's lock: the cycle must not send the publisher dirty expiries of a
        # universe it has not been given yet.
        with self.chain.lock:
            self.chain.set_universe(universe.instruments)
            expiries = len(self.chain.state.expiries)
            self.adapters.publisher.set_universe(universe.instruments, expiries)

    def _maybe_recentre(self, spot: dict[str, float], now: datetime) -> None:
        """Cycle thread: follow spot. Subscriptions change at once; baselines come later."""
        catalog, universe = self.session.catalog, self.universe
        if catalog is None or universe is None or self.phase != "live":
            return
        with self._universe_lock:
            if universe is not self.universe:
                return  # a refresh replaced it meanwhile
            move = recentre(catalog, universe, spot, now.date())
            if not move.to_subscribe and not move.to_unsubscribe:
                return
            self._set_universe(move.universe)
            self.shards.assign(self._shard_sets)
        options = {i.instrument_token for i in move.universe.options}
        self.session.request_baselines(t for t in move.to_subscribe if t in options)
        log.info("re-centred", extra={"spot": spot, "added": len(move.to_subscribe),
                                      "removed": len(move.to_unsubscribe)})  # fmt: skip

    def _restore_state(self) -> None:
        """A restarted feed starts from the last state it published to Redis, so the first
        cycles do not publish a chain with holes while the instruments' first ticks arrive."""
        try:
            restored = self.adapters.hot.load_state(self.names)
        except StoreError as exc:
            log.warning("no hot state to restore: %s", exc)
            return
        fields: dict[Field, dict[int, float]] = {f: {} for f in _RESTORED}
        for document in restored.market.values():
            _restore_values(fields, document, document.get("ts"))
        for document in restored.snapshots.values():
            for row in document.get("strikes", {}).values():
                for side in ("CE", "PE"):
                    if isinstance(row.get(side), dict):
                        _restore_values(fields, row[side], document.get("ts"))
        self.chain.set_values(fields)
        log.info("restored from Redis", extra={"instruments": len(fields[Field.LTP])})

    # -- callbacks ----------------------------------------------------------------------------

    def _on_text(self, shard_no: int, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "order":
            try:
                self.adapters.hot.publish_order(message)
            except HotStoreError as exc:
                self.link.down(exc)
        elif kind in ("error", "message"):
            log.warning("ticker %s", kind, extra={"shard": shard_no, "text": message.get("data")})

    def _each_second(self) -> None:
        """Cycle thread, once a second: queue fills for new gaps, write health."""
        for i, status in enumerate(self.shards.status):
            gaps = list(status.gaps)
            for started, ended in gaps[self._fills_requested[i] :]:
                self.session.request_fill(i, started, ended, self.shards.wanted(i))
            self._fills_requested[i] = len(gaps)
        if not self.link.ok:
            return
        try:
            self.adapters.hot.write_health(self.health())
            self.ingest.counters.ingest_wait_ms = self.ingest.counters.ingest_ms = 0.0
        except HotStoreError as exc:
            self.link.down(exc)

    def health(self) -> dict[str, Any]:
        now = time.time()
        start, count = self._rate
        ticks = self.ingest.counters.ticks
        if time.monotonic() - start >= 1.0:
            self._tick_rate = (ticks - count) / (time.monotonic() - start)
            self._rate = (time.monotonic(), ticks)
        fills, baselines = self.session.pending()
        token = self.session.token_state
        return health_document(
            FeedView(
                now=now, market_open=self._market_open(self._now()),
                phase=self.phase, session_state=self.day.session_state(self._now()), token=token,
                shards=self.shards.status,
                ingest=self.ingest.counters, cycle=self.cycle.counters,
                session=self.session.counters, pending_fills=fills,
                pending_baselines=baselines, archiver=self.adapters.archiver.status(),
                redis_ok=self.link.ok, redis_errors=self.link.errors,
                instruments=len(self.universe.tokens) if self.universe else 0,
                trimmed=self.universe.trimmed if self.universe else 0,
                underlyings={p.underlying.name: (len(p.instruments), p.trimmed)
                             for p in self.universe.parts} if self.universe else {},
                tick_rate=self._tick_rate,
            )
        )  # fmt: skip


def _restore_values(fields: dict[Field, dict[int, float]], doc: dict[str, Any], ts: Any) -> None:
    token = doc.get("token")
    if not isinstance(token, int):
        return
    for name, key in _RESTORED.items():
        value = ts if key == "ts" else doc.get(key)
        if isinstance(value, int | float):
            fields[name][token] = float(value)
