"""The local gateway's ASGI application (see the package docstring and docs/live.md)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from strikeboard import headers
from strikeboard.api.limits import BodyLimit, header_value
from strikeboard.config import get_settings

Event = dict[str, Any]
WsHandler = Callable[[Event, Any], dict[str, Any]]

ROOT: Final = Path(__file__).resolve().parents[2]
DEFAULT_STATIC_DIR: Final = ROOT / "web" / "dist"
MAX_MESSAGE_BYTES: Final = 128 * 1024  # API Gateway's limit per message (post or reply)
# Any request body, as a backstop (issue 13): above @connections' 128 KB, whose own 413 is
# AWS's PayloadTooLargeException; /api has its own, smaller limit (strikeboard.api.guard).
MAX_REQUEST_BYTES: Final = 1024 * 1024
IDLE_TIMEOUT_S: Final = 600.0  # API Gateway closes WebSockets idle for 10 minutes
MAX_QUEUED: Final = 2000  # messages waiting for one slow browser before 429 (LimitExceeded)
_POSTED: Final = [(b"content-length", b"0")]  # a post's 200: no body, as the Management API

NOT_BUILT: Final = """<!doctype html><html><head><title>Strikeboard</title></head>
<body>
<h1>The web app is not built</h1>
<p>The gateway serves the SPA from <code>{path}</code>, which has no <code>index.html</code>.
Build it with <code>cd web &amp;&amp; npm install &amp;&amp; npm run build</code> and reload.</p>
<p>The API is at <a href="/api/docs">/api/docs</a>; live data at <code>/ws?ticket=...</code>
(a one-time ticket from <code>POST /api/ws/ticket</code>).</p>
</body></html>"""


log = logging.getLogger(__name__)


def route_response(event: Event, result: dict[str, Any] | None) -> str:
    """The frame API Gateway sends back for one $default message, the route being two-way (a
    ``$default`` route response; CDK ``returnResponse: true``) with a Lambda proxy integration:

    - the Lambda's ``body`` as it is, whatever its ``statusCode`` (a 4xx's body is delivered
      too);
    - no body: an empty frame. A route response "signals to API Gateway that it should return a
      response to a client upon receiving a WebSocket message" (AWS, WebSocket selection
      expressions), and an empty message is what users report for a missing body
      (serverless/serverless#6816), so clients must skip one; emulated so that tests see it;
    - the handler raised: API Gateway's own ``{"message": "Internal server error", ...}``. A
      body over 128 KB gets the same here: a loud stand-in, since API Gateway cannot send it
      as one message and what it does instead is not documented.
    """
    if result is not None:
        body = result.get("body")
        text = "" if body is None else str(body)
        if len(text.encode()) <= MAX_MESSAGE_BYTES:
            return text
        log.warning("route response of %d bytes: over API Gateway's message limit", len(text))
    ctx = event["requestContext"]
    return json.dumps({"message": "Internal server error", "connectionId": ctx["connectionId"],
                       "requestId": ctx["requestId"]})  # fmt: skip


def new_connection_id() -> str:
    """An id shaped like API Gateway's (16 base64 characters, URL-safe alphabet)."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def _http_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _file_under(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``; None for anything else, including a name
    the OS refuses to look up (a component over 255 bytes, a NUL byte: they raised, a 500
    for any client, found by bench/bench_hostile.py)."""
    try:
        path = (root / relative).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None
    except (OSError, ValueError):
        return None


def _aws_error(status: int, code: str, message: str) -> Response:
    """An error as the Management API sends it (botocore reads the code from the header)."""
    return JSONResponse({"message": message}, status_code=status,
                        headers={"x-amzn-ErrorType": code})  # fmt: skip


@dataclass
class LocalConnection:
    """One browser WebSocket and the queue of messages posted to it."""

    connection_id: str
    websocket: WebSocket
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    close_code: int | None = None


class LazyApp:
    """The HTTP app, loaded on first use so that the gateway starts even when it fails.

    ``load`` builds or imports the app (the entry point's choice, e.g. importing the Lambda's
    module); ``name`` names it in errors. Runs the app's lifespan startup once loaded (as
    Mangum does in a Lambda); a failed load answers 503 with the error and is retried on the
    next request.
    """

    def __init__(self, load: Callable[[], ASGIApp], name: str) -> None:
        self.load = load
        self.name = name
        self.app: ASGIApp | None = None
        self.error: str | None = None
        self._lock = asyncio.Lock()
        self._lifespan: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Event | None = None

    async def _load(self) -> ASGIApp | None:
        async with self._lock:
            if self.app is not None:
                return self.app
            try:
                app = await anyio.to_thread.run_sync(self.load)
            except Exception as exc:  # any load-time failure must not take the gateway down
                self.error = f"{type(exc).__name__}: {exc}"
                return None
            await self._start_lifespan(app)
            gc.freeze()  # the app's modules stay loaded: out of the collector's way
            self.app, self.error = app, None
            return app

    async def _start_lifespan(self, app: ASGIApp) -> None:
        started = asyncio.Event()
        self._shutdown = asyncio.Event()
        sent_startup = False
        shutdown = self._shutdown

        async def receive() -> MutableMapping[str, Any]:
            nonlocal sent_startup
            if not sent_startup:
                sent_startup = True
                return {"type": "lifespan.startup"}
            await shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup"):
                started.set()

        async def run() -> None:
            with contextlib.suppress(Exception):  # an app without lifespan support
                await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                          receive, send)  # fmt: skip
            started.set()

        self._lifespan = asyncio.create_task(run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(started.wait(), 30)

    async def aclose(self) -> None:
        if self._shutdown is not None and self._lifespan is not None:
            self._shutdown.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._lifespan, 10)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = await self._load()
        if app is None:
            response = JSONResponse(
                {"detail": f"the HTTP API ({self.name}) failed to load: {self.error}"},
                status_code=503,
            )
            await response(scope, receive, send)
            return
        await app(scope, receive, send)


class Gateway:
    """Connections of one local gateway, its routes and its WebSocket event plumbing.

    The gateway is given what it serves: ``ws_handler``, the WebSocket route handler it invokes
    with API Gateway-shaped events, and ``http_app``, the ASGI app of /api (a `LazyApp` to load
    it on first use). The entry points wire in the Lambdas' (``lambdas.ws.handler``,
    ``lambdas.http_api.app``); the library never imports them.
    """

    def __init__(
        self,
        ws_handler: WsHandler,
        *,
        http_app: ASGIApp,
        static_dir: Path = DEFAULT_STATIC_DIR,
        domain_name: str = "127.0.0.1",
        stage: str = "local",
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        max_queued: int = MAX_QUEUED,
        post_rtt_s: float = 0.0,
    ) -> None:
        self.ws_handler = ws_handler
        self.http_app = http_app
        self.static_dir = static_dir
        self.domain_name = domain_name
        self.stage = stage
        self.idle_timeout_s = idle_timeout_s
        self.max_queued = max_queued
        # The network between the pusher and API Gateway in AWS (a post answers a round trip
        # later, ~RTT of waiting each): 0 locally unless asked (bench_push's BENCH_POST_RTT_MS).
        self.post_rtt_s = post_rtt_s
        self.connections: dict[str, LocalConnection] = {}
        self.posted = 0

    # -- API Gateway-shaped events ----------------------------------------------------------

    def _context(self, conn: LocalConnection, route: str, event_type: str) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": _http_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(conn.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": uuid.uuid4().hex[:16],
            "domainName": self.domain_name,
            "connectionId": conn.connection_id,
            "apiId": "local",
        }

    def connect_event(self, conn: LocalConnection) -> Event:
        ws = conn.websocket
        headers = dict(ws.headers.items())
        query = dict(ws.query_params.items())
        return {
            "headers": headers,
            "multiValueHeaders": {k: ws.headers.getlist(k) for k in headers},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": (
                {k: ws.query_params.getlist(k) for k in query} if query else None
            ),
            "requestContext": self._context(conn, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }

    def message_event(self, conn: LocalConnection, body: str) -> Event:
        ctx = self._context(conn, "$default", "MESSAGE")
        ctx["messageId"] = uuid.uuid4().hex[:16]
        return {"requestContext": ctx, "body": body, "isBase64Encoded": False}

    def disconnect_event(self, conn: LocalConnection, code: int, reason: str) -> Event:
        ctx = self._context(conn, "$disconnect", "DISCONNECT")
        ctx["disconnectStatusCode"] = code
        ctx["disconnectReason"] = reason
        return {"headers": dict(conn.websocket.headers.items()), "requestContext": ctx,
                "isBase64Encoded": False}  # fmt: skip

    async def invoke(self, event: Event) -> dict[str, Any] | None:
        """Run the route handler in a worker thread; None when it raised (an integration
        failure at API Gateway, not a crash of the gateway)."""
        try:
            result = await anyio.to_thread.run_sync(self.ws_handler, event, None)
        except Exception:
            route = event["requestContext"]["routeKey"]
            log.exception("the WebSocket handler raised on %s", route)
            return None
        return result if isinstance(result, dict) else {"statusCode": 200}

    # -- browser WebSockets -----------------------------------------------------------------

    async def websocket(self, websocket: WebSocket) -> None:
        client = websocket.client
        conn = LocalConnection(
            new_connection_id(),
            websocket,
            source_ip=client.host if client else "",
            user_agent=websocket.headers.get("user-agent", ""),
        )
        # Known before $connect runs: posts made meanwhile are queued, not answered 410.
        self.connections[conn.connection_id] = conn
        result = await self.invoke(self.connect_event(conn))
        if result is None:
            result = {"statusCode": 502, "body": "Internal server error"}
        status = int(result.get("statusCode", 200))
        if status != 200:
            # $connect cannot reply with a message: its status refuses the upgrade.
            self.connections.pop(conn.connection_id, None)
            await self._refuse(websocket, status, str(result.get("body") or ""))
            return
        try:
            await websocket.accept()
        except Exception:  # the browser left during $connect: undo the registration
            self.connections.pop(conn.connection_id, None)
            await self.invoke(self.disconnect_event(conn, 1006, "Handshake failed"))
            return
        writer = asyncio.create_task(self._writer(conn))
        code, reason = 1000, "Client closed"
        try:
            while True:
                message = await asyncio.wait_for(websocket.receive(), self.idle_timeout_s)
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    break
                body = message.get("text")
                if body is None:
                    body = (message.get("bytes") or b"").decode("utf-8", "replace")
                conn.last_active = time.time()
                event = self.message_event(conn, body)
                # The Lambda's reply is its route response: one frame, after the handler
                # returns, in order with the posts queued meanwhile.
                conn.queue.put_nowait(route_response(event, await self.invoke(event)))
        except TimeoutError:
            code, reason = 1001, "Going away"
            with contextlib.suppress(Exception):
                await websocket.close(1001, "idle timeout")
        except WebSocketDisconnect as exc:
            code = exc.code
        finally:
            self.connections.pop(conn.connection_id, None)
            conn.queue.put_nowait(None)
            await writer
            if conn.close_code is not None:
                code, reason = conn.close_code, "Server closed"
            await self.invoke(self.disconnect_event(conn, code, reason))  # closed: no reply

    async def _refuse(self, websocket: WebSocket, status: int, body: str) -> None:
        """Reject the upgrade with the handler's HTTP status, as API Gateway does."""
        try:
            await websocket.send_denial_response(Response(body, status_code=status))
        except RuntimeError:  # server without the denial extension: a policy close instead
            await websocket.close(code=1008)

    async def _writer(self, conn: LocalConnection) -> None:
        while True:
            text = await conn.queue.get()
            if text is None:
                return
            try:
                await conn.websocket.send_text(text)
            except Exception:  # the socket closed under us; the reader sees the disconnect
                return

    # -- the Management API (@connections) --------------------------------------------------

    async def post_to_connection(
        self, connection_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """``POST @connections/{id}`` as a bare ASGI app (`ManagementApi` routes it here): the
        pusher's thousands of posts a second skip Starlette's routing, request and response
        objects and the SPA's security headers (API Gateway sends none on the Management
        API): a third less CPU a post (bench/bench_push.py). Same answers and limits."""
        conn = self.connections.get(connection_id)
        if conn is None:
            error = _aws_error(410, "GoneException", f"connection {connection_id} is gone")
            await error(scope, receive, send)
            return
        declared = header_value(scope, b"content-length")
        chunks: list[bytes] = []
        size = int(declared) if declared is not None and declared.isdigit() else 0
        if size <= MAX_MESSAGE_BYTES:  # a declared size over the limit: refused unread
            size = 0
            while True:  # read on only while under the limit
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away mid-body
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > MAX_MESSAGE_BYTES or not message.get("more_body", False):
                    break
        if size > MAX_MESSAGE_BYTES:
            error = _aws_error(413, "PayloadTooLargeException",
                               f"over {MAX_MESSAGE_BYTES} bytes")  # fmt: skip
        elif conn.queue.qsize() >= self.max_queued:
            error = _aws_error(429, "LimitExceededException", "client buffer is full")
        else:
            if self.post_rtt_s > 0:
                await asyncio.sleep(self.post_rtt_s)
            conn.queue.put_nowait(b"".join(chunks).decode("utf-8", "replace"))
            self.posted += 1
            await send({"type": "http.response.start", "status": 200, "headers": _POSTED})
            await send({"type": "http.response.body", "body": b""})
            return
        await error(scope, receive, send)

    async def connections_endpoint(self, request: Request) -> Response:
        """``GET`` and ``DELETE @connections/{id}`` (a ``POST`` is `post_to_connection`)."""
        connection_id = request.path_params["connection_id"]
        conn = self.connections.get(connection_id)
        if conn is None:
            return _aws_error(410, "GoneException", f"connection {connection_id} is gone")
        if request.method == "DELETE":
            conn.close_code = 1000
            self.connections.pop(connection_id, None)
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.websocket.close(1000)
            return Response(status_code=204)
        return JSONResponse(
            {
                "connectedAt": _iso(conn.connected_at),
                "lastActiveAt": _iso(conn.last_active),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            }
        )

    # -- the SPA ----------------------------------------------------------------------------

    async def static(self, request: Request) -> Response:
        root = self.static_dir.resolve()
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT.format(path=root), status_code=503)
        relative = request.path_params.get("path", "")
        if (path := _file_under(root, relative)) is not None:
            return FileResponse(path)
        if "." in PurePosixPath(relative).name:  # a missing asset is a 404, not the app
            return Response("Not found", status_code=404, media_type="text/plain")
        return FileResponse(index)  # a client-side route: the SPA resolves it

    async def health(self, _request: Request) -> Response:
        """The gateway's own liveness (for `strikeboard dev`'s readiness wait)."""
        return JSONResponse(
            {"status": "ok", "connections": len(self.connections), "posted": self.posted}
        )

    # -- the application --------------------------------------------------------------------

    def routes(self) -> list[Route | WebSocketRoute]:
        methods = ["GET", "DELETE"]  # POST: `ManagementApi`, in front of these routes
        return [
            WebSocketRoute("/ws", self.websocket),
            Route("/_gateway/health", self.health, methods=["GET"]),
            Route("/@connections/{connection_id}", self.connections_endpoint, methods=methods),
            Route(
                "/{stage}/@connections/{connection_id}", self.connections_endpoint, methods=methods
            ),
            Route("/{path:path}", self.static, methods=["GET", "HEAD"]),
        ]


