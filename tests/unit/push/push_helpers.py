"""Helpers of the push tests: sample events, the WebSocket Lambda's replies (its route
responses), moto's Management API answering the pusher's own HTTP requests (`MotoOrigin`)
and what it got (the pusher's posts)."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.models import botocore_stubber

from strikeboard.auth import Principal
from strikeboard.push import messages
from strikeboard.push.httppool import HttpError, Response
from strikeboard.push.httpposter import HttpPoster
from strikeboard.store.auth_state import AuthState
from strikeboard.store.hot import HotStore

EVENTS = Path(__file__).resolve().parents[3] / "events" / "ws"
REGION = "ap-south-1"
ENDPOINT = f"https://abc123def4.execute-api.{REGION}.amazonaws.com/prod"


def load_event(name: str, connection_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    if connection_id is not None:
        event["requestContext"]["connectionId"] = connection_id
    return event


DEV_USER = Principal("dev", "dev")


def connect_event(
    hot: HotStore, connection_id: str | None = None, user: Principal = DEV_USER
) -> dict[str, Any]:
    """events/ws/connect.json carrying a fresh one-time ticket of ``user`` (as the SPA gets
    from POST /api/ws/ticket)."""
    event = load_event("connect", connection_id)
    ticket = AuthState.of(hot).issue_ticket(user)
    event["queryStringParameters"] = {"ticket": ticket}
    event["multiValueQueryStringParameters"] = {"ticket": [ticket]}
    return event


def protocol_message(text: str) -> dict[str, Any]:
    """``text`` as the protocol message it must be (fails on plain text or an unknown type)."""
    message = json.loads(text)
    assert isinstance(message, dict), text[:200]
    assert message.get("type") in messages.SERVER_MESSAGE_TYPES, text[:200]
    return message


def reply_of(response: dict[str, Any]) -> dict[str, Any] | None:
    """What the client receives for a $default frame: the response's body as a protocol
    message, or None when there is no body (nothing to answer)."""
    assert set(response) <= {"statusCode", "body"}, response  # a well-formed proxy response
    if "body" not in response:
        return None
    return protocol_message(response["body"])


def decode_stream(data: bytes) -> list[dict[str, Any]]:
    """moto keeps a connection's posts as one byte string: split it into the JSON messages."""
    decoder = json.JSONDecoder()
    text = data.decode()
    out, pos = [], 0
    while pos < len(text):
        value, pos = decoder.raw_decode(text, pos)
        out.append(value)
    return out


@dataclass
class MotoOrigin:
    """`strikeboard.push.httppool.Origin` answered by moto's Management API in this process
    (inside ``mock_aws``): each request, exactly as `HttpPool` would put it on the wire
    (method, path, Host, Content-Length, the signed headers, body), goes through moto's own
    request routing and handler, as a botocore request would."""

    endpoint: str
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.endpoint)
        self.scheme, self.host, self.path = parts.scheme, parts.netloc, parts.path.rstrip("/")

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        sent = {"Host": self.host, "Content-Length": str(len(body)), **dict(headers)}
        self.requests.append((method, target, sent, body))
        prepared = AWSPreparedRequest(method, f"{self.scheme}://{self.host}{target}",
                                      HTTPHeaders(sent), body, stream_output=False)  # fmt: skip
        answer = botocore_stubber.process_request(prepared)
        if answer is None:
            raise HttpError(f"moto has no route for {target}")
        status, response_headers, response_body = answer
        data = response_body.encode() if isinstance(response_body, str) else response_body
        lowered = {str(k).lower().encode(): str(v).encode() for k, v in response_headers.items()}
        return Response(status, lowered, data or b"")

    async def aclose(self) -> None:
        pass


@dataclass
class MotoApi:
    endpoint: str
    poster: HttpPoster
    origin: MotoOrigin

    def posted(self, connection_id: str) -> list[dict[str, Any]]:
        """The messages posted to a connection, as sent (a batch is one message)."""
        backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
        # moto keys connections by the id as it appears in the URL (percent-encoded).
        conn = backend.connections.get(urllib.parse.quote(connection_id, safe=""))
        return decode_stream(conn.data) if conn is not None else []

    def received(self, connection_id: str) -> list[dict[str, Any]]:
        """The messages a client handles: batches taken apart, in order."""
        return [m for posted in self.posted(connection_id) for m in messages.unbatch(posted)]
