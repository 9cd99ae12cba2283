"""What the routes are given (FastAPI dependencies): the app's settings and stores, the
market's time of the request, and the chains wherever they are (`ChainSource`). `create_app`
puts the objects in ``app.state``; the caller (`USER`) is `strikeboard.api.guard`'s, the
followed underlying (`FOLLOWED`) `strikeboard.api.followed`'s.

Async on purpose: each only reads ``app.state``, and a sync dependency would cost every request
a thread-pool round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from strikeboard.api.chain_source import ChainSource
from strikeboard.api.stores import Stores
from strikeboard.config import Settings

Clock = Callable[[], datetime]


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def app_stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


async def market_now(request: Request) -> datetime:
    """The market's time (IST) when the request is served: the app's clock, read once."""
    clock: Clock = request.app.state.clock
    return clock()


SETTINGS = Annotated[Settings, Depends(app_settings)]
STORES = Annotated[Stores, Depends(app_stores)]
NOW = Annotated[datetime, Depends(market_now)]


async def chain_source(stores: STORES, settings: SETTINGS, now: NOW) -> ChainSource:
    return ChainSource(stores, settings, now)


CHAINS = Annotated[ChainSource, Depends(chain_source)]
