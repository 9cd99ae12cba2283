"""CSV exports: a minute's chain (the very document `GET /api/chain/{expiry}` answers, one row
per strike) and a contract's ticks of a day, streamed from PostgreSQL page by page.

Bounded: a tick export holds at most `MAX_EXPORT_TICKS` rows (an option ticks some 20 000
times a session; the bound also keeps the answer under Lambda's 6 MB response limit), larger
ones are refused before anything is sent. Authenticated as every data route (the router's).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from strikeboard.api import chain as chain_doc
from strikeboard.api import tick_pages
from strikeboard.api.dependencies import CHAINS, STORES
from strikeboard.api.errors import BadRequestError
from strikeboard.api.followed import FOLLOWED
from strikeboard.api.models import Leg
from strikeboard.api.params import TOKEN, check_day
from strikeboard.chain.conventions import IvLeg
from strikeboard.market.calendar import day_bounds
from strikeboard.store import history_queries
from strikeboard.store.database import Database

__all__ = ["CHAIN_COLUMNS", "MAX_EXPORT_TICKS", "TICK_COLUMNS", "router"]

MAX_EXPORT_TICKS: Final = 50_000
_PAGE: Final = 5_000
LEG_COLUMNS: Final = tuple(Leg.model_fields)
CHAIN_COLUMNS: Final = (
    "underlying", "expiry", "minute", "source", "convention", "spot", "forward", "strike", "iv",
    *(f"{side.lower()}_{name}" for side in ("CE", "PE") for name in LEG_COLUMNS),
)  # fmt: skip
"""The chain CSV's columns: the document's identity, then per strike its shown IV and each
leg's fields prefixed ce_ / pe_ (the names of the JSON chain's legs)."""
TICK_COLUMNS: Final = history_queries.TICK_KEYS
"""The tick CSV's columns: a tick's keys in /api/history/ticks."""
_CSV = "text/csv; charset=utf-8"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _lines(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def chain_csv(doc: dict[str, Any]) -> str:
    """The chain document as CSV, a row per strike in strike order (floats in Python's
    shortest round-trip form: parsing the text gives the JSON's numbers)."""
    minute = doc.get("minute") or doc.get("computed_at")
    head = [doc.get("underlying"), doc.get("expiry"), minute, doc.get("source"),
            doc.get("convention", "forward"), doc.get("spot"), doc.get("forward")]  # fmt: skip
    rows: list[tuple[Any, ...]] = [CHAIN_COLUMNS]
    for row in chain_doc.sorted_strikes(doc):
        legs = [(row.get(side) or {}).get(name) for side in ("CE", "PE") for name in LEG_COLUMNS]
        rows.append((*head, row.get("strike"), row.get("iv"), *legs))
    return _lines(rows)


def _tick_pages(db: Database, token: int, day: date, first: dict[str, Any]) -> Iterator[str]:
    yield _lines([TICK_COLUMNS])
    page = first
    while True:
        yield _lines([[t[c] for c in TICK_COLUMNS] for t in page["ticks"]])
        if page["next"] is None:
            return
        start, end = day_bounds(day)
        page = tick_pages.ticks_page(db, token, start, end, page["next"], _PAGE)


def _filename(*parts: str) -> dict[str, str]:
    name = "-".join(p.replace(":", "").replace("+", "p") for p in parts)
    return {"Content-Disposition": f'attachment; filename="{name}.csv"'}


router = APIRouter(prefix="/export", tags=["export"])

_CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV."}
}


@router.get("/chain.csv", response_class=StreamingResponse, responses=_CSV_ANSWER)
def export_chain(
    expiry: date,
    underlying: FOLLOWED,
    chains: CHAINS,
    at: Annotated[
        datetime | None, Query(description="A past minute (ISO; naive = IST); default now.")
    ] = None,
    convention: Literal["forward", "nse"] = "forward",
    iv_leg: Literal["otm", "call", "put"] = "otm",
) -> StreamingResponse:
    """The chain of a minute as CSV: the document `GET /chain/{expiry}` answers for the same
    parameters, a row per strike."""
    result = chains.chain(underlying, expiry, at, iv_leg)
    doc = result.document()
    if convention == "nse":
        doc = chain_doc.recompute_nse(doc, IvLeg(iv_leg))
    doc = {**doc, "source": result.source, "convention": convention}
    stamp = str(doc.get("minute") or doc.get("computed_at") or "live")[:16]
    name = _filename(underlying, expiry.isoformat(), stamp)
    return StreamingResponse(iter([chain_csv(doc)]), media_type=_CSV, headers=name)


@router.get("/ticks.csv", response_class=StreamingResponse, responses=_CSV_ANSWER)
def export_ticks(
    token: TOKEN, day: Annotated[date, Query(description="IST day.")], stores: STORES
) -> StreamingResponse:
    """A contract's archived ticks of one IST day as CSV, oldest first, streamed from
    PostgreSQL; at most 50 000 (more: 400, page through /history/ticks instead)."""
    start, end = day_bounds(check_day(day, "day"))
    if history_queries.count_ticks(stores.db, token, start, end, MAX_EXPORT_TICKS + 1) > (
        MAX_EXPORT_TICKS
    ):
        raise BadRequestError(
            f"token {token} has over {MAX_EXPORT_TICKS} ticks on {day.isoformat()}: "
            "page through /api/history/ticks instead"
        )
    # The first page before the answer starts: a store failure is still a clean 503.
    first = tick_pages.ticks_page(stores.db, token, start, end, None, _PAGE)
    return StreamingResponse(_tick_pages(stores.db, token, day, first), media_type=_CSV,
                             headers=_filename(str(token), day.isoformat()))  # fmt: skip
