"""Hostile HTTP input (issue 13): the caller is known before any body is read, bodies are
bounded, inputs strict and every JWT failure a 401. Each case failed before the fix.

Bodies are driven straight through ASGI where it matters: the test's `receive` counts the
bytes the app pulled, so "not read" is a byte count, not a timing. The outcomes by status
are printed (`pytest -s` or the terminal summary shows them).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import jwt
import moto
import pytest
from conftest import AUTH, TOKEN, FixedClock, make_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from strikeboard import auth
from strikeboard.api.app import create_app
from strikeboard.api.limits import MAX_BODY_BYTES
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.gateway.app import MAX_REQUEST_BYTES, Gateway, LocalConnection, build_app

MB = 1024 * 1024
CHUNK = 64 * 1024
RESOURCES = Path(moto.__file__).parent / "cognitoidp" / "resources"
ISSUER = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_hostile"


class Tally:
    """Requests tried and their outcomes by status, printed at the end of each test."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.by_status: Counter[int] = Counter()

    def __call__(self, status: int) -> int:
        self.by_status[status] += 1
        return status

    def report(self, capsys: pytest.CaptureFixture[str]) -> None:
        outcomes = ", ".join(f"{s}: {n}" for s, n in sorted(self.by_status.items()))
        with capsys.disabled():
            print(f"\n[hostile-http] {self.name}: {self.by_status.total()} requests; {outcomes}")


