"""The local gateway sends a WebSocket handler's reply back as API Gateway does for a two-way
$default route (a ``$default`` route response, Lambda proxy integration): the returned body
as one frame whatever the status, an empty frame without a body, API Gateway's own error
message when the handler raises; nothing for $connect and $disconnect, which cannot reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect

from strikeboard.devservices import free_port
from strikeboard.gateway import Gateway, build_app
from strikeboard.gateway.app import MAX_MESSAGE_BYTES, route_response
from strikeboard.gateway.limits import uvicorn_limits

WAIT_S = 30.0  # a bound on a hang, not a speed assertion


async def api(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


def handler(event: dict[str, Any], _ctx: Any) -> dict[str, Any]:
    """A stand-in for lambdas.ws.handler: the frame's text says what to return."""
    route = event["requestContext"]["routeKey"]
    if route != "$default":  # bodies that must never reach the client as messages
        return {"statusCode": 200, "body": f"{route} body"}
    text = event["body"]
    if text == "boom":
        raise RuntimeError("the handler failed")
    if text == "quiet":
        return {"statusCode": 200}
    if text == "huge":
        return {"statusCode": 200, "body": "x" * (MAX_MESSAGE_BYTES + 1)}
    status, _, body = text.partition(" ")
    return {"statusCode": int(status), "body": body}


@pytest_asyncio.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    gateway = Gateway(handler, http_app=api, static_dir=tmp_path)
    config = uvicorn.Config(build_app(gateway), host="127.0.0.1", port=port, log_level="error",
                            access_log=False, **uvicorn_limits())  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"ws://127.0.0.1:{port}/ws"
    server.should_exit = True
    await serving


async def ask(socket: ClientConnection, text: str) -> str | bytes:
    await socket.send(text)
    return await asyncio.wait_for(socket.recv(), WAIT_S)


@pytest.mark.asyncio
async def test_default_replies_are_route_responses(url: str) -> None:
    async with connect(url, max_size=None) as socket:
        # The body as sent, whatever the status: API Gateway delivers a 4xx's body too. (The
        # first frame is this reply: $connect's body was not sent.)
        assert await ask(socket, '200 {"type":"pong"}') == '{"type":"pong"}'
        assert await ask(socket, '429 {"type":"error"}') == '{"type":"error"}'
        # No body: one empty frame.
        assert await ask(socket, "quiet") == ""
        # The handler raised: API Gateway's own message, and the socket stays open.
        failed = json.loads(await ask(socket, "boom"))
        assert failed["message"] == "Internal server error" and set(failed) == {
            "message", "connectionId", "requestId"
        }  # fmt: skip
        assert json.loads(await ask(socket, "huge"))["message"] == "Internal server error"
        assert await ask(socket, "200 still open") == "still open"


def test_route_response_of_a_missing_or_odd_body() -> None:
    event = {"requestContext": {"connectionId": "c=", "requestId": "r"}}
    assert route_response(event, {"statusCode": 200}) == ""
    assert route_response(event, {"statusCode": 200, "body": ""}) == ""
    assert route_response(event, {"statusCode": 500, "body": "x"}) == "x"
    assert json.loads(route_response(event, None)) == {
        "message": "Internal server error", "connectionId": "c=", "requestId": "r"
    }  # fmt: skip
