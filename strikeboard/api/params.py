"""Request values shared by the routes: the query parameter types several routes take, and the
checks beyond their types (dates within the archive's span, times read in IST)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final, Literal

from fastapi import Query

from strikeboard.api.errors import NotFoundError
from strikeboard.market.calendar import IST

EARLIEST: Final = date(2000, 1, 1)
LATEST: Final = date(2100, 1, 1)
"""The archive spans EARLIEST up to (not including) LATEST: a date outside is a 404."""

TOKEN = Annotated[int, Query(gt=0, lt=2**40, description="Kite instrument token.")]
CONVENTION = Annotated[Literal["forward", "nse"], Query(description="IV/Greeks convention.")]
AT = Annotated[
    datetime | None,
    Query(description="A past minute (ISO; naive = IST): the archived chain of that minute."),
]
IVLEG = Annotated[
    Literal["otm", "call", "put"], Query(description="Which leg's IV a strike shows.")
]


def check_day(value: date, name: str) -> date:
    """``value`` when the archive's span holds it; else a NotFoundError naming ``name``."""
    if not EARLIEST <= value < LATEST:
        span = f"{EARLIEST.year}-{LATEST.year - 1}"
        raise NotFoundError(f"nothing stored for {name} {value}: the archive spans {span}")
    return value


def as_ist(value: datetime, name: str) -> datetime:
    """A request time: naive means IST; years outside 2000-2099 are refused."""
    check_day(value.date(), name)
    return value.replace(tzinfo=IST) if value.tzinfo is None else value.astimezone(IST)


def minute_ist(value: datetime, name: str) -> datetime:
    """A request time as `as_ist` reads it, truncated to its minute (archived chains and
    candles are per minute)."""
    return as_ist(value, name).replace(second=0, microsecond=0)
