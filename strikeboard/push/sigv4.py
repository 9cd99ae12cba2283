"""AWS Signature Version 4 for the pusher's posts (service ``execute-api``), costing
microseconds: the day's signing key is derived once per date, region, service and secret key
(four HMACs botocore repeats on every request), the credentials are frozen for a minute.

Produces the headers botocore's `SigV4Auth` adds to the same request (tests/unit/push prove
the equality): ``X-Amz-Date``, ``X-Amz-Security-Token`` when the credentials carry one (the
ECS task role's do) and ``Authorization`` over ``host;x-amz-date[;x-amz-security-token]``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import quote

from botocore.credentials import ReadOnlyCredentials

SERVICE: Final = "execute-api"
ALGORITHM: Final = "AWS4-HMAC-SHA256"
CREDENTIALS_TTL_S: Final = 60.0
"""How long frozen credentials are reused: botocore refreshes a role's credentials 15 minutes
before they expire, so a minute-old copy is always still valid."""

Credentials = Callable[[], ReadOnlyCredentials]


def canonical_uri(path: str) -> str:
    """The path as SigV4 signs it (botocore's, for a path without dot segments or ``//``):
    percent-encoded again, so ``%3D`` in a connection id is signed as ``%253D``."""
    return quote(path, safe="/~")


def botocore_credentials(local: bool) -> Credentials:
    """The default provider chain's credentials (environment, profile, the ECS container role:
    refreshed by botocore as they rotate), frozen on each call; for a local endpoint without
    credentials, dummy ones (the local gateway does not check signatures)."""
    import botocore.session  # noqa: PLC0415 - only the cloud path needs the provider chain

    found = botocore.session.get_session().get_credentials()
    if found is None:
        if not local:
            raise RuntimeError("no AWS credentials for the Management API")
        dummy = ReadOnlyCredentials("local", "local", None)
        return lambda: dummy
    return found.get_frozen_credentials


def payload_hash(body: bytes) -> str:
    """The hex SHA-256 of a request body, as SigV4 signs it."""
    return hashlib.sha256(body).hexdigest()


class Signer:
    """Signs requests to one host in one region; ``clock`` gives epoch seconds (injected)."""

    def __init__(
        self,
        region: str,
        credentials: Credentials,
        *,
        service: str = SERVICE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region, self.service = region, service
        self.credentials_source = credentials
        self.clock = clock
        self.derivations = 0  # signing keys derived (a day's key is derived once)
        self._creds: ReadOnlyCredentials | None = None
        self._creds_at = 0.0
        self._key: tuple[str, str, bytes] | None = None  # (secret, date, key)
        self._second = -1
        self._amz_date = ""

    def _credentials(self, now: float) -> ReadOnlyCredentials:
        if self._creds is None or not 0 <= now - self._creds_at < CREDENTIALS_TTL_S:
            self._creds, self._creds_at = self.credentials_source(), now
        return self._creds

    def _signing_key(self, secret: str, date: str) -> bytes:
        if self._key is not None and self._key[0] == secret and self._key[1] == date:
            return self._key[2]
        key = f"AWS4{secret}".encode()
        for part in (date, self.region, self.service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        self._key = (secret, date, key)
        self.derivations += 1
        return key

    def sign(
        self, method: str, host: str, uri: str, body: bytes, body_hash: str | None = None
    ) -> list[tuple[str, str]]:
        """The headers that authenticate ``method`` ``uri`` (a `canonical_uri`) with ``body``
        to ``host`` (as in the Host header: the port only when not the scheme's default).
        ``body_hash``: `payload_hash` of ``body`` when the caller has it (a message posted
        to many connections is hashed once: 20 us for 14 KB here, a third of a post)."""
        now = self.clock()
        second = int(now)
        if second != self._second:  # strftime once a second, not once a post
            self._second = second
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        amz_date = self._amz_date
        date = amz_date[:8]
        creds = self._credentials(now)
        token = creds.token
        if token:
            headers = f"host:{host}\nx-amz-date:{amz_date}\nx-amz-security-token:{token}\n"
            signed = "host;x-amz-date;x-amz-security-token"
        else:
            headers = f"host:{host}\nx-amz-date:{amz_date}\n"
            signed = "host;x-amz-date"
        payload = body_hash if body_hash is not None else payload_hash(body)
        request = f"{method}\n{uri}\n\n{headers}\n{signed}\n{payload}"
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        digest = hashlib.sha256(request.encode()).hexdigest()
        to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
        key = self._signing_key(creds.secret_key or "", date)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out = [("X-Amz-Date", amz_date)]
        if token:
            out.append(("X-Amz-Security-Token", token))
        out.append(
            (
                "Authorization",
                f"{ALGORITHM} Credential={creds.access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature}",
            )
        )
        return out
