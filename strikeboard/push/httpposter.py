"""The pusher's poster: ``POST {endpoint}/@connections/{id}`` signed with `sigv4` over a
keep-alive `httppool`, ``concurrency`` posts in flight at most, about 0.1 ms of CPU a post
where boto3's ``post_to_connection`` costs about 1 ms (bench/bench_push.py).

Results and retries as `ManagementApiPoster` (botocore's "standard" mode, 3 attempts): 410
or ``GoneException`` is `PostResult.GONE`; throttling (``LimitExceededException``, other
throttling codes, a 429) is retried after ``random() * min(1 s * 2**(n-1), 20 s)``, a
transient failure (500/502/503/504, a timeout, a lost connection) after
``random() * min(50 ms * 2**(n-1), 20 s)``; everything else, or the last attempt, is
`PostResult.FAILED` with `last_error`. (botocore's retry quota, which stops retrying after
~100 failures in a row, is not reproduced: the pusher already sends each connection at most
one message at a time.)
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import quote

from strikeboard.push.httppool import HttpError, HttpPool, Origin, Response
from strikeboard.push.poster import PostResult, is_aws_endpoint, region_of
from strikeboard.push.sigv4 import Signer, botocore_credentials, canonical_uri, payload_hash

MAX_ATTEMPTS: Final = 3
PATH_CACHE: Final = 100_000
MAX_BACKOFF_S: Final = 20.0
THROTTLE_BASE_S: Final = 1.0
TRANSIENT_BASE_S: Final = 0.05
TRANSIENT_STATUS: Final = frozenset({500, 502, 503, 504})
TRANSIENT_CODES: Final = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
THROTTLING_CODES: Final = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException",
})  # fmt: skip
"""botocore.retries.standard's throttling codes."""
MODELED_CODES: Final = frozenset(
    {"GoneException", "ForbiddenException", "PayloadTooLargeException", "LimitExceededException"}
)
"""The errors the Management API's model declares: a 429 carrying one of these is retried
only if the code itself is a throttling one (botocore's rule)."""


def error_of(response: Response) -> tuple[str, str]:
    """(code, message) of an error response (restJson: the ``x-amzn-errortype`` header, else
    the body's ``__type``/``code``; the body's ``message``)."""
    code = response.headers.get(b"x-amzn-errortype", b"").decode(errors="replace")
    message = ""
    try:
        body = json.loads(response.body) if response.body else {}
    except ValueError:
        body = {}
    if isinstance(body, dict):
        code = code or str(body.get("__type") or body.get("code") or "")
        message = str(body.get("message") or body.get("Message") or "")
    return code.split(":", 1)[0].rsplit("#", 1)[-1], message


class HttpPoster:
    """`AsyncPoster` over SigV4 + a keep-alive HTTP pool (one event loop)."""

    def __init__(
        self,
        pool: Origin,
        signer: Signer,
        *,
        attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.pool, self.signer = pool, signer
        self.attempts = attempts
        self.sleep, self.jitter = sleep, jitter
        self.last_error: str | None = None
        self.retries = 0
        self._paths: dict[str, tuple[str, str]] = {}  # connection id -> (path, signed uri)
        # The last body and its hash: a cycle posts the same bytes object to every connection
        # owed the same message, so it is hashed once, not once a post.
        self._hashed: tuple[bytes, str] = (b"", payload_hash(b""))

    @classmethod
    def from_endpoint(cls, endpoint_url: str, concurrency: int = 256) -> HttpPoster:
        if not endpoint_url:
            raise ValueError("the Management API endpoint URL is empty (set PUSH_ENDPOINT_URL)")
        local = not is_aws_endpoint(endpoint_url)
        signer = Signer(region_of(endpoint_url), botocore_credentials(local))
        return cls(HttpPool(endpoint_url, concurrency), signer)

    def _backoff(self, attempt: int, throttled: bool) -> float:
        base = THROTTLE_BASE_S if throttled else TRANSIENT_BASE_S
        return self.jitter() * min(base * 2.0 ** (attempt - 1), MAX_BACKOFF_S)

    def _path(self, connection_id: str) -> tuple[str, str]:
        found = self._paths.get(connection_id)
        if found is None:
            if len(self._paths) >= PATH_CACHE:
                self._paths.clear()  # ids of connections long gone; rebuilt as needed
            path = f"{self.pool.path}/@connections/{quote(connection_id, safe='')}"
            found = self._paths[connection_id] = (path, canonical_uri(path))
        return found

    async def post(self, connection_id: str, data: bytes) -> PostResult:
        path, uri = self._path(connection_id)
        if self._hashed[0] is not data:
            self._hashed = (data, payload_hash(data))
        body_hash = self._hashed[1]
        error = ""
        for attempt in range(1, self.attempts + 1):
            # Signed again for each attempt, as botocore does (the date moves on).
            headers = self.signer.sign("POST", self.pool.host, uri, data, body_hash)
            try:
                response = await self.pool.request("POST", path, headers, data)
            except HttpError as exc:
                error, retry, throttled = f"{type(exc).__name__}: {exc}", True, False
            else:
                if 200 <= response.status < 300:
                    return PostResult.OK
                code, message = error_of(response)
                if response.status == 410 or code == "GoneException":
                    return PostResult.GONE
                error = f"{code or response.status}: {message or response.status}"
                throttled = code in THROTTLING_CODES or (
                    response.status == 429 and code not in MODELED_CODES
                )
                retry = throttled or (
                    response.status in TRANSIENT_STATUS or code in TRANSIENT_CODES
                )
            if not retry or attempt == self.attempts:
                break
            self.retries += 1
            await self.sleep(self._backoff(attempt, throttled))
        self.last_error = error
        return PostResult.FAILED

    async def aclose(self) -> None:
        await self.pool.aclose()