@pytest.fixture
def settings(redis_url: str, redis_prefix: str, database_url: str) -> Settings:
    return make_settings(redis_url, redis_prefix, database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    stores = Stores(settings, timeout=1.0)
    yield create_app(settings, stores, FixedClock())
    stores.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def asgi_request(
    app: ASGIApp,
    method: str,
    path: str,
    headers: dict[str, str],
    total: int,
    chunk: int = CHUNK,
) -> tuple[int, int, bytes]:
    """Send `total` bytes of body in `chunk`-sized messages, generated on demand as the app
    asks for them: (status, body bytes the app consumed, response body)."""
    consumed = 0
    sent_all = False
    status = 0
    answer = b""

    async def receive() -> dict[str, Any]:
        nonlocal consumed, sent_all
        if sent_all:
            return {"type": "http.disconnect"}
        piece = min(chunk, total - consumed)
        consumed += piece
        sent_all = consumed >= total
        return {"type": "http.request", "body": b"{" * piece, "more_body": not sent_all}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, answer
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            answer += message.get("body", b"")

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("test", 80), "client": ("127.0.0.1", 1),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return status, consumed, answer


ROUTES_WITH_BODIES = [("PUT", "/api/preferences"), ("POST", "/api/ws/ticket"),
                      ("POST", "/api/auth/kite/login"), ("PUT", "/api/nowhere")]  # fmt: skip


def test_no_token_is_a_401_before_a_byte_of_body_is_read(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """100 MB with no (or a bad) token: refused with nothing read (was read and parsed)."""
    tally = Tally("unauthenticated bodies")
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        for extra in ({"content-length": str(100 * MB)}, {"transfer-encoding": "chunked"}):
            for method, path in ROUTES_WITH_BODIES:
                status, consumed, body = asgi_request(app, method, path, headers | extra, 100 * MB)
                assert tally(status) == 401, (method, path, headers, body)
                assert consumed == 0, (method, path, headers, consumed)
                assert json.loads(body)["detail"].startswith("not authenticated")
    tally.report(capsys)


def test_malformed_or_oversize_json_without_a_token_is_a_401(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("malformed bodies without a token")
    for content in (b"{", b"not json", b"[" * 5000, b"\xff\xfe", b'{"strikes": "x"}'):
        response = client.put("/api/preferences", content=content,
                              headers={"Content-Type": "application/json"})  # fmt: skip
        assert tally(response.status_code) == 401, (content[:20], response.text)  # was 422
        assert response.headers["www-authenticate"] == "Bearer"
    tally.report(capsys)


def test_oversize_bodies_with_a_token_are_a_413(
    app: FastAPI, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("oversize bodies with a token")
    auth_header = {"authorization": f"Bearer {TOKEN}"}
    # Declared: refused on the Content-Length, unread.
    status, consumed, body = asgi_request(app, "PUT", "/api/preferences",
                                          auth_header | {"content-length": str(100 * MB)},
                                          100 * MB)  # fmt: skip
    assert (tally(status), consumed) == (413, 0), body
    assert "64" in json.loads(body)["detail"] or str(MAX_BODY_BYTES) in json.loads(body)["detail"]
    # Streamed (chunked, or a Content-Length that lies): reading stops at the first chunk over.
    for extra in ({"transfer-encoding": "chunked"}, {"content-length": "10"}):
        status, consumed, body = asgi_request(app, "PUT", "/api/preferences",
                                              auth_header | extra, 100 * MB)  # fmt: skip
        assert tally(status) == 413, (extra, body)
        assert consumed <= MAX_BODY_BYTES + CHUNK, consumed
    # Through the HTTP client, just over the limit; just under is merely bad JSON.
    over = client.put("/api/preferences", content=b" " * (MAX_BODY_BYTES + 1), headers=AUTH)
    assert tally(over.status_code) == 413, over.text
    under = client.put("/api/preferences", content=b" " * MAX_BODY_BYTES, headers=AUTH)
    assert tally(under.status_code) == 422, under.text
    bad_length = client.put("/api/preferences", content=b"{}",
                            headers=AUTH | {"Content-Length": "x"})  # fmt: skip
    assert tally(bad_length.status_code) in (400, 413), bad_length.text
    tally.report(capsys)


def test_the_local_gateway_bounds_every_body(
    app: FastAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway's own routes (@connections) stop reading at 1 MiB; /api keeps its guards."""
    local = Gateway(lambda _event, _ctx: {"statusCode": 200}, http_app=app, static_dir=tmp_path)
    # A connection to post to (the post itself never reaches its socket: it is too large).
    local.connections["abc"] = LocalConnection("abc", cast(WebSocket, None), "127.0.0.1", "t")
    gateway = build_app(local)
    tally = Tally("local gateway")
    for extra in ({"content-length": str(100 * MB)}, {"transfer-encoding": "chunked"}):
        status, consumed, _ = asgi_request(gateway, "POST", "/@connections/abc", extra, 100 * MB)
        assert tally(status) == 413 and consumed <= MAX_REQUEST_BYTES + CHUNK, (extra, consumed)
        status, consumed, _ = asgi_request(gateway, "PUT", "/api/preferences", extra, 100 * MB)
        # A declared 100 MB meets the gateway's own limit first: unread either way.
        assert tally(status) in (401, 413) and consumed == 0, (extra, status, consumed)
    tally.report(capsys)


def test_the_gateways_spa_route_survives_names_the_os_refuses(
    app: FastAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path component over 255 bytes made the SPA route's is_file() raise ENAMETOOLONG: a
    500 (found by bench/bench_hostile.py). Now: a missing asset (404) or a client route."""
    (tmp_path / "index.html").write_text("<!doctype html><title>spa</title>")
    gateway = TestClient(build_app(Gateway(lambda _e, _c: {}, http_app=app, static_dir=tmp_path)),
                         raise_server_exceptions=False)  # fmt: skip
    tally = Tally("the gateway's SPA route")
    for path, status in [("/" + "a" * 8000, 200), ("/" + "a" * 256 + ".js", 404),
                         ("/x/" + "b" * 300 + "/c", 200), ("/%00.js", 404),
                         ("/" + "a" * 255 + ".js", 404)]:  # fmt: skip
        for method in ("GET", "HEAD"):
            response = gateway.request(method, path)
            assert tally(response.status_code) == status, (method, path[:40], response.text)
            assert method == "HEAD" or status == 404 or "spa" in response.text
    tally.report(capsys)


BAD_PREFERENCES: list[dict[str, Any]] = [
    {"default_expiry": "1900-01-01"},
    {"default_expiry": "2999-12-31"},
    {"default_expiry": "1999-12-31"},
    {"default_expiry": "not a date"},
    {"columns": ["oi", "iv", "oi"]},
    {"columns": ["oi"] * 18},
    {"columns": ["nope"]},
    {"columns": ["x" * 10_000]},
    {"columns": "oi"},
    {"strikes": 0},
    {"strikes": 10**9},
    {"theme": "x" * 10_000},
    {"convention": "black"},
    {"iv_leg": None},
    {"extra": 1},
    {"x" * 1000: 1},
]


def test_bad_preferences_are_a_422_and_good_ones_round_trip(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("preferences")
    for body in BAD_PREFERENCES:
        response = client.put("/api/preferences", json=body, headers=AUTH)
        assert tally(response.status_code) == 422, (str(body)[:80], response.text)
        assert len(response.text) < 4000  # the error names the problem, it does not echo 10 kB
    good = {"default_expiry": "2099-12-31", "columns": ["oi", "iv"], "strikes": 100}
    saved = client.put("/api/preferences", json=good, headers=AUTH)
    assert tally(saved.status_code) == 200, saved.text
    assert client.get("/api/preferences", headers=AUTH).json()["default_expiry"] == "2099-12-31"
    tally.report(capsys)


def test_underlying_names_are_bounded(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("underlying names")
    for name in ("N" * 10_000, "NIFTY 50", "nifty", "../etc", "N" * 21, ""):
        for path in ("/api/expiries", "/api/chain/2026-12-01", "/api/analytics/daily"):
            response = client.get(path, params={"underlying": name}, headers=AUTH)
            assert tally(response.status_code) == 422, (path, name[:30], response.text)
    tally.report(capsys)


# -- JWTs over HTTP ---------------------------------------------------------------------------


def _keys(name: str) -> dict[str, Any]:
    return dict(json.loads(gzip.decompress((RESOURCES / name).read_bytes())))


@pytest.fixture
def cognito(
    redis_url: str, redis_prefix: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The API as in the cloud outside API Gateway's authorizer: Cognito tokens, checked
    against moto's pool keys (the JWKS fetch answered from moto's file)."""
    public = _keys("jwks-public.json.gz")
    monkeypatch.setattr(auth, "_jwks", lambda _url: public)
    settings = make_settings(redis_url, redis_prefix, database_url).model_copy(
        update={"cognito_issuer": ISSUER, "cognito_client_id": "app"}
    )
    stores = Stores(settings, timeout=1.0)
    with TestClient(create_app(settings, stores, FixedClock())) as c:
        yield c
    stores.close()


def _signed(claims: dict[str, Any]) -> str:
    private = _keys("jwks-private.json.gz")
    jwk = private if "kty" in private else private["keys"][0]
    return jwt.encode(claims, jwt.PyJWK(jwk).key, algorithm="RS256",
                      headers={"kid": jwk["kid"]})  # fmt: skip


def test_every_jwt_failure_is_a_401(
    cognito: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    good = {"sub": "u-1", "iss": ISSUER, "client_id": "app", "token_use": "access",
            "iat": now, "exp": now + 3600, "username": "trader"}  # fmt: skip
    ok = cognito.get("/api/preferences", headers={"Authorization": f"Bearer {_signed(good)}"})
    assert ok.status_code == 200, ok.text
    tally = Tally("JWTs")
    tally(ok.status_code)
    drop = object()
    cases: dict[str, dict[str, Any]] = {
        "no sub (was a 500)": {"sub": drop},
        "no exp (was accepted)": {"exp": drop},
        "no iat": {"iat": drop},
        "no token_use": {"token_use": drop},
        "refresh token": {"token_use": "refresh"},
        "no client_id": {"client_id": drop},
        "other client": {"client_id": "x"},
        "other issuer": {"iss": "https://evil"},
        "expired": {"exp": now - 120},
        "sub not a string": {"sub": 7},
    }
    for case, change in cases.items():
        claims = {k: v for k, v in (good | change).items() if v is not drop}
        token = _signed(claims)
        for header in (f"Bearer {token}", token):
            response = cognito.put("/api/preferences", headers={"Authorization": header},
                                   content=b"{")  # fmt: skip
            assert tally(response.status_code) == 401, (case, response.text)
    # A valid token without the Bearer scheme (was accepted) and other schemes.
    for header in (_signed(good), f"Basic {_signed(good)}", f"Bearer{_signed(good)}"):
        response = cognito.get("/api/preferences", headers={"Authorization": header})
        assert tally(response.status_code) == 401, header[:20]
    tally.report(capsys)
