"""Sign-in routes: the SPA's sign-in settings and `/ws` tickets; `RedisTokens`, where the Kite
login's routes (`strikeboard.api.routes.kite_login`) put the token in an app with Redis.

- `GET /api/auth/config` (public): the hosted UI endpoints and client id, or `{"mode": "dev"}`.
- `POST /api/ws/ticket`: a one-time ticket for `/ws?ticket=` (30 s).
- `POST /api/auth/kite/login`, `GET /api/auth/kite/callback`: see `kite_login`; in the main
  app the token goes to Redis (local) or, with KITE_SECRET_NAME, to Secrets Manager followed
  by the Redis notice that wakes the feed.

Who is calling: `strikeboard.api.guard.current_user`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from strikeboard.api.dependencies import SETTINGS, STORES
from strikeboard.api.errors import UnavailableError
from strikeboard.api.guard import USER
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.store.auth_state import TICKET_TTL_S, AuthState
from strikeboard.store.errors import StoreError

SCOPES = ["openid", "email", "profile"]
REDIRECT_PATH = "/auth/callback"


class RedisTokens:
    """`kite_login.TokenRedis` over this app's Redis (lazily connected)."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def write_access_token(self, access_token: str) -> None:
        try:
            self.stores.hot.write_access_token(access_token)
        except StoreError as exc:
            raise UnavailableError("could not store the Kite token: Redis is unavailable") from exc

    def bump_token_notice(self) -> None:
        try:
            self.stores.hot.bump_token_notice()
        except StoreError as exc:
            raise UnavailableError(str(exc)) from exc


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


def auth_config(settings: Settings) -> dict[str, Any]:
    """`GET /api/auth/config`'s body (unset fields are left out)."""
    domain = settings.cognito_domain.rstrip("/")
    if not (domain and settings.cognito_client_id):
        return {"mode": "dev"}
    return {"mode": "cognito", "authorize_url": f"{domain}/oauth2/authorize",
            "token_url": f"{domain}/oauth2/token", "logout_url": f"{domain}/logout",
            "client_id": settings.cognito_client_id, "scopes": SCOPES,
            "redirect_path": REDIRECT_PATH}  # fmt: skip


public_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])


@public_router.get("/auth/config", response_model=AuthConfig, response_model_exclude_none=True)
def get_auth_config(settings: SETTINGS) -> dict[str, Any]:
    """How to sign in: `mode` "cognito" with the hosted UI's endpoints, or "dev"."""
    return auth_config(settings)


@router.post("/ws/ticket", response_model=WsTicket)
def ws_ticket(principal: USER, stores: STORES) -> dict[str, Any]:
    """A one-time ticket for `/ws?ticket=` (valid 30 s): no token travels in a URL."""
    ticket = AuthState.of(stores.hot).issue_ticket(principal, TICKET_TTL_S)
    return {"ticket": ticket, "expires_in": TICKET_TTL_S}
