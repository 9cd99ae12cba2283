"""The pusher's SigV4 equals botocore's: the headers of boto3's own ``post_to_connection``
request (captured before it is sent) for the same endpoint, connection, body, credentials and
clock; the day's signing key is derived once and again when the date or the secret changes."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials, ReadOnlyCredentials

from strikeboard.push import sigv4
from strikeboard.push.httppool import HttpPool
from strikeboard.push.sigv4 import CREDENTIALS_TTL_S, Signer, canonical_uri, payload_hash

AWS = "https://abc123def4.execute-api.ap-south-1.amazonaws.com/prod"
LOCAL = "http://127.0.0.1:8123"
ROLE = ReadOnlyCredentials("ASIAEXAMPLEROLEKEY", "role/secret+key", "IQoJb3JpZ2luX2VjE...token==")
USER = ReadOnlyCredentials("AKIAEXAMPLEUSERKEY", "user-secret", None)
# 2026-11-30 23:59:58 UTC: two seconds before the date in the signing scope changes.
T0 = datetime.datetime(2026, 11, 30, 23, 59, 58, tzinfo=datetime.UTC).timestamp()


class _Body:
    def stream(self, **_kw: Any) -> Iterator[bytes]:
        yield b""


def botocore_headers(
    endpoint: str, creds: ReadOnlyCredentials, connection_id: str, body: bytes, at: float,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:  # fmt: skip
    """The headers boto3 sends for post_to_connection at time ``at`` (nothing is sent)."""
    moment = datetime.datetime.fromtimestamp(at, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: moment)
    session = boto3.session.Session(
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
    client = session.client("apigatewaymanagementapi", endpoint_url=endpoint,
                            region_name="ap-south-1")  # fmt: skip
    captured: dict[str, str] = {}

    def capture(request: Any, **_kw: Any) -> AWSResponse:
        captured.update({k: v.decode() if isinstance(v, bytes) else v
                         for k, v in request.headers.items()})  # fmt: skip
        captured["url"] = request.url
        return AWSResponse(request.url, 200, {}, _Body())  # type: ignore[arg-type]

    client.meta.events.register("before-send", capture)
    client.post_to_connection(ConnectionId=connection_id, Data=body)
    return captured


def ours(
    endpoint: str, creds: ReadOnlyCredentials, connection_id: str, body: bytes, at: float
) -> tuple[str, dict[str, str]]:
    pool = HttpPool(endpoint, 1)
    path = f"{pool.path}/@connections/{quote(connection_id, safe='')}"
    signer = Signer("ap-south-1", lambda: creds, clock=lambda: at)
    return path, dict(signer.sign("POST", pool.host, canonical_uri(path), body))


@pytest.mark.parametrize("endpoint", [AWS, LOCAL])
@pytest.mark.parametrize("creds", [ROLE, USER], ids=["role", "user"])
@pytest.mark.parametrize("connection_id", ["Lx3kVeK0BcwCFxQ=", "a b/c+d~e%f"])
def test_signature_equals_botocore(
    endpoint: str, creds: ReadOnlyCredentials, connection_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    body = b'{"type":"delta","seq":7,"base":6,"set":{"x":1.5}}'
    theirs = botocore_headers(endpoint, creds, connection_id, body, T0, monkeypatch)
    path, mine = ours(endpoint, creds, connection_id, body, T0)
    assert urlsplit(theirs["url"]).path == path  # the same request line
    assert mine["X-Amz-Date"] == theirs["X-Amz-Date"] == "20261130T235958Z"
    assert mine.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token") == creds.token
    assert mine["Authorization"] == theirs["Authorization"]
    assert "/ap-south-1/execute-api/aws4_request" in mine["Authorization"]
    # The body's hash given (a message posted to many connections is hashed once): the same.
    signer = Signer("ap-south-1", lambda: creds, clock=lambda: T0)
    host = HttpPool(endpoint, 1).host
    given = signer.sign("POST", host, canonical_uri(path), body, payload_hash(body))
    assert dict(given) == mine


def test_signature_equals_sigv4auth_for_an_empty_body() -> None:
    """botocore's signer on its own (no client), the same host, path and empty payload."""
    request = AWSRequest(method="POST", url=f"{AWS}/@connections/abc%3D", data=b"")
    from botocore.auth import SigV4Auth  # noqa: PLC0415

    moment = datetime.datetime.fromtimestamp(T0, datetime.UTC).replace(tzinfo=None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: moment)
        SigV4Auth(Credentials(*ROLE), "execute-api", "ap-south-1").add_auth(request)
    _, mine = ours(AWS, ROLE, "abc=", b"", T0)
    assert mine["Authorization"] == request.headers["Authorization"]


def test_the_days_key_is_derived_once_and_again_on_a_new_date_or_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [T0]
    fetched: list[ReadOnlyCredentials] = []
    current = [ROLE]

    def credentials() -> ReadOnlyCredentials:
        fetched.append(current[0])
        return current[0]

    signer = Signer("ap-south-1", credentials, clock=lambda: now[0])
    pool = HttpPool(AWS, 1)
    uri = canonical_uri(f"{pool.path}/@connections/abc%3D")

    def check(creds: ReadOnlyCredentials) -> str:
        mine = dict(signer.sign("POST", pool.host, uri, b"{}"))
        theirs = botocore_headers(AWS, creds, "abc=", b"{}", now[0], monkeypatch)
        assert mine["Authorization"] == theirs["Authorization"]
        return mine["X-Amz-Date"]

    for _ in range(50):
        assert check(ROLE) == "20261130T235958Z"
    assert signer.derivations == 1 and len(fetched) == 1
    now[0] += 1.5  # 23:59:59.5, same day: same key
    check(ROLE)
    assert signer.derivations == 1
    now[0] += 1.0  # 00:00:00.5 the next day: a new key, scope 20261201
    assert check(ROLE) == "20261201T000000Z"
    assert signer.derivations == 2
    check(ROLE)
    assert signer.derivations == 2
    # The task role's credentials rotate: picked up within a minute, a new key for them.
    current[0] = ReadOnlyCredentials("ASIAROTATEDKEY", "rotated-secret", "new-token")
    now[0] += CREDENTIALS_TTL_S - 5
    check(ROLE)  # still the frozen copy
    now[0] += 10
    check(current[0])
    assert signer.derivations == 3 and len(fetched) == 2


def test_a_local_endpoint_without_credentials_gets_dummy_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert sigv4.botocore_credentials(local=True)() == ReadOnlyCredentials("local", "local", None)
    with pytest.raises(RuntimeError, match="no AWS credentials"):
        sigv4.botocore_credentials(local=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    assert sigv4.botocore_credentials(local=False)() == ReadOnlyCredentials(
        "AKIAENV", "env-secret", "env-token"
    )
