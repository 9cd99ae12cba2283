"""The daily Kite login's two routes, on the main API (locally: `strikeboard dev`) and on an app
of their own (`create_kite_login_app`, the Kite login Lambda: outside the VPC, it reaches Kite
and Secrets Manager but not Redis or PostgreSQL). Each app puts its `KiteLogin` (where the
token goes) in ``app.state.kite_login``; the routes are given it as a dependency.

- `POST /api/auth/kite/login` (admin group only) -> the Kite login URL with a signed, expiring
  `state` in `redirect_params` (`strikeboard.api.kite_state`); the same state goes into an
  HttpOnly cookie (Path=/api/auth/kite, SameSite=Lax, Secure over https).
- `GET /api/auth/kite/callback` (public: a browser navigation from Kite) stores the day's token
  only when `state` equals this browser's cookie (double submit: login CSRF), its signature
  verifies and it has not expired; the cookie is then cleared (single use).

Nothing here imports a store driver (nor `strikeboard.api.dependencies`, which does): the app
with Redis hands in `TokenRedis`, the Lambda none.
"""

from __future__ import annotations

import hmac
import html
import logging
import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from strikeboard.api import kite_login
from strikeboard.api.errors import BadRequestError, UnavailableError, add_error_handlers
from strikeboard.api.guard import USER, current_user, protect
from strikeboard.api.kite_login import TokenRedis
from strikeboard.api.kite_state import (
    MAX_STATE_CHARS,
    ExpiredStateError,
    InvalidStateError,
    StateSigner,
    state_key,
)
from strikeboard.api.models import Problem
from strikeboard.config import Settings

log = logging.getLogger(__name__)

KITE_LOGIN = "https://kite.zerodha.com"
KITE_API = "https://api.kite.trade"
STATE_COOKIE = "sb_kite_state"
STATE_COOKIE_PATH = "/api/auth/kite"
CALLBACK_PATH = "/api/auth/kite/callback"
NO_STATE = "The Kite callback carries no state: start the Kite login from Strikeboard."
OTHER_BROWSER = (
    "This Kite login was not started in this browser (its state does not match): start it "
    "again from Strikeboard."
)
EXPIRED = "This Kite login has expired (10 minutes): start it again from Strikeboard."
INVALID = (
    "This Kite login's state is not valid (altered, or from before the Kite API secret "
    "changed): start it again from Strikeboard."
)


class KiteLoginUrl(BaseModel):
    url: str


def kite_login_url(settings: Settings, state: str) -> str:
    """Kite's login page (the simulator's when KITE_API_URL points at it); Kite sends
    `redirect_params` back to the registered redirect URL as query parameters."""
    root = settings.kite_api_url.rstrip("/")
    base = KITE_LOGIN if root == KITE_API else root
    query = urlencode({"v": 3, "api_key": settings.kite_api_key,
                       "redirect_params": urlencode({"state": state})})  # fmt: skip
    return f"{base}/connect/login?{query}"


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Kite login</title></head>
<body>
<h1>Kite login refused</h1><p>{message}</p><p><a href="/">Back to Strikeboard</a></p>
</body></html>"""


def _clear_cookie(request: Request, response: Response) -> None:
    # The attributes it was set with: a browser may keep a Secure cookie that a Set-Cookie
    # without Secure tries to replace.
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH,
                           secure=request.url.scheme == "https", httponly=True,
                           samesite="lax")  # fmt: skip


def _refuse(request: Request, status: int, message: str, *, spent: bool = True) -> Response:
    """The callback's error: a page for the browser Kite sent here, JSON for a script. The
    cookie is cleared once its state is spent, not when another state came (a forged callback
    must not cancel this browser's pending login)."""
    if "text/html" in request.headers.get("accept", ""):
        response: Response = HTMLResponse(_PAGE.format(message=html.escape(message)), status)
    else:
        response = JSONResponse({"detail": message}, status_code=status)
    if spent:
        _clear_cookie(request, response)
    return response


class KiteLogin:
    """What the two routes need: the settings, the app's Redis (`redis`: the local token, the
    cloud notice; None where there is none) and the signer of the login's `state` (`clock`:
    Unix time, for its expiry). One per app, in ``app.state.kite_login``."""

    def __init__(
        self, settings: Settings, redis: TokenRedis | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.redis = redis
        secret = settings.kite_api_secret.get_secret_value()
        self._signer = StateSigner(state_key(secret), clock=clock) if secret else None

    def signer(self) -> StateSigner:
        """The state signer; `UnavailableError` unless a login could complete."""
        kite_login.check_configured(self.settings, self.redis)
        if self._signer is None:  # ruled out by check_configured; for the type checker
            raise UnavailableError(kite_login.NOT_CONFIGURED)
        return self._signer


async def app_kite_login(request: Request) -> KiteLogin:
    login: KiteLogin = request.app.state.kite_login
    return login


LOGIN = Annotated[KiteLogin, Depends(app_kite_login)]

router = APIRouter(tags=["auth"])
"""The login's start, for signed-in callers."""
public_router = APIRouter(tags=["auth"])
"""The callback: a browser navigation from Kite, without the Authorization header."""

_NOT_ADMIN: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "Not in the admin group."}
}


