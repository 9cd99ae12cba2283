"""GET /api/chain/{expiry}: the priced chain of an expiry, live or archived, in either IV
convention, optionally windowed around the ATM."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from strikeboard.api import chain as chain_doc
from strikeboard.api.dependencies import CHAINS
from strikeboard.api.followed import FOLLOWED
from strikeboard.api.models import Chain
from strikeboard.api.params import AT, CONVENTION, IVLEG
from strikeboard.store import snapshot as snap

router = APIRouter(tags=["chain"])


@router.get("/chain/{expiry}", response_model=Chain)
def get_chain(
    expiry: date,
    underlying: FOLLOWED,
    chains: CHAINS,
    convention: CONVENTION = "forward",
    strikes: Annotated[
        int | None, Query(ge=1, le=200, description="Strikes each side of the ATM.")
    ] = None,
    at: AT = None,
    iv_leg: IVLEG = "otm",
) -> Any:
    """The priced chain of an expiry: live from Redis, the last session from PostgreSQL
    when Redis has none (stale), or the archived chain at the minute ``at``."""
    result = chains.chain(underlying, expiry, at, iv_leg)
    if result.live is not None and convention == "forward" and strikes is None:
        # Fast path: the stored JSON is spliced, not parsed and re-encoded.
        head = snap.dumps({"seq": result.live.seq, "source": "live", "stale": result.stale,
                           "age_s": result.age_s, "convention": "forward"})  # fmt: skip
        body = head[:-1].encode() + b"," + result.live.data[1:]
        return Response(body, media_type="application/json")
    doc = result.presented(convention, iv_leg)
    if strikes is not None:
        doc = chain_doc.window(doc, strikes)
    return Response(snap.dumps(doc), media_type="application/json")
