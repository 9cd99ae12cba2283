"""The underlying a request names: one this deployment follows (UNDERLYINGS), by default the
first. One rule for every route, query parameter or body field alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from strikeboard.api.errors import BadRequestError
from strikeboard.api.models import UNDERLYING_PATTERN
from strikeboard.config import Settings
from strikeboard.market import underlyings

__all__ = ["FOLLOWED", "UNDERLYING", "followed_name", "followed_underlying"]

UNDERLYING = Annotated[
    str | None,
    Query(pattern=UNDERLYING_PATTERN,
          description="Underlying name, one of UNDERLYINGS (default: the first configured; "
          "for /api/market, every one)."),
]  # fmt: skip


def followed_name(settings: Settings, underlying: str | None) -> str:
    """``underlying`` if this deployment follows it, the first configured if None; else a
    BadRequestError (400) naming the followed ones."""
    try:
        return underlyings.followed_name(settings.underlying_list, underlying)
    except underlyings.UnknownUnderlyingError as exc:
        raise BadRequestError(str(exc)) from None


async def followed_underlying(request: Request, underlying: UNDERLYING = None) -> str:
    """The `underlying` query parameter: one this deployment follows (400 otherwise). Async:
    a check of settings, not worth a thread-pool round trip."""
    settings: Settings = request.app.state.settings
    return followed_name(settings, underlying)


FOLLOWED = Annotated[str, Depends(followed_underlying)]
