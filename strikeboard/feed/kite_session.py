"""The feed's Kite session: instruments, spot, gap fills, OI baselines and the access token.

All REST work runs on one worker thread through the rate-limited `KiteRest`, so no 429, slow
answer or timeout ever stalls ingest or the cycle. Work that fails is kept and retried with
backoff; no call is made before there is a token (`waiting`), and a refused one (403) parks the
work until a new token arrives (`expired`). Gap fills go before baselines. I/O: Kite REST,
PostgreSQL (previous OI), the spool (gap records).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from strikeboard.chain.state import Field
from strikeboard.feed.ingest import LiveChain
from strikeboard.kite.rest import KiteRest, KiteUnavailable, TokenExpired
from strikeboard.market.calendar import IST
from strikeboard.market.underlyings import NIFTY, Underlying, underlying_of
from strikeboard.market.universe import Catalog, UniverseConfig, parse_instruments
from strikeboard.store.archive import Archive
from strikeboard.store.archiver import encode_minute
from strikeboard.store.errors import StoreError
from strikeboard.store.spool import Spool

log = logging.getLogger("strikeboard.feed")

BASELINE_CHUNK = 30
"""Contracts per baseline step (10 s of Kite's 3 historical calls/s): fills can cut in between."""


@dataclass
class Gap:
    shard: int
    started: float
    ended: float
    tokens: frozenset[int]
    attempts: int = 0


@dataclass
class SessionCounters:
    gap_fills: int = 0
    fill_failures: int = 0
    baselines_loaded: int = 0
    baselines_from_kite: int = 0
    rest_errors: int = 0
    last_error: str = ""


@dataclass
class _Pending:
    tasks: dict[str, Callable[[], None]] = field(default_factory=dict)
    gaps: dict[int, Gap] = field(default_factory=dict)
    baselines: list[int] = field(default_factory=list)


class KiteSession:
    """One per feed: owns the REST client and the token; fills gaps and loads baselines."""

    def __init__(
        self,
        rest: KiteRest,
        archive: Archive,
        spool: Spool,
        chain: LiveChain,
        *,
        today: Callable[[], date],
        read_token: Callable[[], str],
        on_token: Callable[[str], None] | None = None,
        probe_every_s: float = 60.0,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
        underlyings: tuple[Underlying, ...] = (NIFTY,),
    ) -> None:
        self.rest = rest
        self.underlyings = underlyings
        self.archive = archive
        self.spool = spool
        self.chain = chain
        self._today = today
        self._read_token = read_token
        self._on_token = on_token
        self._probe_every_s = probe_every_s
        self._backoff_max_s = backoff_max_s
        self._rng = rng or random.Random()
        self.counters = SessionCounters()
        self.token_state = "ok" if rest.access_token else "waiting"
        """`waiting` (no token yet), `ok` (in use, not refused), `expired` (Kite refused it)."""
        self.catalog: Catalog | None = None
        """Set once loaded: gap fills name instruments by exchange:tradingsymbol."""
        self._pending = _Pending()
        self._baseline_day: date | None = None
        self._baselined: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_call = time.monotonic()

    # -- start-up (called from the worker while bootstrapping) ------------------------------

    def load_catalog(self, config: UniverseConfig) -> Catalog:
        """The dumps of the exchanges the underlyings need: derivatives first, then the
        indices' (NSE's for INDIA VIX as well)."""
        exchanges = [u.derivatives for u in config.underlyings] + ["NSE"]
        exchanges += [u.exchange for u in config.underlyings]
        rows: list[dict[str, Any]] = []
        for exchange in dict.fromkeys(exchanges):
            rows += self.rest.instruments(exchange)
        for row in rows:  # archived with the instrument: a tick's underlying is its token's
            row["underlying"] = underlying_of(row)
        try:
            self.archive.upsert_instruments(rows)
        except StoreError as exc:
            log.warning("instruments not archived (PostgreSQL unavailable): %s", exc)
        return Catalog(parse_instruments(rows), config)

    def spots(self) -> dict[str, float]:
        """Each underlying's spot price, in one LTP call."""
        keys = {u.name: u.spot_key for u in self.underlyings}
        data = self.rest.ltp(list(keys.values()))
        missing = [key for key in keys.values() if key not in data]
        if missing:
            raise KiteUnavailable(f"no last price for {', '.join(missing)}", 1)
        return {name: float(data[key]["last_price"]) for name, key in keys.items()}

    def retry_until_done(self, what: str, step: Callable[[], Any]) -> Any:
        """Run `step` until it succeeds or the session stops: Kite being slow, limiting us or
        refusing the token must never end the process."""
        attempt = 0
        while not self._stop.is_set():
            if self.token_state != "ok":  # the main thread's supervise() brings a new token
                self._stop.wait(0.5)
                continue
            used = self.rest.access_token
            try:
                return step()
            except TokenExpired as exc:
                self.mark_expired(str(exc), used)
            except (KiteUnavailable, StoreError, OSError) as exc:
                attempt += 1
                self._note_error(f"{what}: {exc}")
                self._stop.wait(self._backoff(attempt))
        return None

    # -- requests from other threads --------------------------------------------------------

    def request_task(self, name: str, task: Callable[[], None]) -> None:
        """Run `task` on the worker, before fills and baselines, retried until it succeeds;
        a task of the same name already waiting is not queued twice."""
        with self._lock:
            self._pending.tasks.setdefault(name, task)
        self._wake.set()

    def snapshot(self, tokens: Iterable[int]) -> int:
        """Quote every instrument once (500 a call, 1 call a second), so the chain is whole
        before the first ticks arrive (and after hours, when none will: it shows the last
        session). Returns how many had a price."""
        quoted = self._quote_into_chain(tokens)
        log.info("chain taken from quotes", extra={"instruments": quoted})
        return quoted

    def _quote_into_chain(self, tokens: Iterable[int]) -> int:
        names = self._names(tokens)
        quotes = self.rest.quote(list(names)) if names else {}
        return self.chain.apply_quotes(quotes.values())

    def request_fill(self, shard: int, started: float, ended: float, tokens: Iterable[int]) -> None:
        """Queue a quote fill for one shard's outage; a newer outage of the same shard merges."""
        with self._lock:
            old = self._pending.gaps.get(shard)
            wanted = frozenset(tokens)
            if old is not None:
                started, wanted = min(old.started, started), old.tokens | wanted
            self._pending.gaps[shard] = Gap(shard, started, ended, wanted)
        self._wake.set()

    def request_baselines(self, tokens: Iterable[int]) -> None:
        """Queue the previous session's closing OI of these options (each once per day)."""
        with self._lock:
            queued = set(self._pending.baselines)
            self._pending.baselines += [t for t in tokens if t not in queued]
        self._wake.set()

    def pending(self) -> tuple[int, int]:
        with self._lock:
            return len(self._pending.gaps), len(self._pending.baselines)

    # -- token --------------------------------------------------------------------------------

    def mark_expired(self, why: str, token: str | None = None) -> None:
        """Kite refused `token` (None: the one in use). A refusal of an older token, answered
        after a new one was taken, changes nothing."""
        if token is not None and token != self.rest.access_token:
            return
        if self.token_state != "expired":
            self.token_state = "expired"
            log.error("Kite access token expired or revoked: waiting for a new one (%s)", why)

    def refresh_token(self) -> str | None:
        """A new token from where the login stores it; returns it once when it changes. Called
        by the main thread only (`Feed.start`, `Feed.supervise`), while the state is not `ok`."""
        try:
            token = self._read_token()
        except Exception as exc:
            log.warning("cannot read the Kite access token: %s", type(exc).__name__)
            return None
        if not token or token == self.rest.access_token:
            return None
        self.rest.set_access_token(token)
        if self._on_token is not None:
            self._on_token(token)  # before `ok`: the worker may open sockets right after
        self.token_state = "ok"
        self._wake.set()
        log.info("new Kite access token")
        return token

    # -- worker -------------------------------------------------------------------------------

    def start(self, bootstrap: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(bootstrap,), name="feed-kite", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, bootstrap: Callable[[], None]) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                bootstrap()
                break
            except Exception:  # a bug or bad data: say so, retry, never leave the feed dead
                attempt += 1
                log.exception("feed start-up failed, retrying")
                self._stop.wait(self._backoff(attempt))
        attempt = 0
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if self.token_state != "ok":
                continue  # parked until refresh_token() wakes us
            used = self.rest.access_token
            try:
                worked = (self._task_one() or self._fill_one() or self._baseline_step()
                          or self._probe())  # fmt: skip
                attempt = 0
            except TokenExpired as exc:
                self.mark_expired(str(exc), used)
                continue
            except Exception as exc:  # KiteUnavailable, PostgreSQL down, a bug: retry later
                attempt += 1
                self._note_error(str(exc))
                self._stop.wait(self._backoff(attempt))
                worked = True
            if worked:
                self._wake.set()

    def _task_one(self) -> bool:
        with self._lock:
            if not self._pending.tasks:
                return False
            name, task = next(iter(self._pending.tasks.items()))
        task()
        with self._lock:
            self._pending.tasks.pop(name, None)
        self._last_call = time.monotonic()
        return True

    def _fill_one(self) -> bool:
        with self._lock:
            if not self._pending.gaps:
                return False
            gap = next(iter(self._pending.gaps.values()))
        try:
            filled = self._quote_into_chain(gap.tokens)
        except Exception:
            gap.attempts += 1
            self.counters.fill_failures += 1
            raise
        self.spool.append(encode_minute(gaps=[(gap.shard, _ist(gap.started), _ist(gap.ended),
                                               len(gap.tokens), filled)]))  # fmt: skip
        with self._lock:
            if self._pending.gaps.get(gap.shard) is gap:
                del self._pending.gaps[gap.shard]
        self.counters.gap_fills += 1
        self._last_call = time.monotonic()
        log.info(
            "gap filled from quotes",
            extra={"shard": gap.shard, "gap_s": round(gap.ended - gap.started, 3),
                   "instruments": filled, "attempts": gap.attempts + 1},
        )  # fmt: skip
        return True

    def _baseline_step(self) -> bool:
        today = self._today()
        with self._lock:
            if self._baseline_day != today:  # a new session: every baseline is stale
                self._baseline_day, self._baselined = today, set()
            chunk = [t for t in self._pending.baselines if t not in self._baselined]
            chunk = chunk[:BASELINE_CHUNK]
            if not chunk:
                self._pending.baselines.clear()
                return False
        previous: dict[int, float] = {}
        try:
            previous.update(self.archive.previous_close_oi(chunk, today))
        except StoreError as exc:
            log.warning("previous OI from PostgreSQL unavailable, asking Kite: %s", exc)
        missing = [t for t in chunk if t not in previous]
        from_kite = self.rest.previous_close_oi(missing, today) if missing else {}
        previous.update(from_kite)
        # No earlier session anywhere: a contract listed today, whose previous OI is zero
        # (as NSE counts change in OI for a new strike).
        previous.update({t: 0.0 for t in missing if t not in from_kite})
        self.chain.set_values({Field.OI_PREV: previous})
        done = set(chunk)
        with self._lock:
            self._baselined |= done
            self._pending.baselines = [t for t in self._pending.baselines if t not in done]
        self.counters.baselines_loaded += len(previous)
        self.counters.baselines_from_kite += len(from_kite)
        self._last_call = time.monotonic()
        return True

    def _probe(self) -> bool:
        """Kite keeps sockets open when the token expires (06:00): a cheap call finds out."""
        if time.monotonic() - self._last_call < self._probe_every_s:
            return False
        self._last_call = time.monotonic()
        self.rest.ltp([self.underlyings[0].spot_key])
        return False

    def _names(self, tokens: Iterable[int]) -> dict[str, int]:
        names = {}
        for token in tokens:
            inst = self.catalog.by_token.get(token) if self.catalog is not None else None
            if inst is not None:
                names[f"{inst.exchange}:{inst.tradingsymbol}"] = token
        return names

    def _note_error(self, error: str) -> None:
        self.counters.rest_errors += 1
        self.counters.last_error = error
        log.warning("Kite REST: %s (will retry)", error)

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0.5, min(self._backoff_max_s, 2.0 ** min(attempt, 10)))


def _ist(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, IST).isoformat()
