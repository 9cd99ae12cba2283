"""Where a chain comes from: live from Redis unless a past minute is asked for, else (or when
Redis is down or has no snapshot of the expiry) the archive's last minute in PostgreSQL, built
into the same document (`strikeboard.api.chain`). Also the live expiries, with the archive's as
the fallback. Errors: `NotFoundError` (404), `StoreError` (503) naming both stores when both
are down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from strikeboard.api import chain as chain_doc
from strikeboard.api.errors import NotFoundError
from strikeboard.api.freshness import feed_freshness
from strikeboard.api.params import check_day, minute_ist
from strikeboard.api.stores import Stores
from strikeboard.chain import conventions
from strikeboard.chain.conventions import IvLeg
from strikeboard.config import Settings
from strikeboard.market import underlyings
from strikeboard.market.calendar import CALENDAR, TradingCalendar, market_open
from strikeboard.store import chain_queries
from strikeboard.store import snapshot as snap
from strikeboard.store.errors import ArchiveUnavailableError, StoreError
from strikeboard.store.hot import LiveSnapshot

BOTH_DOWN = "Redis and PostgreSQL are both unavailable"


@dataclass
class ChainResult:
    doc: dict[str, Any] | None
    """The parsed document (None on the live fast path until asked for)."""
    live: LiveSnapshot | None
    source: str
    stale: bool
    age_s: float | None

    def document(self) -> dict[str, Any]:
        if self.doc is None:
            assert self.live is not None
            self.doc = snap.loads(self.live.data)
            self.doc["seq"] = self.live.seq
        return self.doc

    def presented(self, convention: str, iv_leg: str) -> dict[str, Any]:
        """The document in the asked convention (NSE: recomputed), with where it came from."""
        doc = self.document()
        if convention == "nse":
            doc = chain_doc.recompute_nse(doc, IvLeg(iv_leg))
        doc.update(source=self.source, stale=self.stale, age_s=self.age_s)
        doc.setdefault("convention", "forward")
        return doc


class ChainSource:
    """The chains and expiries one request sees, at the market's time ``now``."""

    def __init__(self, stores: Stores, settings: Settings, now: datetime) -> None:
        self.stores = stores
        self.settings = settings
        self.now = now

    def chain(
        self, underlying: str, expiry: date, at: datetime | None = None,
        iv_leg: str = IvLeg.OTM.value,
    ) -> ChainResult:  # fmt: skip
        """An expiry's chain, live unless ``at`` (a request time) asks for the past; the
        archive when Redis is down or has no snapshot of the expiry (after hours, or after a
        Redis loss)."""
        check_day(expiry, "expiry")
        when = minute_ist(at, "at") if at is not None else None
        redis_error: str | None = None
        if when is None:
            try:
                live = self.stores.hot.read_live(underlying, expiry)
            except StoreError as exc:
                live, redis_error = None, str(exc)
            if live is not None:
                fresh = feed_freshness(live.health, self.settings.api_stale_after_s, time.time())
                stale = fresh.stale or not market_open(self.now)
                return ChainResult(None, live, "live", stale, fresh.age_s)
        try:
            minute = chain_queries.last_minute(self.stores.db, underlying, expiry, when)
            if minute is None:
                past = f" at or before {when.isoformat()}" if when is not None else ""
                raise NotFoundError(
                    f"no chain for {underlying} {expiry.isoformat()}{past}: not a live expiry "
                    "and not in the archive"
                )
            doc = self.archived(underlying, expiry, minute, IvLeg(iv_leg))
        except ArchiveUnavailableError as exc:
            if redis_error is not None:
                raise ArchiveUnavailableError(BOTH_DOWN) from exc
            raise
        age = max(0.0, self.now.timestamp() - minute.timestamp())
        return ChainResult(doc, None, "archive", True, round(age, 3))

    def archived(
        self, underlying: str, expiry: date, minute: datetime, iv_leg: IvLeg
    ) -> dict[str, Any]:
        """The chain document of an archived minute."""
        db = self.stores.db
        stored = chain_queries.minute_of(db, underlying, expiry, minute)
        tokens = [int(r["token"]) for r in stored.rows if r.get("token") is not None]
        closes = chain_queries.previous_closes(db, underlying, expiry, minute, tokens)
        size = chain_queries.lot_size(db, underlying, expiry)
        return chain_doc.archive_document(
            underlying, expiry, minute, stored.aggregates, stored.rows,
            self.settings.risk_free_rate, size, iv_leg, closes,
        )  # fmt: skip

    def lot_size(self, underlying: str, expiry: date) -> int | None:
        """The instrument master's lot size of an expiry (None: not listed)."""
        return chain_queries.lot_size(self.stores.db, underlying, expiry)

    def expiries(self, underlying: str) -> list[dict[str, Any]]:
        """Live expiries from Redis (with the snapshot's lot size); else the archive's
        unexpired ones. Nearest first, with days to expiry and weekly/monthly."""
        found: dict[date, int | None] = {}
        try:
            hot = self.stores.hot
            for text in hot.expiries(underlying):
                doc = hot.read_snapshot(underlying, text)
                lot = doc.get("lot_size") if doc is not None else None
                found[date.fromisoformat(text)] = lot if isinstance(lot, int) else None
        except StoreError:
            found = {}
        if not found:
            found = chain_queries.archived_expiries(self.stores.db, underlying, self.now.date())
        # Monthly: the last expiry of the month on the underlying's own weekday (SENSEX:
        # Thursday).
        calendar_of = TradingCalendar(
            CALENDAR.holidays, underlyings.underlying(underlying).expiry.weekday
        )
        out = []
        for expiry in sorted(found):
            t = conventions.time_to_expiry(self.now, expiry)
            if t <= 0:
                continue
            kind = "monthly" if calendar_of.is_monthly_expiry(expiry) else "weekly"
            out.append({"expiry": expiry, "days_to_expiry": round(t * 365.0, 3), "kind": kind,
                        "lot_size": found[expiry]})  # fmt: skip
        return out
