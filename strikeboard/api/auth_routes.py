"""Sign-in routes: who is calling, the SPA's sign-in settings, `/ws` tickets, the Kite login.

- `current_user`: API Gateway's verified JWT claims, else `Authorization: Bearer` (never a
  query parameter).
- `GET /api/auth/config` (public): the hosted UI endpoints and client id, or `{"mode": "dev"}`.
- `POST /api/ws/ticket`: a one-time ticket for `/ws?ticket=` (30 s).
- `POST /api/auth/kite/login` (admin group only) -> the Kite login URL with a random `state`
  in `redirect_params`; the same state goes into an HttpOnly cookie and into Redis (bound to
  the user, 10 min, one-time).
- `GET /api/auth/kite/callback` (public: a browser navigation from Kite) stores the day's
  token only when `state` matches the cookie and an unused stored state (login CSRF).
"""

from __future__ import annotations

import hmac
import html
import logging
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from strikeboard.api import kite_login
from strikeboard.api.guard import PRINCIPAL, claims_principal
from strikeboard.api.models import Problem
from strikeboard.api.service import BadRequestError
from strikeboard.api.stores import Stores, UnavailableError
from strikeboard.auth import AuthError, Principal, authenticate
from strikeboard.config import Settings
from strikeboard.store.auth_state import KITE_STATE_TTL_S, TICKET_TTL_S, AuthState

log = logging.getLogger(__name__)

KITE_LOGIN = "https://kite.zerodha.com"
KITE_API = "https://api.kite.trade"
STATE_COOKIE = "sb_kite_state"
STATE_COOKIE_PATH = "/api/auth/kite"
SCOPES = ["openid", "email", "profile"]
NO_STATE = "The Kite callback carries no state: start the Kite login from Strikeboard."
OTHER_BROWSER = (
    "This Kite login was not started in this browser (its state does not match): start it "
    "again from Strikeboard."
)
SPENT = "This Kite login has expired or was already used: start it again from Strikeboard."
REDIRECT_PATH = "/auth/callback"


class UnauthorizedError(Exception):
    """Raised by the auth dependency; answered 401."""


async def current_user(request: Request) -> Principal:
    """The caller `guard.AuthFirst` authenticated before the body was read; else (an app
    without the guard, as in some tests) API Gateway's verified claims or the bearer token.

    Async on purpose: the check is CPU only (the JWKS is fetched once and cached), and a sync
    dependency would cost every request a thread-pool round trip."""
    known = request.scope.get(PRINCIPAL)
    if isinstance(known, Principal):
        return known
    principal = claims_principal(request.scope)
    if principal is not None:
        return principal
    header = request.headers.get("authorization", "")
    try:
        return authenticate(header or None, request.app.state.settings)
    except AuthError as exc:
        raise UnauthorizedError(str(exc)) from exc


USER = Annotated[Principal, Depends(current_user)]


class AuthConfig(BaseModel):
    """How the SPA signs in: the Cognito hosted UI (authorization code + PKCE) or the local
    dev token. The SPA's redirect URI is its origin + `redirect_path`."""

    mode: Literal["cognito", "dev"]
    authorize_url: str | None = None
    token_url: str | None = None
    logout_url: str | None = None
    client_id: str | None = None
    scopes: list[str] | None = None
    redirect_path: str | None = None


class WsTicket(BaseModel):
    ticket: str
    expires_in: int


class KiteLoginUrl(BaseModel):
    url: str


def auth_config(settings: Settings) -> dict[str, Any]:
    """`GET /api/auth/config`'s body (unset fields are left out)."""
    domain = settings.cognito_domain.rstrip("/")
    if not (domain and settings.cognito_client_id):
        return {"mode": "dev"}
    return {"mode": "cognito", "authorize_url": f"{domain}/oauth2/authorize",
            "token_url": f"{domain}/oauth2/token", "logout_url": f"{domain}/logout",
            "client_id": settings.cognito_client_id, "scopes": SCOPES,
            "redirect_path": REDIRECT_PATH}  # fmt: skip


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


