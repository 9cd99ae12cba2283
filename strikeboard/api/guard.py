"""Authentication before the body: a pure ASGI middleware in front of the routes.

Route dependencies run only after FastAPI has read and parsed the body, so a caller without a
token could make the server read 100 MB before its 401 (issue 13). `AuthFirst` decides from
the headers alone (API Gateway's verified claims, else `Authorization: Bearer`), before any
body is read, and hands the principal to the `current_user` dependency. Body sizes:
`strikeboard.api.limits`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from strikeboard.api.limits import header_value, send_problem
from strikeboard.auth import AuthError, Principal, authenticate, principal_from_claims
from strikeboard.config import Settings

PRINCIPAL = "strikeboard.principal"
"""Scope key of the authenticated caller: the scope is per request, whereas a server may share
its "state" dict (lifespan state) between requests."""


def claims_principal(scope: Scope) -> Principal | None:
    """The caller named by claims API Gateway's JWT authorizer verified (only behind API
    Gateway, where Mangum puts the event in the scope); None without usable claims."""
    event = scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    try:
        return principal_from_claims(event["requestContext"]["authorizer"]["jwt"]["claims"])
    except (KeyError, TypeError, AttributeError):
        return None


class AuthFirst:
    """401 before the body is read on every /api path except `public` ones."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        public: Iterable[str],
        verify: Callable[[str | None, Settings], Principal] = authenticate,
    ) -> None:
        self.app = app
        self.settings = settings
        self.public = frozenset(public)
        self.verify = verify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.public or not path.startswith("/api"):
            await self.app(scope, receive, send)
            return
        principal = claims_principal(scope)
        if principal is None:
            try:
                principal = self.verify(header_value(scope, b"authorization"), self.settings)
            except AuthError as exc:
                await send_problem(send, 401, f"not authenticated: {exc}",
                                   {"WWW-Authenticate": "Bearer"})  # fmt: skip
                return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)
