"""An expiry's analytics: OI by strike, the intraday aggregates of a day, the IV smile, dealer
gamma exposure; the daily statistics of the front expiry (IV rank, IV percentile); and the
underlying's volatility surface (every expiry's ATM IV and smile)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from strikeboard.api import analytics_views as views
from strikeboard.api.chain_source import ChainResult
from strikeboard.api.dependencies import CHAINS, NOW, STORES
from strikeboard.api.errors import NotFoundError
from strikeboard.api.followed import FOLLOWED
from strikeboard.api.models import DailyStat, Gex, Intraday, OiAnalytics, Smile, Surface
from strikeboard.api.params import AT, CONVENTION, IVLEG, check_day, minute_ist
from strikeboard.store import chain_queries

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/oi", response_model=OiAnalytics)
def analytics_oi(
    expiry: date, underlying: FOLLOWED, chains: CHAINS, at: AT = None
) -> dict[str, Any]:
    """OI and change in OI by strike, with totals, PCR and max pain; live, or at ``at``."""
    result = chains.chain(underlying, expiry, at)
    doc = result.document()
    agg = doc.get("aggregates") or {}
    return {"expiry": doc["expiry"], "source": result.source, "stale": result.stale,
            "spot": doc.get("spot"), "atm_strike": doc.get("atm_strike"),
            "pcr_oi": agg.get("pcr_oi"), "max_pain": agg.get("max_pain"),
            "call_oi": agg.get("call_oi"), "put_oi": agg.get("put_oi"),
            "strikes": views.oi_by_strike(doc)}  # fmt: skip


@router.get("/intraday", response_model=Intraday)
def analytics_intraday(
    expiry: date,
    underlying: FOLLOWED,
    stores: STORES,
    now: NOW,
    date: Annotated[date | None, Query(description="IST day (default today).")] = None,
) -> dict[str, Any]:
    """Per-minute spot, future, PCR, max pain, ATM IV and straddle of an expiry over a day."""
    day = check_day(date, "date") if date is not None else now.date()
    check_day(expiry, "expiry")
    points = chain_queries.aggregates_of_day(stores.db, underlying, expiry, day)
    return {"expiry": expiry, "date": day, "points": points}


@router.get("/smile", response_model=Smile)
def analytics_smile(
    expiry: date, underlying: FOLLOWED, chains: CHAINS, convention: CONVENTION = "forward",
    iv_leg: IVLEG = "otm", at: AT = None,
) -> dict[str, Any]:  # fmt: skip
    """The IV smile: shown IV (and both legs' IVs) against log-moneyness ln(K/F); live, or
    at ``at``."""
    result = chains.chain(underlying, expiry, at, iv_leg)
    doc = result.presented(convention, iv_leg)
    return {"expiry": doc["expiry"], "convention": convention, "forward": doc.get("forward"),
            "t_years": doc.get("t_years"),
            "atm_iv": (doc.get("aggregates") or {}).get("atm_iv"),
            "source": result.source, "stale": result.stale,
            "points": views.smile(doc)}  # fmt: skip


@router.get("/gex", response_model=Gex)
def analytics_gex(
    expiry: date, underlying: FOLLOWED, chains: CHAINS, at: AT = None
) -> dict[str, Any]:
    """Dealer gamma exposure by strike (per 1 % move), its total and the flip strike; live,
    or at ``at`` (the last archived minute up to it)."""
    result = chains.chain(underlying, expiry, at)
    doc = result.document()
    return {"expiry": doc["expiry"], "spot": doc.get("spot"), "source": result.source,
            "stale": result.stale, "minute": doc.get("minute"), **views.gex(doc)}  # fmt: skip


@router.get("/daily", response_model=list[DailyStat])
def analytics_daily(
    underlying: FOLLOWED, stores: STORES, now: NOW,
    days: Annotated[int, Query(ge=1, le=750)] = 30,
) -> list[dict[str, Any]]:  # fmt: skip
    """Daily statistics of the front expiry with IV rank and IV percentile."""
    return views.daily(stores.db, underlying, days, now.date())


def _surface_row(result: ChainResult) -> dict[str, Any]:
    doc = result.document()
    return {
        "expiry": doc["expiry"], "days_to_expiry": doc.get("days_to_expiry"),
        "forward": doc.get("forward"), "atm_strike": doc.get("atm_strike"),
        "atm_iv": (doc.get("aggregates") or {}).get("atm_iv"),
        "minute": doc.get("minute") if result.source == "archive" else None,
        "source": result.source, "stale": result.stale, "points": views.smile(doc),
    }  # fmt: skip


@router.get("/surface", response_model=Surface)
def analytics_surface(
    underlying: FOLLOWED,
    chains: CHAINS,
    stores: STORES,
    at: Annotated[
        datetime | None,
        Query(description="A past minute (ISO; naive = IST): the expiries alive then, each "
              "at its last archived minute up to it."),
    ] = None,
) -> dict[str, Any]:  # fmt: skip
    """Term structure and volatility surface: per expiry (nearest first) its ATM IV and its
    strikes' IVs with log-moneyness ln(K/F); live, or at the minute ``at``. The numbers are
    the chain documents' (the ATM IV their aggregate, the smile `GET /analytics/smile`'s)."""
    when = minute_ist(at, "at") if at is not None else None
    if when is None:
        listed = [e["expiry"] for e in chains.expiries(underlying)]
    else:
        listed = chain_queries.expiries_archived_on(stores.db, underlying, when)
    rows = []
    for expiry in listed:
        try:
            rows.append(_surface_row(chains.chain(underlying, expiry, when)))
        except NotFoundError:
            continue  # listed (a live expiry) but no chain of it anywhere yet
    if not rows:
        moment = f" on {when.date()} up to {when:%H:%M} IST" if when is not None else ""
        raise NotFoundError(f"no chain of {underlying}{moment}")
    return {"underlying": underlying, "at": when, "expiries": rows}
