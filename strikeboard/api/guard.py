"""Authentication before the body: a pure ASGI middleware in front of the routes.

Route dependencies run only after FastAPI has read and parsed the body, so a caller without a
token could make the server read 100 MB before its 401 (issue 13). `AuthFirst` decides from
the headers alone (API Gateway's verified claims, else `Authorization: Bearer`), before any
body is read, and hands the principal to the `current_user` dependency. Body sizes:
`strikeboard.api.limits`. `protect` puts both in front of an app (the main API and the Kite
login app get the same guards).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from strikeboard.api.errors import UnauthorizedError
from strikeboard.api.limits import MAX_BODY_BYTES, BodyLimit, header_value, send_problem
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


async def current_user(request: Request) -> Principal:
    """The caller `AuthFirst` authenticated before the body was read; else (an app without the
    guard, as in some tests) API Gateway's verified claims or the bearer token.

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


def protect(app: FastAPI, settings: Settings, public: Iterable[str]) -> None:
    """The body limit, then `AuthFirst` outermost: the caller is known before any body is read
    (issue 13). Call it after every route is added; `public` are the paths open to anyone."""
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(AuthFirst, settings=settings, public=public)
