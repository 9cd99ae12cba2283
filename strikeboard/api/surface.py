"""The volatility surface of an underlying: per expiry its ATM IV (the term structure) and each
strike's shown IV against log-moneyness (the smile), live or at a past minute.

Every number is the chain document's, built where every chain is built (`svc.get_chain`: the
feed's live snapshot, or the archived minute priced by `strikeboard.chain`): the ATM IV is the
aggregate `chain.analytics.atm_iv` made, the smile the one `GET /analytics/smile` answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from strikeboard.api import service as svc
from strikeboard.api.errors import NotFoundError
from strikeboard.api.followed import FOLLOWED
from strikeboard.api.models import Number, SmilePoint
from strikeboard.api.stores import Stores
from strikeboard.chain.conventions import IvLeg
from strikeboard.config import Settings

__all__ = ["Surface", "SurfaceExpiry", "add_surface_routes", "archived_expiries"]


class SurfaceExpiry(BaseModel):
    """One expiry of the surface: a row of the heat map, a point of the term structure."""

    expiry: date
    days_to_expiry: Number = Field(description="Calendar days to 15:30 IST of the expiry day.")
    forward: Number
    atm_strike: Number
    atm_iv: Number = Field(description="The expiry's ATM IV (annual, 0.12 = 12 %).")
    minute: datetime | None = Field(
        description="The archived minute the expiry's chain is from (null: live)."
    )
    source: Literal["live", "archive"]
    stale: bool
    points: list[SmilePoint] = Field(description="Finite shown IVs (OTM leg) by strike.")


class Surface(BaseModel):
    underlying: str
    at: datetime | None = Field(description="The minute asked for (null: live).")
    expiries: list[SurfaceExpiry] = Field(description="Nearest first.")


def archived_expiries(stores: Stores, underlying: str, at: datetime) -> list[date]:
    """The unexpired expiries the archive has a chain of on ``at``'s IST day, up to ``at``."""
    start, _ = svc.day_bounds(at.date())
    rows = stores.rows(
        "SELECT DISTINCT expiry FROM chain_minute_agg WHERE underlying = %s AND minute >= %s"
        " AND minute <= %s AND expiry >= %s ORDER BY 1",
        (underlying, start, at, at.date()),
    )
    return [r[0] for r in rows]


def _row(result: svc.ChainResult) -> dict[str, Any]:
    doc = result.document()
    minute = doc.get("minute") if result.source == "archive" else None
    return {
        "expiry": doc["expiry"], "days_to_expiry": doc.get("days_to_expiry"),
        "forward": doc.get("forward"), "atm_strike": doc.get("atm_strike"),
        "atm_iv": (doc.get("aggregates") or {}).get("atm_iv"), "minute": minute,
        "source": result.source, "stale": result.stale, "points": svc.smile(doc),
    }  # fmt: skip


def add_surface_routes(
    api: APIRouter, settings: Settings, store: Stores, clock: Callable[[], datetime]
) -> None:
    """Adds `GET /analytics/surface` to the authenticated router ``api``."""

    @api.get("/analytics/surface", response_model=Surface, tags=["analytics"])
    def analytics_surface(
        underlying: FOLLOWED,
        at: Annotated[
            datetime | None,
            Query(description="A past minute (ISO; naive = IST): the expiries alive then, each "
                  "at its last archived minute up to it."),
        ] = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Term structure and volatility surface: per expiry (nearest first) its ATM IV and
        its strikes' IVs with log-moneyness ln(K/F); live, or at the minute ``at``."""
        now = clock()
        when = svc.as_ist(at, "at").replace(second=0, microsecond=0) if at is not None else None
        if when is None:
            listed = [e["expiry"] for e in svc.expiries(store, underlying, now)]
        else:
            listed = archived_expiries(store, underlying, when)
        rows = []
        for expiry in listed:
            try:
                result = svc.get_chain(store, underlying, expiry, when, settings.api_stale_after_s,
                                       settings.risk_free_rate, IvLeg.OTM, now)  # fmt: skip
            except NotFoundError:
                continue  # listed (live expiries) but no chain of it anywhere yet
            rows.append(_row(result))
        if not rows:
            moment = f" on {when.date()} up to {when:%H:%M} IST" if when is not None else ""
            raise NotFoundError(f"no chain of {underlying}{moment}")
        return {"underlying": underlying, "at": when, "expiries": rows}
