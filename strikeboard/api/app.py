"""The FastAPI application: every route under /api (docs/api.md).

`create_app(settings)` assembles it: the routers of `strikeboard.api.routes` (one per
resource), the guards in front of them (`strikeboard.api.guard.protect`: the body limit, then
authentication before any body is read) and the error answers. `lambdas/http_api.py` wraps it
with Mangum for API Gateway and the local gateway serves the same object. Each data route needs
a bearer token in the Authorization header, or the claims API Gateway's JWT authorizer already
checked; the public routes are the status, the sign-in settings and the Kite callback. The
Kite login's routes also have an app of their own, for the cloud's Kite login Lambda
(`strikeboard.api.routes.kite_login.create_kite_login_app`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from strikeboard.api.alert_models import declare_rule_choices
from strikeboard.api.errors import add_error_handlers
from strikeboard.api.guard import current_user, protect
from strikeboard.api.models import Problem
from strikeboard.api.routes import (
    alert_email,
    alerts,
    analytics,
    auth,
    chain,
    export,
    history,
    kite_login,
    market,
    preferences,
    status,
    strategy,
)
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.market import clock as market_clock
from strikeboard.market.calendar import IST
from strikeboard.store.errors import StoreError

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A parameter is unusable."},
    401: {"model": Problem, "description": "Missing or invalid token."},
    404: {"model": Problem, "description": "Nothing there."},
    413: {"model": Problem, "description": "The body is over 64 KiB."},
    422: {"model": Problem, "description": "A parameter has the wrong type or range."},
    503: {"model": Problem, "description": "Redis and/or PostgreSQL are down."},
}
"""The answers every authenticated route may give besides its own."""
PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    422: ERRORS[422],
    503: {"model": Problem, "description": "Not configured or a dependency is down."},
}


PREFIX = "/api"
PUBLIC_ROUTERS = (status.router, auth.public_router, kite_login.public_router)
"""Open to anyone: the status, the sign-in settings, the Kite callback (a browser navigation)."""
AUTHENTICATED_ROUTERS = (
    auth.router, kite_login.router, market.router, chain.router, history.router,
    analytics.router, preferences.router, strategy.router, export.router,
    alert_email.router, alerts.router,  # /alerts/email before /alerts/{rule_id}
)  # fmt: skip
"""Behind `current_user` (and `AuthFirst`, which refuses a caller before the body is read)."""


def wall_clock() -> datetime:
    """The market's time when no MARKET_CLOCK is set: now, in IST."""
    return datetime.now(IST)


def create_app(
    settings: Settings,
    stores: Stores | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The API over ``stores`` (created lazily from ``settings`` when omitted); ``clock`` is
    the market's time in IST (default: MARKET_CLOCK's, else the wall clock)."""
    if clock is None:
        anchored = market_clock.parse(settings.market_clock, settings.market_clock_speed)
        clock = wall_clock if anchored.is_wall else anchored.now
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
    # What the routes' dependencies hand them (strikeboard.api.dependencies).
    app.state.settings = settings
    app.state.stores = store
    app.state.clock = clock
    app.state.kite_login = kite_login.KiteLogin(settings, auth.RedisTokens(store))

    add_error_handlers(app)

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"storage unavailable: {exc}"}, status_code=503)

    for router in PUBLIC_ROUTERS:
        app.include_router(router, prefix=PREFIX, responses=PUBLIC_ERRORS)
    for router in AUTHENTICATED_ROUTERS:
        app.include_router(router, prefix=PREFIX, dependencies=[Depends(current_user)],
                           responses=ERRORS)  # fmt: skip

    open_paths = {PREFIX + route.path for r in PUBLIC_ROUTERS for route in r.routes
                  if isinstance(route, APIRoute)}  # fmt: skip
    open_paths |= {p for p in (app.docs_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url)
                   if p}  # fmt: skip
    protect(app, settings, open_paths)
    _declare_underlyings(app, [u.name for u in settings.underlying_list],
                         bool(settings.alerts_topic_arn))  # fmt: skip
    return app


def _declare_underlyings(app: FastAPI, followed: list[str], email: bool) -> None:
    """The schema names the followed underlyings: every `underlying` parameter, and the
    strategy request's and alert rule's, is one of them (the first by default), as
    `followed_name` enforces (400 for another name); an alert rule offers e-mail only where
    ALERTS_TOPIC_ARN is set."""
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
            declare_rule_choices(schema, followed, email)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