@router.post("/auth/kite/login", response_model=KiteLoginUrl, responses=_NOT_ADMIN)
def kite_login_start(
    request: Request, response: Response, principal: USER, login: LOGIN
) -> dict[str, str]:
    """Start the daily Kite login (admin group only): Kite's login URL, whose
    `redirect_params` carry a fresh signed `state`, also set as the HttpOnly
    `sb_kite_state` cookie; open the URL in this browser."""
    settings = login.settings
    if not principal.in_group(settings.admin_group):
        raise HTTPException(403, f"the Kite login is for the {settings.admin_group!r} group")
    states = login.signer()
    try:
        state = states.issue(principal.user_id)
    except ValueError as exc:
        raise BadRequestError(f"cannot start a Kite login for this user: {exc}") from exc
    response.set_cookie(STATE_COOKIE, state, max_age=states.ttl_s, path=STATE_COOKIE_PATH,
                        secure=request.url.scheme == "https", httponly=True,
                        samesite="lax")  # fmt: skip
    return {"url": kite_login_url(settings, state)}


@public_router.get("/auth/kite/callback", status_code=302, response_class=RedirectResponse,
                   responses={400: {"model": Problem}, 403: {"model": Problem},
                              503: {"model": Problem}})  # fmt: skip
def kite_callback(
    request: Request,
    request_token: Annotated[str, Query(min_length=1, max_length=200)],
    login: LOGIN,
    state: Annotated[str | None, Query(max_length=MAX_STATE_CHARS)] = None,
    status: Annotated[str, Query(max_length=50)] = "success",
) -> Response:
    """Kite sends the browser here after its login: the request_token is exchanged and
    the access token stored (where the feed reads it) only when `state` matches this
    browser's `sb_kite_state` cookie, is signed by this deployment and has not expired;
    then back to the SPA."""
    if not state:
        return _refuse(request, 400, NO_STATE, spent=False)
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), state.encode()):
        return _refuse(request, 403, OTHER_BROWSER, spent=False)
    try:
        user = login.signer().verify(state)
    except UnavailableError as exc:
        return _refuse(request, 503, str(exc), spent=False)
    except ExpiredStateError:
        return _refuse(request, 403, EXPIRED)
    except InvalidStateError:
        return _refuse(request, 403, INVALID)
    if status != "success":
        return _refuse(request, 400, f"Kite login did not succeed (status={status!r}).")
    settings = login.settings
    try:
        kite_login.exchange_and_store(settings, request_token, login.redis)
    except BadRequestError as exc:
        return _refuse(request, 400, str(exc))
    except UnavailableError as exc:
        return _refuse(request, 503, str(exc))
    log.info("Kite token stored (login started by user %s)", user)
    sep = "&" if "?" in settings.api_spa_url else "?"
    done = RedirectResponse(f"{settings.api_spa_url}{sep}kite=ok", status_code=302)
    _clear_cookie(request, done)
    return done


def create_kite_login_app(settings: Settings, clock: Callable[[], float] = time.time) -> FastAPI:
    """An app with only the two Kite login routes, behind the main API's guards (`AuthFirst`,
    the body limit) and error answers, and no Redis or PostgreSQL: the token goes to the
    Secrets Manager secret KITE_SECRET_NAME, with no Redis notice. No docs or schema (the main
    API's /api/openapi.json describes these routes)."""
    app = FastAPI(title="Strikeboard Kite login", docs_url=None, openapi_url=None,
                  redoc_url=None)  # fmt: skip
    app.state.settings = settings
    app.state.kite_login = KiteLogin(settings, None, clock)
    add_error_handlers(app)
    app.include_router(public_router, prefix="/api")
    app.include_router(router, prefix="/api", dependencies=[Depends(current_user)])
    protect(app, settings, {CALLBACK_PATH})
    return app
