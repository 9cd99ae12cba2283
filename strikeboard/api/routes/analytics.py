"""An expiry's analytics: OI by strike, the intraday aggregates of a day, the IV smile, dealer
gamma exposure; and the daily statistics of the front expiry (IV rank, IV percentile)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from strikeboard.api import analytics_views as views
from strikeboard.api.dependencies import CHAINS, NOW, STORES
from strikeboard.api.followed import FOLLOWED
from strikeboard.api.models import DailyStat, Gex, Intraday, OiAnalytics, Smile
from strikeboard.api.params import CONVENTION, IVLEG, check_day
from strikeboard.store import chain_queries

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/oi", response_model=OiAnalytics)
def analytics_oi(expiry: date, underlying: FOLLOWED, chains: CHAINS) -> dict[str, Any]:
    """OI and change in OI by strike, with totals, PCR and max pain."""
    result = chains.chain(underlying, expiry)
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
    iv_leg: IVLEG = "otm",
) -> dict[str, Any]:  # fmt: skip
    """The IV smile: shown IV (and both legs' IVs) against log-moneyness ln(K/F)."""
    result = chains.chain(underlying, expiry, None, iv_leg)
    doc = result.presented(convention, iv_leg)
    return {"expiry": doc["expiry"], "convention": convention, "forward": doc.get("forward"),
            "t_years": doc.get("t_years"),
            "atm_iv": (doc.get("aggregates") or {}).get("atm_iv"),
            "source": result.source, "stale": result.stale,
            "points": views.smile(doc)}  # fmt: skip


@router.get("/gex", response_model=Gex)
def analytics_gex(expiry: date, underlying: FOLLOWED, chains: CHAINS) -> dict[str, Any]:
    """Dealer gamma exposure by strike (per 1 % move), its total and the flip strike."""
    result = chains.chain(underlying, expiry)
    doc = result.document()
    return {"expiry": doc["expiry"], "spot": doc.get("spot"), "source": result.source,
            "stale": result.stale, **views.gex(doc)}  # fmt: skip


@router.get("/daily", response_model=list[DailyStat])
def analytics_daily(
    underlying: FOLLOWED, stores: STORES, now: NOW,
    days: Annotated[int, Query(ge=1, le=750)] = 30,
) -> list[dict[str, Any]]:  # fmt: skip
    """Daily statistics of the front expiry with IV rank and IV percentile."""
    return views.daily(stores.db, underlying, days, now.date())
