"""Posting to WebSocket connections through the API Gateway Management API.

`PostResult` and the two interfaces: `Poster` (blocking) and `AsyncPoster` (what the pusher
awaits). `ManagementApiPoster` is the boto3 one: the reference the bench measures the
pusher's own poster against (`strikeboard.push.httpposter`, ~10x less CPU a post), and what
anything else that posts or deletes connections uses; `ThreadedPoster` runs it for the
pusher (``PUSH_POSTER=boto3``).

The same client talks to API Gateway in the cloud and to the local gateway's @connections
endpoint (`endpoint_url`); the local gateway ignores SigV4 signatures, so dummy credentials
are used when none are configured and the endpoint is not AWS.
"""

from __future__ import annotations

import asyncio
import enum
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final, Protocol

import boto3
import botocore.exceptions
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

DEFAULT_REGION: Final = "ap-south-1"
_AWS_HOST = re.compile(r"^https://[^./]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(/|$)")


class PostResult(enum.Enum):
    OK = "ok"
    GONE = "gone"  # 410: the client disconnected; drop it from the registry
    FAILED = "failed"  # throttled, too large, network: counted and logged, connection kept


class Poster(Protocol):
    """Something that can deliver a message to one connection."""

    def post(self, connection_id: str, data: bytes) -> PostResult: ...


class AsyncPoster(Protocol):
    """Something the pusher awaits to deliver a message to one connection; it bounds its own
    concurrency (callers may start many posts at once)."""

    async def post(self, connection_id: str, data: bytes) -> PostResult: ...

    async def aclose(self) -> None: ...


def is_aws_endpoint(endpoint_url: str) -> bool:
    """Whether ``endpoint_url`` is API Gateway's (else a local gateway: no real credentials)."""
    return _AWS_HOST.match(endpoint_url) is not None


def region_of(endpoint_url: str) -> str:
    """The AWS region of an execute-api endpoint, else AWS_REGION or the default."""
    match = _AWS_HOST.match(endpoint_url)
    if match:
        return match.group(1)
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def management_client(endpoint_url: str, concurrency: int = 64) -> ApiGatewayManagementApiClient:
    """A thread-safe boto3 ``apigatewaymanagementapi`` client for ``endpoint_url``.

    One HTTP connection per concurrent caller, short timeouts (a stuck connection must not
    hold a fan-out), standard retries (429 throttling is retried, 410 is not).
    """
    if not endpoint_url:
        raise ValueError("the Management API endpoint URL is empty (set PUSH_ENDPOINT_URL)")
    config = Config(
        max_pool_connections=max(10, concurrency),
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
        parameter_validation=False,  # ids and bytes are ours; saves CPU per post
    )
    session = boto3.session.Session()
    local = not is_aws_endpoint(endpoint_url)
    if local and session.get_credentials() is None:
        # The local gateway ignores signatures but botocore insists on signing.
        session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local")
    return session.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        region_name=region_of(endpoint_url),
        config=config,
    )


class ManagementApiPoster:
    """`Poster` over boto3 ``post_to_connection`` (safe to call from many threads)."""

    def __init__(self, client: ApiGatewayManagementApiClient) -> None:
        self.client = client
        self.last_error: str | None = None

    @classmethod
    def from_endpoint(cls, endpoint_url: str, concurrency: int = 64) -> ManagementApiPoster:
        return cls(management_client(endpoint_url, concurrency))

    def post(self, connection_id: str, data: bytes) -> PostResult:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "GoneException" or status == 410:
                return PostResult.GONE
            self.last_error = f"{code or status}: {exc}"
            return PostResult.FAILED
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return PostResult.FAILED
        return PostResult.OK

    def delete(self, connection_id: str) -> PostResult:
        """Close a connection from the server side."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return PostResult.GONE if code == "GoneException" else PostResult.FAILED
        except (botocore.exceptions.BotoCoreError, OSError):
            return PostResult.FAILED
        return PostResult.OK


class ThreadedPoster:
    """A blocking `Poster` as an `AsyncPoster`: ``concurrency`` threads (boto3's clients are
    thread-safe; its CPU cost per post keeps one process near one core of posts)."""

    def __init__(self, poster: Poster, concurrency: int = 64) -> None:
        self.poster = poster
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="post")

    @classmethod
    def boto3(cls, endpoint_url: str, concurrency: int = 64) -> ThreadedPoster:
        return cls(ManagementApiPoster.from_endpoint(endpoint_url, concurrency), concurrency)

    async def post(self, connection_id: str, data: bytes) -> PostResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.poster.post, connection_id, data)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.pool.shutdown, True, cancel_futures=True)