def connection_in(path: str) -> str | None:
    """The connection id of a Management API path, ``/@connections/{id}`` or
    ``/{stage}/@connections/{id}``; None for any other path."""
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "@connections" and parts[2]:
        return parts[2]
    if len(parts) == 4 and parts[1] and parts[2] == "@connections" and parts[3]:
        return parts[3]
    return None


class ManagementApi:
    """``POST @connections/{id}`` straight to `Gateway.post_to_connection`, everything else to
    ``app`` (the pusher's posts are most of the gateway's requests: see that method)."""

    def __init__(self, gateway: Gateway, app: ASGIApp) -> None:
        self.gateway = gateway
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            connection_id = connection_in(scope["path"])
            if connection_id is not None:
                await self.gateway.post_to_connection(connection_id, scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Dispatch:
    """/api and /api/... go to the HTTP app with the path unchanged (as API Gateway passes
    it to the Lambda); everything else to the gateway's own routes."""

    def __init__(self, gateway: Gateway, inner: Starlette) -> None:
        self.gateway = gateway
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/api" or path.startswith("/api/")):
            await self.gateway.http_app(scope, receive, send)
            return
        await self.inner(scope, receive, send)


class _DenialNoise(logging.Filter):
    """uvicorn's websockets-sansio protocol logs "returned without completing handshake" after
    a correct denial response (it never marks that handshake complete). The gateway's /ws
    always accepts or denies, so the line is only ever this false alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing handshake" not in record.getMessage()


class SecurityHeaders:
    """Adds the security headers (strikeboard.headers) to every HTTP response, as CloudFront's
    response-headers policy does in the cloud; a header the app set itself is kept."""

    def __init__(self, app: ASGIApp, connect: Sequence[str] = ()) -> None:
        self.app = app
        spa = headers.content_security_policy(connect)
        docs = headers.content_security_policy(connect, docs=True)
        self._spa = self._encode({**headers.HEADERS, "Content-Security-Policy": spa})
        self._docs = self._encode({**headers.HEADERS, "Content-Security-Policy": docs})
        self._hsts = self._encode({"Strict-Transport-Security": headers.HSTS})

    @staticmethod
    def _encode(values: dict[str, str]) -> list[tuple[bytes, bytes]]:
        return [(k.lower().encode(), v.encode()) for k, v in values.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs if scope.get("path", "") == headers.DOCS_PATH else self._spa
        if scope.get("scheme") == "https":
            extra = extra + self._hsts

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in extra if k not in present]
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _connect_origins() -> list[str]:
    """Origins the SPA may fetch besides its own: the Cognito hosted domain (token endpoint).
    Bad settings leave it empty: the gateway starts anyway (see LazyApp)."""
    try:
        return [get_settings().cognito_domain]
    except Exception:  # the HTTP app reports the settings error on its first request
        return []


def build_app(gateway: Gateway) -> ASGIApp:
    """The ASGI application of a gateway."""
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DenialNoise) for f in error_log.filters):
        error_log.addFilter(_DenialNoise())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        if isinstance(gateway.http_app, LazyApp):
            await gateway.http_app.aclose()

    inner = Starlette(routes=gateway.routes(), lifespan=lifespan)
    # The headers go on every answer of the SPA, /api and the gateway's other routes, the 413
    # of the body limit included; the Management API's posts have their own limit.
    return ManagementApi(gateway, SecurityHeaders(
        BodyLimit(_Dispatch(gateway, inner), max_bytes=MAX_REQUEST_BYTES), _connect_origins()
    ))  # fmt: skip
