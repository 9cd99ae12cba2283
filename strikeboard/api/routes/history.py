"""One instrument's archived history: its ticks in a time range (paginated), its one-minute
candles of a day, an option's per-minute series of a day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from strikeboard.api.dependencies import STORES
from strikeboard.api.models import Candle, ContractSeries, TickPage
from strikeboard.api.params import TOKEN, as_ist, check_day
from strikeboard.api.tick_pages import ticks_page
from strikeboard.store import history_queries

router = APIRouter(prefix="/history", tags=["history"])


@router.get("/ticks", response_model=TickPage)
def history_ticks(
    token: TOKEN,
    start: Annotated[datetime, Query(description="From (ISO; naive = IST).")],
    stores: STORES,
    end: Annotated[
        datetime | None, Query(description="Until, exclusive (default start + 1 day).")
    ] = None,
    after: Annotated[
        str | None, Query(max_length=64, description="`next` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> dict[str, Any]:
    """Archived ticks of one instrument in a time range, oldest first, paginated."""
    begin = as_ist(start, "start")
    until = as_ist(end, "end") if end is not None else begin + timedelta(days=1)
    return ticks_page(stores.db, token, begin, until, after, limit)


@router.get("/candles", response_model=list[Candle])
def history_candles(
    token: TOKEN, date: Annotated[date, Query(description="IST day.")], stores: STORES
) -> list[dict[str, Any]]:
    """One-minute candles of spot, VIX or a future over an IST day."""
    return history_queries.candles(stores.db, token, check_day(date, "date"))


@router.get("/contract", response_model=ContractSeries)
def history_contract(
    token: TOKEN, date: Annotated[date, Query(description="IST day.")], stores: STORES
) -> dict[str, Any]:
    """An option's per-minute series over a day: price, IV, Greeks, OI."""
    day = check_day(date, "date")
    return {"token": token, "date": day, **history_queries.contract_day(stores.db, token, day)}
