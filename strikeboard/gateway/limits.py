"""Bounds on what a client may hold open in the local gateway before its request is known.

uvicorn's httptools protocol waits for request headers without a deadline or a size limit,
and its websockets (sans-I/O) protocol never answers an upgrade that websockets' parser
rejected (a request line over 8 KB): such sockets were held for as long as the client liked
(issue 13). These subclasses answer instead, and promptly:

- headers not complete `header_timeout_s` after the connection opened (or after the previous
  response): 408 and close (slowloris, partial headers);
- a URL over `max_url_bytes`: 414; headers over `max_header_bytes` in all or more than
  `max_headers` of them: 431 (each with ``connection: close``);
- a WebSocket upgrade that websockets cannot parse: 400; one whose handshake (the $connect
  handler included) is not done `open_timeout_s` after the upgrade: 408 and close.

In the cloud, CloudFront and API Gateway do this (docs/security.md). Used by
``python -m strikeboard.gateway`` through `uvicorn_limits`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

HEADER_TIMEOUT_S: Final = 10.0
OPEN_TIMEOUT_S: Final = 10.0
MAX_URL_BYTES: Final = 8192  # CloudFront's limit on a URL
MAX_HEADER_BYTES: Final = 16384  # uvicorn's own h11 default for an incomplete request
MAX_HEADERS: Final = 100
WS_MAX_MESSAGE_BYTES: Final = 128 * 1024  # API Gateway's WebSocket message limit

_REASONS: Final = {
    400: b"Bad Request",
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}


def _response(status: int, text: str) -> bytes:
    body = text.encode()
    return b"".join([
        b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ])  # fmt: skip


class _RefusedError(Exception):
    """Raised from a parser callback to stop parsing a request that is over a limit."""


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and header size limits."""

    header_timeout_s: float = HEADER_TIMEOUT_S
    max_url_bytes: int = MAX_URL_BYTES
    max_header_bytes: int = MAX_HEADER_BYTES
    max_headers: int = MAX_HEADERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None
        self._url_bytes = self._header_bytes = self._header_count = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and sends nothing is timed out too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _timed_out(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a response still running (a pipelined request waits for it)
            return
        if not self.transport.is_closing():
            self.transport.write(_response(408, "request headers not received in time"))
            self.transport.close()

    def _refuse(self, status: int, text: str) -> None:
        self._refusal = (status, text)
        raise _RefusedError(text)

    # Parser callbacks (an exception here makes uvicorn call send_400_response).
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._url_bytes = self._header_bytes = self._header_count = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self.max_url_bytes:
            self._refuse(414, f"URL longer than {self.max_url_bytes} bytes")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.max_header_bytes or self._header_count > self.max_headers:
            self._refuse(
                431, f"at most {self.max_headers} headers, {self.max_header_bytes} bytes in all"
            )
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        if self._refusal is None:
            super().send_400_response(msg)
            return
        status, text = self._refusal
        self.transport.write(_response(status, text))
        self.transport.close()


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol that answers a malformed upgrade and bounds the handshake."""

    open_timeout_s: float = OPEN_TIMEOUT_S

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._open_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.open_timeout_s, self._timed_out
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._open_timer is not None:
            self._open_timer.cancel()
        super().connection_lost(exc)

    def _timed_out(self) -> None:
        self._open_timer = None
        if not self.handshake_complete and not self.transport.is_closing():
            self.transport.write(_response(408, "WebSocket handshake not completed in time"))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        exc = self.conn.handshake_exc
        if not self.handshake_initiated and exc is not None and not self.transport.is_closing():
            # websockets rejected the request (a line over 8 KB, too many headers) and, left
            # alone, waits for nothing: answer it.
            self.transport.write(_response(400, f"invalid WebSocket handshake: {exc}"[:200]))
            self.transport.close()


def uvicorn_limits(
    header_timeout_s: float = HEADER_TIMEOUT_S, open_timeout_s: float = OPEN_TIMEOUT_S
) -> dict[str, Any]:
    """The uvicorn settings that apply these bounds (``uvicorn.Config(app, **...)``)."""
    http = type("BoundedHttp", (BoundedHttpProtocol,), {"header_timeout_s": header_timeout_s})
    ws = type("BoundedWebSocket", (BoundedWebSocketProtocol,), {"open_timeout_s": open_timeout_s})
    return {
        "http": http,
        "ws": ws,
        "ws_max_size": WS_MAX_MESSAGE_BYTES,
        "timeout_keep_alive": 5,
    }
