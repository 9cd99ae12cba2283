"""Issue 13: upgrades and requests that never complete, or are too large, are answered
promptly by the local gateway (strikeboard.gateway.limits) instead of holding the socket."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
import websockets
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect

from strikeboard.devservices import free_port
from strikeboard.gateway import Gateway, build_app
from strikeboard.gateway.limits import uvicorn_limits

UPGRADE = (
    b"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)
WAIT_S = 30.0  # a bound on a hang, not a speed assertion: the deadlines here are 0.5 s


async def api(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


class Server:
    def __init__(self, port: int, release: threading.Event) -> None:
        self.port = port
        self.release = release  # a $connect waits for it when its query says ?slow


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    release = threading.Event()

    def handler(event: dict[str, Any], _ctx: Any) -> dict[str, Any]:
        if "slow" in (event.get("queryStringParameters") or {}):
            release.wait(WAIT_S)
        return {"statusCode": 200}

    port = free_port()
    gateway = Gateway(handler, http_app=api, static_dir=tmp_path)
    config = uvicorn.Config(build_app(gateway), host="127.0.0.1", port=port, log_level="error",
                            access_log=False,
                            **uvicorn_limits(header_timeout_s=0.5, open_timeout_s=0.5))  # fmt: skip
    uv = uvicorn.Server(config)
    serving = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.02)
    yield Server(port, release)
    release.set()
    uv.should_exit = True
    await serving


async def answer(port: int, request: bytes) -> tuple[bytes, float]:
    """The status line the server answers ``request`` with (b"" if it just closes) and how long
    the socket stayed open; fails if it is still open after WAIT_S."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(request)
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(), WAIT_S)  # to EOF: the server closed
    except TimeoutError:
        pytest.fail(f"socket held for more than {WAIT_S} s after {request[:40]!r}")
    finally:
        writer.close()
    return data.split(b"\r\n", 1)[0], time.monotonic() - started


CASES: list[tuple[str, Callable[[], bytes], bytes]] = [
    (
        "request line over 8 kB",
        lambda: b"GET /ws?x=" + b"a" * 9000 + b" HTTP/1.1\r\n" + UPGRADE + b"\r\n",
        b"414",
    ),
    (
        "one header over 8 kB",
        lambda: b"GET /ws HTTP/1.1\r\n" + UPGRADE + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n",
        b"400",
    ),
    (
        "150 headers",
        lambda: (
            b"GET /ws HTTP/1.1\r\n"
            + UPGRADE
            + b"".join(b"X-%d: y\r\n" % i for i in range(150))
            + b"\r\n"
        ),
        b"431",
    ),
    ("partial headers", lambda: b"GET /ws HTTP/1.1\r\n" + UPGRADE, b"408"),
    ("half a request line", lambda: b"GET /ws?ticket=", b"408"),
    ("nothing at all", lambda: b"", b"408"),
    ("a plain request with partial headers", lambda: b"GET /api/x HTTP/1.1\r\nHost: a\r\n", b"408"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("name", "request_of", "status"), CASES, ids=[c[0] for c in CASES])
async def test_bad_handshakes_are_answered_and_closed(
    server: Server, name: str, request_of: Callable[[], bytes], status: bytes
) -> None:
    line, held = await answer(server.port, request_of())
    print(f"{name}: {line.decode()} after {held:.2f} s")
    assert line.startswith(b"HTTP/1.1 " + status), (name, line)


@pytest.mark.asyncio
async def test_fifty_stalled_upgrades_are_all_released(server: Server) -> None:
    # The probe's 50 sockets held for 150 s: each now gets its 408 and is closed.
    results = await asyncio.gather(
        *(answer(server.port, b"GET /ws HTTP/1.1\r\n" + UPGRADE) for _ in range(50))
    )
    assert all(line == b"HTTP/1.1 408 Request Timeout" for line, _ in results)
    print(f"50 stalled upgrades: longest hold {max(h for _, h in results):.2f} s")
    # And the gateway still serves a proper upgrade and plain requests.
    async with connect(f"ws://127.0.0.1:{server.port}/ws?ticket=t") as socket:
        assert socket.state is websockets.protocol.State.OPEN
    line, _ = await answer(
        server.port, b"GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert line == b"HTTP/1.1 200 OK"


@pytest.mark.asyncio
async def test_a_handshake_stuck_in_connect_is_closed(server: Server) -> None:
    # $connect that never returns (Redis hanging): the upgrade is not held open for ever.
    line, _ = await answer(server.port, b"GET /ws?slow=1 HTTP/1.1\r\n" + UPGRADE + b"\r\n")
    assert line == b"HTTP/1.1 408 Request Timeout"
