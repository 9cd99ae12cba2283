"""Request body limits, as a pure ASGI middleware (no framework, no settings: the local
gateway wraps itself in it too, without importing the API).

`BodyLimit` refuses a declared Content-Length over the limit unread and stops reading a
streamed body (chunked, or lying about its length) at the first chunk past it: 413 either way.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
"""The largest request body the API reads (preferences are a few hundred bytes)."""


async def send_problem(
    send: Send, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> None:
    """A `{"detail": ...}` JSON answer (the API's Problem) straight on the ASGI channel."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def header_value(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class _TooLargeError(Exception):
    pass


class BodyLimit:
    """413 for a body over `max_bytes` (see the module's docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.max_bytes} bytes"
        declared = header_value(scope, b"content-length")
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
