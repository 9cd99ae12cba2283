"""The pusher's poster: results and retries as boto3's (410 pruning, throttling and 5xx
retried, the rest failed at once), moto's Management API accepting its signed posts, and its
HTTP pool (keep-alive, bounded concurrency, closed and silent servers) against a real socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from botocore.credentials import ReadOnlyCredentials
from push_helpers import MotoApi

from strikeboard.push.httppool import HttpError, HttpPool, Response
from strikeboard.push.httpposter import HttpPoster
from strikeboard.push.poster import PostResult
from strikeboard.push.sigv4 import Signer

CREDS = ReadOnlyCredentials("AKIDEXAMPLE", "secret", None)


def aws_error(status: int, code: str, message: str = "nope") -> Response:
    return Response(status, {b"x-amzn-errortype": code.encode()},
                    json.dumps({"message": message}).encode())  # fmt: skip


OK = Response(200, {}, b"")


@dataclass
class Scripted:
    """An origin answering from a script: a response, or an exception to raise."""

    script: list[Response | Exception]
    host: str = "abc.execute-api.ap-south-1.amazonaws.com"
    path: str = "/prod"
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        self.seen.append((target, dict(headers)))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    async def aclose(self) -> None:
        pass


def poster(script: list[Response | Exception]) -> tuple[HttpPoster, Scripted, list[float]]:
    origin = Scripted(script)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    clock = iter(range(1_800_000_000, 1_900_000_000))
    signer = Signer("ap-south-1", lambda: CREDS, clock=lambda: float(next(clock)))
    return HttpPoster(origin, signer, sleep=sleep, jitter=lambda: 1.0), origin, slept


@pytest.mark.asyncio
async def test_ok_gone_and_errors_that_are_not_retried() -> None:
    p, origin, slept = poster([OK])
    assert await p.post("abc=", b"{}") is PostResult.OK
    assert origin.seen[0][0] == "/prod/@connections/abc%3D"
    assert origin.seen[0][1]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEX")
    # 410 (however it is worded) is a gone connection: no retry, the pusher prunes it.
    for answer in (aws_error(410, "GoneException"), Response(410, {}, b""),
                   aws_error(400, "GoneException:http://internal.amazon.com/")):  # fmt: skip
        p, origin, slept = poster([answer])
        assert await p.post("abc=", b"{}") is PostResult.GONE
        assert len(origin.seen) == 1 and slept == []
    for answer, code in ((aws_error(403, "ForbiddenException"), "ForbiddenException"),
                         (aws_error(413, "PayloadTooLargeException"), "PayloadTooLarge"),
                         (aws_error(400, "BadRequestException"), "BadRequest")):  # fmt: skip
        p, origin, slept = poster([answer])
        assert await p.post("abc=", b"{}") is PostResult.FAILED
        assert len(origin.seen) == 1 and slept == []
        assert code in (p.last_error or "")


@pytest.mark.asyncio
async def test_throttling_and_transient_failures_are_retried_with_backoff() -> None:
    # Throttled (API Gateway's 429 LimitExceededException), then through: 1 s base backoff.
    p, origin, slept = poster([aws_error(429, "LimitExceededException"), OK])
    assert await p.post("abc=", b"{}") is PostResult.OK
    assert slept == [1.0] and len(origin.seen) == 2
    # 5xx and a lost connection: 50 ms base, doubling; each attempt signed afresh.
    p, origin, slept = poster([aws_error(503, "ServiceUnavailable"), HttpError("reset"), OK])
    assert await p.post("abc=", b"{}") is PostResult.OK
    assert slept == [0.05, 0.1] and p.retries == 2
    dates = [headers["X-Amz-Date"] for _, headers in origin.seen]
    assert len(set(dates)) == 3
    # Three attempts at most, then FAILED with the last error.
    p, origin, slept = poster([
        aws_error(500, "InternalServerError"), aws_error(502, ""),
        aws_error(429, "TooManyRequestsException", "slow down"),
    ])  # fmt: skip
    assert await p.post("abc=", b"{}") is PostResult.FAILED
    assert len(origin.seen) == 3 and slept == [0.05, 0.1]
    assert p.last_error == "TooManyRequestsException: slow down"
    # A 429 without a modeled code is throttling too (botocore's status-code rule).
    p, origin, slept = poster([Response(429, {}, b""), OK])
    assert await p.post("abc=", b"{}") is PostResult.OK and slept == [1.0]


@pytest.mark.asyncio
async def test_moto_accepts_the_signed_posts(moto_api: MotoApi) -> None:
    assert await moto_api.poster.post("conn-x=", b'{"type":"pong"}') is PostResult.OK
    assert await moto_api.poster.post("conn-x=", b'{"type":"market","data":{}}') is PostResult.OK
    assert moto_api.posted("conn-x=") == [{"type": "pong"}, {"type": "market", "data": {}}]
    method, target, headers, _ = moto_api.origin.requests[0]
    assert (method, target) == ("POST", "/prod/@connections/conn-x%3D")
    assert "/ap-south-1/execute-api/aws4_request" in headers["Authorization"]


# -- the HTTP pool against a real socket --------------------------------------------------------


@dataclass
class Server:
    """A minimal HTTP/1.1 server: answers each POST with ``answer``; ``hold`` keeps requests
    waiting; counts connections and concurrent requests."""

    answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    hold: asyncio.Event | None = None
    connections: int = 0
    active: int = 0
    peak: int = 0
    bodies: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                length = next(int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                              if k.lower() == "content-length")  # fmt: skip
                self.bodies.append(await reader.readexactly(length))
                self.active += 1
                self.peak = max(self.peak, self.active)
                if self.hold is not None:
                    await self.hold.wait()
                await asyncio.sleep(0.001)
                self.active -= 1
                writer.write(self.answer)
                await writer.drain()
                if b"Connection: close" in self.answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    yield state, f"http://127.0.0.1:{port}/stage"
    listener.close()


@pytest.mark.asyncio
async def test_the_pool_keeps_connections_alive_and_bounds_concurrency(
    server: tuple[Server, str],
) -> None:
    state, url = server
    pool = HttpPool(url, 4)
    assert (pool.host, pool.path) == (url.split("/")[2], "/stage")
    responses = await asyncio.gather(
        *(pool.request("POST", f"/stage/@connections/c{i}", [], b"x" * i) for i in range(60))
    )
    assert {r.status for r in responses} == {200}
    assert sorted(state.bodies) == sorted(b"x" * i for i in range(60))
    assert state.peak <= 4 and state.connections == pool.opened <= 4
    await pool.aclose()


@pytest.mark.asyncio
async def test_the_pool_reconnects_after_close_and_times_out(server: tuple[Server, str]) -> None:
    state, url = server
    state.answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    pool = HttpPool(url, 2, read_timeout=0.2)
    for _ in range(3):
        response = await pool.request("POST", "/stage/@connections/a", [], b"{}")
        assert (response.status, response.body) == (200, b"ok")
    assert pool.opened == 3  # the server closed each: a new connection each time
    state.hold = asyncio.Event()
    with pytest.raises(HttpError, match="timed out"):
        await pool.request("POST", "/stage/@connections/a", [], b"{}")
    state.hold.set()
    await pool.aclose()
    refused = HttpPool("http://127.0.0.1:9/", 1, connect_timeout=1.0)
    with pytest.raises(HttpError, match="connect"):
        await refused.request("POST", "/@connections/a", [], b"{}")


def test_the_pool_runs_on_uvloop() -> None:
    """The pusher runs on uvloop (strikeboard.push.__main__), whose transports are not
    asyncio.Transport subclasses."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> tuple[list[int], int]:
        state = Server()
        listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        pool = HttpPool(f"http://127.0.0.1:{port}/stage", 2)
        try:
            responses = await asyncio.gather(
                *(pool.request("POST", f"/stage/@connections/c{i}", [], b"{}") for i in range(10))
            )
        finally:
            await pool.aclose()
            listener.close()
        return [r.status for r in responses], pool.opened

    statuses, opened = uvloop.run(main())
    assert statuses == [200] * 10 and opened <= 2
