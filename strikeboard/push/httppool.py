"""A small HTTP/1.1 client for one origin: a pool of keep-alive connections on asyncio, at
most ``size`` requests in flight, responses parsed by httptools (llhttp, the parser uvicorn
uses); TLS for https.

Why not httpx: measured on this project's 2-core machine, httpx's AsyncClient cost ~1.4 ms of
CPU per POST (httpcore's pool bookkeeping and anyio layers; with anyio 4.16, which no longer
installs sniffio, httpcore also retries ``import sniffio`` on every request), no less than
botocore's; this pool costs ~0.1 ms. HTTP/2 would need another library (h2) for little gain:
requests are small and the pool's connections are already kept open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Final, Protocol, cast
from urllib.parse import urlsplit

import httptools

CONNECT_TIMEOUT_S: Final = 2.0
READ_TIMEOUT_S: Final = 5.0


class HttpError(OSError):
    """No response: the connection failed, closed, timed out or sent something unparseable."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[bytes, bytes]  # names lower-cased
    body: bytes


class Origin(Protocol):
    """What a poster needs of a pool: `HttpPool`, or a test double answering in-process."""

    host: str  # the Host header (and SigV4's host)
    path: str  # the URL's path, without a trailing slash (the API Gateway stage)

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response: ...

    async def aclose(self) -> None: ...


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = True
        self._waiter: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"bad HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection closed: {exc}" if exc else "connection closed"))

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        response = Response(self.parser.get_status_code(), self._headers, b"".join(self._body))
        self._headers, self._body = {}, []
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    # -- requests -----------------------------------------------------------------------------

    def _fail(self, exc: HttpError) -> None:
        self.keep_alive = False
        if self._timer is not None:
            self._timer.cancel()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def send(self, data: bytes, timeout: float) -> asyncio.Future[Response]:
        assert self.transport is not None and self._waiter is None
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._timer = loop.call_later(timeout, self._fail, HttpError("read timed out"))
        self.transport.write(data)
        return self._waiter


class HttpPool:
    """Requests to the origin of ``url`` (scheme, host, port), ``size`` at a time at most."""

    def __init__(
        self,
        url: str,
        size: int,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.tls = parts.scheme == "https"
        self.hostname = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        default = parts.port is None or parts.port == (443 if self.tls else 80)
        # The Host header (and SigV4's host): the port only when it is not the default.
        self.host = self.hostname if default else f"{self.hostname}:{self.port}"
        self.path = parts.path.rstrip("/")  # e.g. the API Gateway stage, "/prod"
        self.size = size
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.opened = 0  # connections opened (keep-alive: few)
        self._ssl = ssl.create_default_context() if self.tls else None
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Connection] = []

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    _Connection, self.hostname, self.port, ssl=self._ssl,
                    server_hostname=self.hostname if self.tls else None,
                )  # fmt: skip
        except (OSError, TimeoutError) as exc:
            raise HttpError(f"connect to {self.host}: {exc or 'timed out'}") from exc
        self.opened += 1
        return conn

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        """One request (``target`` is the path, already percent-encoded); `HttpError` when
        no response came."""
        head = [f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Length: {len(body)}\r\n"]  # fmt: skip
        head.extend(f"{name}: {value}\r\n" for name, value in headers)
        head.append("\r\n")
        data = "".join(head).encode() + body
        async with self._slots:
            conn = None
            while self._idle:
                candidate = self._idle.pop()
                if not candidate.closed:
                    conn = candidate
                    break
            if conn is None:
                conn = await self._connect()
            try:
                response = await conn.send(data, self.read_timeout)
            except BaseException:
                conn.close()  # an answer may still come: the connection cannot be reused
                raise
            if conn.keep_alive and not conn.closed:
                self._idle.append(conn)
            else:
                conn.close()
            return response

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)  # let the transports close
