"""Pure ASGI guards in front of the routes: who is calling, then how much they may send.

Route dependencies run only after FastAPI has read and parsed the body, so a caller without a
token could make the server read 100 MB before its 401 (issue 13). `AuthFirst` decides from
the headers alone (API Gateway's verified claims, else `Authorization: Bearer`), before any
body is read, and hands the principal to the `current_user` dependency; `BodyLimit` refuses
a declared Content-Length over the limit and stops reading a streamed body at the limit.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strikeboard.auth import AuthError, Principal, authenticate, principal_from_claims
from strikeboard.config import Settings

MAX_BODY_BYTES = 64 * 1024
"""The largest request body the API reads (preferences are a few hundred bytes)."""

PRINCIPAL = "principal"
"""Key of the authenticated caller in the ASGI scope's "state" (Starlette's request.state)."""


async def send_problem(
    send: Send, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> None:
    """A `{"detail": ...}` JSON answer (the API's Problem) straight on the ASGI channel."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
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
                principal = self.verify(_header(scope, b"authorization"), self.settings)
            except AuthError as exc:
                await send_problem(send, 401, f"not authenticated: {exc}",
                                   {"WWW-Authenticate": "Bearer"})  # fmt: skip
                return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        await self.app(scope, receive, send)


class _TooLargeError(Exception):
    pass


class BodyLimit:
    """413 for a body over `max_bytes`: refused on its Content-Length unread, or, streamed
    (chunked or lying about its length), cut off at the first chunk past the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.max_bytes} bytes"
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await send_problem(send, 400, "Content-Length is not a number")
                return
            if int(declared) > self.max_bytes:
                await send_problem(send, 413, too_large)
                return
        seen = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal seen, over
            if over:  # never read on once over: the app gets an end of stream instead
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _TooLargeError
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:  # whatever the app made of the cut-off body, the answer is 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLargeError):
            await self.app(scope, counted, guarded)
        if over and not started:
            await send_problem(send, 413, too_large)