def _refuse(request: Request, status: int, message: str, *, spent: bool = True) -> Response:
    """The callback's error: a page for the browser Kite sent here, JSON for a script. The
    cookie is cleared once its state is spent, not when another state came (a forged callback
    must not cancel this browser's pending login)."""
    if "text/html" in request.headers.get("accept", ""):
        response: Response = HTMLResponse(_PAGE.format(message=html.escape(message)), status)
    else:
        response = JSONResponse({"detail": message}, status_code=status)
    if spent:
        response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return response


def add_auth_routes(public: APIRouter, api: APIRouter, settings: Settings, store: Stores) -> None:
    """Register the sign-in routes on the public and the authenticated /api routers."""

    @public.get("/auth/config", response_model=AuthConfig, response_model_exclude_none=True,
                tags=["auth"])  # fmt: skip
    def get_auth_config() -> dict[str, Any]:
        """How to sign in: `mode` "cognito" with the hosted UI's endpoints, or "dev"."""
        return auth_config(settings)

    @api.post("/ws/ticket", response_model=WsTicket, tags=["auth"])
    def ws_ticket(principal: USER) -> dict[str, Any]:
        """A one-time ticket for `/ws?ticket=` (valid 30 s): no token travels in a URL."""
        ticket = AuthState.of(store.hot).issue_ticket(principal, TICKET_TTL_S)
        return {"ticket": ticket, "expires_in": TICKET_TTL_S}

    not_admin: dict[int | str, dict[str, Any]] = {
        403: {"model": Problem, "description": "Not in the admin group."}
    }

    @api.post("/auth/kite/login", response_model=KiteLoginUrl, tags=["auth"], responses=not_admin)
    def kite_login_start(request: Request, response: Response, principal: USER) -> dict[str, str]:
        """Start the daily Kite login (admin group only): Kite's login URL, whose
        `redirect_params` carry a fresh `state`, also set as the HttpOnly `sb_kite_state`
        cookie; open the URL in this browser."""
        if not principal.in_group(settings.admin_group):
            raise HTTPException(403, f"the Kite login is for the {settings.admin_group!r} group")
        if not settings.kite_api_key:
            raise UnavailableError("Kite login is not configured: set KITE_API_KEY")
        state = AuthState.of(store.hot).issue_kite_state(principal.user_id, KITE_STATE_TTL_S)
        response.set_cookie(STATE_COOKIE, state, max_age=KITE_STATE_TTL_S,
                            path=STATE_COOKIE_PATH, secure=request.url.scheme == "https",
                            httponly=True, samesite="lax")  # fmt: skip
        return {"url": kite_login_url(settings, state)}

    @public.get("/auth/kite/callback", tags=["auth"], status_code=302,
                response_class=RedirectResponse,
                responses={400: {"model": Problem}, 403: {"model": Problem},
                           503: {"model": Problem}})  # fmt: skip
    def kite_callback(
        request: Request,
        request_token: Annotated[str, Query(min_length=1, max_length=200)],
        state: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[str, Query(max_length=50)] = "success",
    ) -> Response:
        """Kite sends the browser here after its login: the request_token is exchanged and
        the access token stored (where the feed reads it) only when `state` matches this
        browser's `sb_kite_state` cookie and a pending login; then back to the SPA."""
        if not state:
            return _refuse(request, 400, NO_STATE, spent=False)
        cookie = request.cookies.get(STATE_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie.encode(), state.encode()):
            return _refuse(request, 403, OTHER_BROWSER, spent=False)
        user = AuthState.of(store.hot).redeem_kite_state(state)
        if user is None:
            return _refuse(request, 403, SPENT)
        if status != "success":
            return _refuse(request, 400, f"Kite login did not succeed (status={status!r}).")
        try:
            kite_login.exchange_and_store(settings, store, request_token)
        except BadRequestError as exc:
            return _refuse(request, 400, str(exc))
        except UnavailableError as exc:
            return _refuse(request, 503, str(exc))
        log.info("Kite token stored (login started by user %s)", user)
        sep = "&" if "?" in settings.api_spa_url else "?"
        done = RedirectResponse(f"{settings.api_spa_url}{sep}kite=ok", status_code=302)
        done.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
        return done
