"""The market around the chains: the followed underlyings (GET /api/underlyings), spot, VIX and
futures (GET /api/market: live, else or at a past minute archived), an underlying's expiries
(GET /api/expiries)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from strikeboard.api.chain_source import BOTH_DOWN
from strikeboard.api.dependencies import CHAINS, NOW, SETTINGS, STORES
from strikeboard.api.errors import NotFoundError
from strikeboard.api.followed import FOLLOWED, UNDERLYING, followed_name
from strikeboard.api.freshness import feed_freshness
from strikeboard.api.models import Expiry, Market, UnderlyingInfo
from strikeboard.api.params import minute_ist
from strikeboard.market.calendar import market_open
from strikeboard.store import market_queries
from strikeboard.store.errors import ArchiveUnavailableError, StoreError

router = APIRouter(tags=["market"])


@router.get("/underlyings", response_model=list[UnderlyingInfo])
def underlyings(settings: SETTINGS, chains: CHAINS) -> list[dict[str, Any]]:
    """The underlyings this deployment follows, in configured order (the first is the
    default of every `underlying` parameter); lot sizes from the nearest expiry."""
    out = []
    for u in settings.underlying_list:
        try:
            listed = chains.expiries(u.name)
        except StoreError:
            listed = []
        out.append({"name": u.name, "exchange": u.exchange, "spot_symbol": u.spot_symbol,
                    "strike_step": u.strike_step, "vix_symbol": u.vix_symbol,
                    "lot_size": next((e["lot_size"] for e in listed if e["lot_size"]),
                                     None)})  # fmt: skip
    return out


@router.get("/market", response_model=Market)
def market(
    stores: STORES,
    settings: SETTINGS,
    now: NOW,
    underlying: UNDERLYING = None,
    at: Annotated[
        datetime | None,
        Query(description="A past minute (ISO; naive = IST): the quotes as they were then."),
    ] = None,
) -> dict[str, Any]:
    """Spot, VIX and futures: live from Redis, else the last archived candles (stale); at
    a past minute, that minute's candles with the change from the previous session's close
    (404 when that day has none)."""
    if underlying is None:
        names = [u.name for u in settings.underlying_list]
    else:
        names = [followed_name(settings, underlying)]
    open_now = market_open(now)
    if at is not None:
        when = minute_ist(at, "at")
        past = market_queries.quotes_at(stores.db, when, names)
        if not past:
            raise NotFoundError(f"no quotes archived on {when.date()} up to {when:%H:%M} IST")
        behind = max(0.0, now.timestamp() - when.timestamp())
        return {"instruments": past, "stale": True, "age_s": round(behind, 3),
                "market_open": open_now, "source": "archive"}  # fmt: skip
    instruments: dict[str, Any] = {}
    health: dict[str, Any] | None = None
    redis_down = False
    try:
        instruments = {
            name: doc for name, doc in stores.hot.read_market().items()
            # An entry written before entries named their underlying is NIFTY's.
            if doc.get("underlying", "NIFTY") in names
        }  # fmt: skip
        health = stores.hot.read_health()
    except StoreError:
        redis_down = True
    if instruments:
        fresh = feed_freshness(health, settings.api_stale_after_s, time.time())
        return {"instruments": instruments, "stale": fresh.stale or not open_now,
                "age_s": fresh.age_s, "market_open": open_now, "source": "live"}  # fmt: skip
    try:
        archived, newest = market_queries.newest_quotes(stores.db, names)
    except ArchiveUnavailableError as exc:
        if redis_down:
            raise ArchiveUnavailableError(BOTH_DOWN) from exc
        raise
    age = max(0.0, now.timestamp() - newest.timestamp()) if newest is not None else None
    return {"instruments": archived, "stale": True, "age_s": age, "market_open": open_now,
            "source": "archive"}  # fmt: skip


@router.get("/expiries", response_model=list[Expiry])
def expiries(underlying: FOLLOWED, chains: CHAINS) -> list[dict[str, Any]]:
    """Live expiries, nearest first, with days to expiry, weekly/monthly and lot size."""
    return chains.expiries(underlying)
