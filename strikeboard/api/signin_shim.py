"""STOPGAP for issue 11 (branch h6-spa): the two routes the SPA's sign-in needs, written only
so that its browser test runs before the backend's sign-in (branch h5-signin) is merged.

When merging, keep h5-signin's `/api/auth/config`, `/api/ws/ticket` and `$connect` ticket check
and delete this module with the three lines that use it (app.py, lambdas/ws.py, config.py's
`cognito_domain` if h5 names it otherwise). The contract both sides code against:

- `GET /api/auth/config` (public): `{"mode": "cognito", "authorize_url", "token_url",
  "logout_url", "client_id", "scopes", "redirect_path"}`, or `{"mode": "dev"}`;
- `POST /api/ws/ticket` (bearer): `{"ticket", "expires_in": 30}`; `/ws?ticket=` spends it once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any, Final

import redis
from fastapi import APIRouter, Depends

from strikeboard.auth import Principal
from strikeboard.config import Settings

TICKET_TTL_S: Final = 30
REDIRECT_PATH: Final = "/auth/callback"


def _key(prefix: str, ticket: str) -> str:
    return f"{prefix}ws:ticket:{ticket}"


def issue_ticket(client: redis.Redis, prefix: str, principal: Principal) -> str:
    """A random one-time ticket naming the caller, valid for TICKET_TTL_S."""
    ticket = secrets.token_urlsafe(24)
    body = json.dumps({"user_id": principal.user_id, "username": principal.username})
    client.set(_key(prefix, ticket), body, ex=TICKET_TTL_S)
    return ticket


def redeem_ticket(client: redis.Redis, prefix: str, ticket: str) -> Principal | None:
    """The ticket's caller, once (GETDEL: a second use finds nothing), or None."""
    if not ticket or len(ticket) > 100:
        return None
    raw = client.getdel(_key(prefix, ticket))
    if raw is None:
        return None
    doc = json.loads(raw)
    return Principal(str(doc["user_id"]), str(doc["username"]))


def auth_config(settings: Settings) -> dict[str, Any]:
    if not (settings.cognito_issuer and settings.cognito_domain):
        return {"mode": "dev"}
    domain = settings.cognito_domain.rstrip("/")
    return {
        "mode": "cognito",
        "authorize_url": f"{domain}/oauth2/authorize",
        "token_url": f"{domain}/oauth2/token",
        "logout_url": f"{domain}/logout",
        "client_id": settings.cognito_client_id,
        "scopes": ["openid", "email", "profile"],
        "redirect_path": REDIRECT_PATH,
    }


def add_routes(
    public: APIRouter,
    api: APIRouter,
    settings: Settings,
    hot_client: Callable[[], redis.Redis],
    current_user: Callable[..., Any],
) -> None:
    """`hot_client()`: the API's Redis client (its stores create it on first use)."""

    @public.get("/auth/config", tags=["auth"])
    def get_auth_config() -> dict[str, Any]:
        """How the SPA signs in: Cognito's hosted UI (code flow + PKCE) or the dev token."""
        return auth_config(settings)

    @api.post("/ws/ticket", tags=["auth"])
    def ws_ticket(principal: Principal = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        """A one-time ticket for `/ws?ticket=` (no token in the socket's URL)."""
        ticket = issue_ticket(hot_client(), settings.redis_key_prefix, principal)
        return {"ticket": ticket, "expires_in": TICKET_TTL_S}
