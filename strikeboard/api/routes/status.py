"""GET /api/health (public): the feed's state, the stores' reachability, the market's hours and
session. Anonymous callers get states and counters only; a signed-in caller also the feed's
(sanitized) error texts."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request

from strikeboard import redact
from strikeboard.api.dependencies import NOW, SETTINGS, STORES
from strikeboard.api.freshness import TICKS_STALE_AFTER_S, feed_freshness
from strikeboard.api.models import FEED_TOKEN_STATES, Health
from strikeboard.api.stores import Stores
from strikeboard.auth import AuthError, authenticate
from strikeboard.market import calendar
from strikeboard.market.calendar import market_open
from strikeboard.market.feed_hours import feed_scheduled
from strikeboard.store.errors import StoreError

router = APIRouter(tags=["status"])


def session(stores: Stores, now: datetime, redis_ok: bool) -> dict[str, Any]:
    """The calendar's view of the market at `now`, with the feed's record of its last session
    (open or closed, and when) when Redis has it."""
    view = calendar.session_view(now)
    recorded = None
    if redis_ok:
        try:
            recorded = stores.hot.read_session()
        except StoreError:
            recorded = None
    return {"state": view.state, "last_session": view.last_session,
            "last_close": view.last_close, "next_open": view.next_open,
            "reason": view.reason, "recorded": recorded}  # fmt: skip


@router.get("/health", response_model=Health)
def health(request: Request, stores: STORES, settings: SETTINGS, now: NOW) -> dict[str, Any]:
    """Feed state (connected, token, last tick age), store reachability, market hours.
    Anonymous callers get states and counters only; a signed-in caller also the feed's
    (sanitized) error texts."""
    redis_ok = True
    try:
        doc = stores.hot.read_health()
    except StoreError:
        doc, redis_ok = None, False
    if doc is not None:
        try:
            authenticate(request.headers.get("authorization") or None, settings)
            signed_in = True
        except AuthError:
            signed_in = False
        doc = redact.health_view(doc, signed_in=signed_in)
    database_ok = stores.db.ok()
    fresh = feed_freshness(doc, settings.api_stale_after_s, time.time())
    feed: dict[str, Any] = {"connected": False, "token": "unknown",
                            "last_tick_age_s": None, "ticks_per_s": None}  # fmt: skip
    if doc is not None:
        feed.update({k: v for k, v in doc.items() if k not in ("ts",)})
        feed["connected"] = bool(doc.get("connected"))
        token = doc.get("token")
        feed["token"] = token if token in FEED_TOKEN_STATES else "unknown"
        feed["last_tick_age_s"] = fresh.age_s
    is_open = market_open(now)
    # In market hours the index ticks every second: older data is stale on screen.
    age = feed["last_tick_age_s"]
    quiet = is_open and (age is None or age > TICKS_STALE_AFTER_S)
    status: Literal["ok", "degraded", "down", "closed"] = "ok"
    if not redis_ok and not database_ok:
        status = "down"
    elif doc is None and redis_ok and database_ok and not feed_scheduled(now):
        status = "closed"  # the cloud feed is stopped outside its market hours: normal
    elif quiet or not (
        redis_ok
        and database_ok
        and feed["connected"]
        and feed["token"] == "ok"
        and feed.get("status", "ok") == "ok"
    ):
        status = "degraded"  # fmt: skip
    return {"status": status, "feed": feed, "redis": redis_ok, "database": database_ok,
            "market_open": is_open, "session": session(stores, now, redis_ok),
            "now": now}  # fmt: skip
