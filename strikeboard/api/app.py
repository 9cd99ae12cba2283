"""The FastAPI application: every route under /api (docs/api.md).

`create_app(settings)` builds it; `lambdas/http_api.py` wraps it with Mangum for API Gateway
and the local gateway mounts the same object. Each data route needs a bearer token in the
Authorization header, or the claims API Gateway's JWT authorizer already checked
(`strikeboard.api.guard`; sign-in routes: `strikeboard.api.auth_routes`, the Kite login's:
`strikeboard.api.kite_routes`, which the cloud serves from a Lambda of its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from strikeboard import redact
from strikeboard.api import chain as chain_doc
from strikeboard.api import service as svc
from strikeboard.api.auth_routes import add_auth_routes
from strikeboard.api.errors import (
    NotFoundError,
    UnavailableError,
    add_error_handlers,
)
from strikeboard.api.export import add_export_routes
from strikeboard.api.followed import FOLLOWED, UNDERLYING, followed_underlying
from strikeboard.api.guard import USER, current_user, protect
from strikeboard.api.models import (
    FEED_TOKEN_STATES,
    Candle,
    Chain,
    ContractSeries,
    DailyStat,
    Expiry,
    Gex,
    Health,
    Intraday,
    Market,
    OiAnalytics,
    Preferences,
    Problem,
    Smile,
    TickPage,
    UnderlyingInfo,
)
from strikeboard.api.stores import Stores
from strikeboard.api.strategy import add_strategy_routes
from strikeboard.api.surface import add_surface_routes
from strikeboard.auth import AuthError, authenticate
from strikeboard.chain.conventions import IvLeg
from strikeboard.config import Settings
from strikeboard.market import clock as market_clock
from strikeboard.market.calendar import market_open
from strikeboard.market.feed_hours import feed_scheduled
from strikeboard.store import snapshot as snap
from strikeboard.store.errors import StoreError

TOKEN = Annotated[int, Query(gt=0, lt=2**40, description="Kite instrument token.")]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A parameter is unusable."},
    401: {"model": Problem, "description": "Missing or invalid token."},
    404: {"model": Problem, "description": "Nothing there."},
    413: {"model": Problem, "description": "The body is over 64 KiB."},
    422: {"model": Problem, "description": "A parameter has the wrong type or range."},
    503: {"model": Problem, "description": "Redis and/or PostgreSQL are down."},
}


CONVENTION = Annotated[Literal["forward", "nse"], Query(description="IV/Greeks convention.")]
IVLEG = Annotated[
    Literal["otm", "call", "put"], Query(description="Which leg's IV a strike shows.")
]


def create_app(
    settings: Settings,
    stores: Stores | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The API over ``stores`` (created lazily from ``settings`` when omitted); ``clock`` is
    the market's time in IST (default: MARKET_CLOCK's, else the wall clock looked up at each
    call)."""
    if clock is None:
        anchored = market_clock.parse(settings.market_clock, settings.market_clock_speed)
        # The wall clock late-bound: tests replace svc.now_ist.
        clock = (lambda: svc.now_ist()) if anchored.is_wall else anchored.now  # noqa: PLW0108
    store = stores if stores is not None else Stores(settings)
    app = FastAPI(
        title="Strikeboard API",
        version="1.0",
        description="Live option chains of NIFTY and the other followed indices (UNDERLYINGS): "
        "snapshots, history, analytics, preferences.",
        docs_url="/api/docs" if settings.api_docs else None,  # API_DOCS: off in the cloud
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.stores = store
    app.state.settings = settings

    add_error_handlers(app)

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"storage unavailable: {exc}"}, status_code=503)

    public = APIRouter(
        prefix="/api",
        responses={
            422: ERRORS[422],
            503: {"model": Problem, "description": "Not configured or a dependency is down."},
        },
    )
    api = APIRouter(prefix="/api", dependencies=[Depends(current_user)], responses=ERRORS)
    followed = [u.name for u in settings.underlying_list]

    # -- public -------------------------------------------------------------------------------

    @public.get("/health", response_model=Health, tags=["status"])
    def health(request: Request) -> dict[str, Any]:
        """Feed state (connected, token, last tick age), store reachability, market hours.
        Anonymous callers get states and counters only; a signed-in caller also the feed's
        (sanitized) error texts."""
        now = clock()
        redis_ok = True
        try:
            doc = svc.read_health(store)
        except StoreError:
            doc, redis_ok = None, False
        if doc is not None:
            try:
                authenticate(request.headers.get("authorization") or None, settings)
                signed_in = True
            except AuthError:
                signed_in = False
            doc = redact.health_view(doc, signed_in=signed_in)
        database_ok = store.database_ok()
        fresh = svc.feed_freshness(doc, settings.api_stale_after_s, time.time())
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
        quiet = is_open and (age is None or age > svc.TICKS_STALE_AFTER_S)
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
                "market_open": is_open, "session": svc.session(store, now, redis_ok),
                "now": now}  # fmt: skip

    add_auth_routes(public, api, settings, store)

    # -- market -------------------------------------------------------------------------------

    @api.get("/underlyings", response_model=list[UnderlyingInfo], tags=["market"])
    def underlyings() -> list[dict[str, Any]]:
        """The underlyings this deployment follows, in configured order (the first is the
        default of every `underlying` parameter); lot sizes from the nearest expiry."""
        out = []
        for u in settings.underlying_list:
            try:
                listed = svc.expiries(store, u.name, clock())
            except (StoreError, UnavailableError):
                listed = []
            out.append({"name": u.name, "exchange": u.exchange, "spot_symbol": u.spot_symbol,
                        "strike_step": u.strike_step, "vix_symbol": u.vix_symbol,
                        "lot_size": next((e["lot_size"] for e in listed if e["lot_size"]),
                                         None)})  # fmt: skip
        return out

    @api.get("/market", response_model=Market, tags=["market"])
    def market(
        request: Request,
        underlying: UNDERLYING = None,
        at: Annotated[
            datetime | None,
            Query(description="A past minute (ISO; naive = IST): the quotes as they were then."),
        ] = None,
    ) -> dict[str, Any]:
        """Spot, VIX and futures: live from Redis, else the last archived candles (stale); at
        a past minute, that minute's candles with the change from the previous session's close
        (404 when that day has none)."""
        names = followed if underlying is None else [followed_underlying(request, underlying)]
        now = clock()
        open_now = market_open(now)
        if at is not None:
            when = svc.as_ist(at, "at").replace(second=0, microsecond=0)
            past = svc.market_at(store, when, names)
            if not past:
                raise NotFoundError(f"no quotes archived on {when.date()} up to {when:%H:%M} IST")
            behind = max(0.0, now.timestamp() - when.timestamp())
            return {"instruments": past, "stale": True, "age_s": round(behind, 3),
                    "market_open": open_now, "source": "archive"}  # fmt: skip
        instruments: dict[str, Any] = {}
        health: dict[str, Any] | None = None
        redis_down = False
        try:
            instruments = {
                name: doc for name, doc in store.hot.read_market().items()
                # An entry written before entries named their underlying is NIFTY's.
                if doc.get("underlying", "NIFTY") in names
            }  # fmt: skip
            health = svc.read_health(store)
        except StoreError:
            redis_down = True
        if instruments:
            fresh = svc.feed_freshness(health, settings.api_stale_after_s, time.time())
            return {"instruments": instruments, "stale": fresh.stale or not open_now,
                    "age_s": fresh.age_s, "market_open": open_now, "source": "live"}  # fmt: skip
        try:
            archived, age = svc.market_from_archive(store, now, names)
        except UnavailableError as exc:
            if redis_down:
                raise UnavailableError("Redis and PostgreSQL are both unavailable") from exc
            raise
        return {"instruments": archived, "stale": True, "age_s": age, "market_open": open_now,
                "source": "archive"}  # fmt: skip

    @api.get("/expiries", response_model=list[Expiry], tags=["market"])
    def expiries(underlying: FOLLOWED) -> list[dict[str, Any]]:
        """Live expiries, nearest first, with days to expiry, weekly/monthly and lot size."""
        return svc.expiries(store, underlying, clock())

    # -- chain --------------------------------------------------------------------------------

    def load_chain(
        underlying: str, expiry: date, at: datetime | None, convention: str, iv_leg: str
    ) -> svc.ChainResult:
        svc.check_day(expiry, "expiry")
        when = svc.as_ist(at, "at").replace(second=0, microsecond=0) if at is not None else None
        return svc.get_chain(store, underlying, expiry, when, settings.api_stale_after_s,
                             settings.risk_free_rate, IvLeg(iv_leg), clock())  # fmt: skip

    def finish(result: svc.ChainResult, convention: str, iv_leg: str) -> dict[str, Any]:
        doc = result.document()
        if convention == "nse":
            doc = chain_doc.recompute_nse(doc, IvLeg(iv_leg))
        doc.update(source=result.source, stale=result.stale, age_s=result.age_s)
        doc.setdefault("convention", "forward")
        return doc

    @api.get("/chain/{expiry}", response_model=Chain, tags=["chain"])
    def get_chain(
        expiry: date,
        underlying: FOLLOWED,
        convention: CONVENTION = "forward",
        strikes: Annotated[
            int | None, Query(ge=1, le=200, description="Strikes each side of the ATM.")
        ] = None,
        at: Annotated[
            datetime | None, Query(description="A past minute (ISO; naive = IST).")
        ] = None,
        iv_leg: IVLEG = "otm",
    ) -> Any:
        """The priced chain of an expiry: live from Redis, the last session from PostgreSQL
        when Redis has none (stale), or the archived chain at the minute ``at``."""
        result = load_chain(underlying, expiry, at, convention, iv_leg)
        if result.live is not None and convention == "forward" and strikes is None:
            # Fast path: the stored JSON is spliced, not parsed and re-encoded.
            head = snap.dumps({"seq": result.live.seq, "source": "live", "stale": result.stale,
                               "age_s": result.age_s, "convention": "forward"})  # fmt: skip
            body = head[:-1].encode() + b"," + result.live.data[1:]
            return Response(body, media_type="application/json")
        doc = finish(result, convention, iv_leg)
        if strikes is not None:
            doc = chain_doc.window(doc, strikes)
        return Response(snap.dumps(doc), media_type="application/json")

    # -- history ------------------------------------------------------------------------------

    @api.get("/history/ticks", response_model=TickPage, tags=["history"])
    def history_ticks(
        token: TOKEN,
        start: Annotated[datetime, Query(description="From (ISO; naive = IST).")],
        end: Annotated[
            datetime | None, Query(description="Until, exclusive (default start + 1 day).")
        ] = None,
        after: Annotated[
            str | None, Query(max_length=64, description="`next` of the previous page.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> dict[str, Any]:
        """Archived ticks of one instrument in a time range, oldest first, paginated."""
        begin = svc.as_ist(start, "start")
        until = svc.as_ist(end, "end") if end is not None else begin + timedelta(days=1)
        return svc.ticks_page(store, token, begin, until, after, limit)

    @api.get("/history/candles", response_model=list[Candle], tags=["history"])
    def history_candles(
        token: TOKEN, date: Annotated[date, Query(description="IST day.")]
    ) -> list[dict[str, Any]]:
        """One-minute candles of spot, VIX or a future over an IST day."""
        return svc.candles(store, token, svc.check_day(date, "date"))

    @api.get("/history/contract", response_model=ContractSeries, tags=["history"])
    def history_contract(
        token: TOKEN, date: Annotated[date, Query(description="IST day.")]
    ) -> dict[str, Any]:
        """An option's per-minute series over a day: price, IV, Greeks, OI."""
        return svc.contract_series(store, token, svc.check_day(date, "date"))

    # -- analytics ----------------------------------------------------------------------------

    @api.get("/analytics/oi", response_model=OiAnalytics, tags=["analytics"])
    def analytics_oi(expiry: date, underlying: FOLLOWED) -> dict[str, Any]:
        """OI and change in OI by strike, with totals, PCR and max pain."""
        result = load_chain(underlying, expiry, None, "forward", "otm")
        doc = result.document()
        agg = doc.get("aggregates") or {}
        return {"expiry": doc["expiry"], "source": result.source, "stale": result.stale,
                "spot": doc.get("spot"), "atm_strike": doc.get("atm_strike"),
                "pcr_oi": agg.get("pcr_oi"), "max_pain": agg.get("max_pain"),
                "call_oi": agg.get("call_oi"), "put_oi": agg.get("put_oi"),
                "strikes": svc.oi_by_strike(doc)}  # fmt: skip

    @api.get("/analytics/intraday", response_model=Intraday, tags=["analytics"])
    def analytics_intraday(
        expiry: date,
        underlying: FOLLOWED,
        date: Annotated[date | None, Query(description="IST day (default today).")] = None,
    ) -> dict[str, Any]:
        """Per-minute spot, future, PCR, max pain, ATM IV and straddle of an expiry over a day."""
        day = svc.check_day(date, "date") if date is not None else clock().date()
        svc.check_day(expiry, "expiry")
        return {"expiry": expiry, "date": day,
                "points": svc.intraday(store, underlying, expiry, day)}  # fmt: skip

    @api.get("/analytics/smile", response_model=Smile, tags=["analytics"])
    def analytics_smile(
        expiry: date, underlying: FOLLOWED, convention: CONVENTION = "forward",
        iv_leg: IVLEG = "otm",
    ) -> dict[str, Any]:  # fmt: skip
        """The IV smile: shown IV (and both legs' IVs) against log-moneyness ln(K/F)."""
        result = load_chain(underlying, expiry, None, convention, iv_leg)
        doc = finish(result, convention, iv_leg)
        return {"expiry": doc["expiry"], "convention": convention, "forward": doc.get("forward"),
                "t_years": doc.get("t_years"),
                "atm_iv": (doc.get("aggregates") or {}).get("atm_iv"),
                "source": result.source, "stale": result.stale,
                "points": svc.smile(doc)}  # fmt: skip

    @api.get("/analytics/gex", response_model=Gex, tags=["analytics"])
    def analytics_gex(expiry: date, underlying: FOLLOWED) -> dict[str, Any]:
        """Dealer gamma exposure by strike (per 1 % move), its total and the flip strike."""
        result = load_chain(underlying, expiry, None, "forward", "otm")
        doc = result.document()
        return {"expiry": doc["expiry"], "spot": doc.get("spot"), "source": result.source,
                "stale": result.stale, **svc.gex(doc)}  # fmt: skip

    @api.get("/analytics/daily", response_model=list[DailyStat], tags=["analytics"])
    def analytics_daily(
        underlying: FOLLOWED, days: Annotated[int, Query(ge=1, le=750)] = 30
    ) -> list[dict[str, Any]]:
        """Daily statistics of the front expiry with IV rank and IV percentile."""
        return svc.daily(store, underlying, days, clock().date())

    # -- preferences --------------------------------------------------------------------------

    @api.get("/preferences", response_model=Preferences, tags=["preferences"])
    def get_preferences(principal: USER) -> Preferences:
        """The caller's preferences (defaults until saved)."""
        stored = svc.read_preferences(store, principal.user_id)
        if stored is None:
            return Preferences()
        try:
            return Preferences.model_validate(stored)
        except ValueError:
            return Preferences()  # saved under an older schema: start again from defaults

    @api.put("/preferences", response_model=Preferences, tags=["preferences"])
    def put_preferences(body: Preferences, principal: USER) -> Preferences:
        """Replace the caller's preferences."""
        svc.write_preferences(store, principal.user_id, body.model_dump_json())
        return body

    add_strategy_routes(api, settings, store, clock)
    add_export_routes(api, settings, store, clock)
    add_surface_routes(api, settings, store, clock)

    app.include_router(public)
    app.include_router(api)
    open_paths = {route.path for route in public.routes if hasattr(route, "path")}
    open_paths |= {p for p in (app.docs_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url)
                   if p}  # fmt: skip
    protect(app, settings, open_paths)
    _declare_underlyings(app, followed)
    return app


def _declare_underlyings(app: FastAPI, followed: list[str]) -> None:
    """The schema names the followed underlyings: every `underlying` parameter, and the
    strategy request's, is one of them (the first by default), as `followed_name` enforces
    (400 for another name)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema["paths"].values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        if parameter["name"] == "underlying":
                            parameter["schema"] = {"type": "string", "enum": followed}
            strategy = schema["components"]["schemas"]["StrategyRequest"]["properties"]
            strategy["underlying"]["anyOf"] = [{"type": "string", "enum": followed},
                                               {"type": "null"}]  # fmt: skip
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
