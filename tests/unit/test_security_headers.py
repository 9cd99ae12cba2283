"""The local gateway sends the security headers on the SPA, its assets and the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from strikeboard import headers
from strikeboard.api.app import create_app
from strikeboard.config import Settings, get_settings
from strikeboard.gateway.app import Gateway, SecurityHeaders, build_app

COGNITO = "https://sb-123.auth.ap-south-1.amazoncognito.com"


async def api(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/api/own":  # a header the app sets itself is kept
        response: Response = JSONResponse({}, headers={"X-Frame-Options": "SAMEORIGIN"})
    else:
        response = JSONResponse({"path": scope["path"]})
    await response(scope, receive, send)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("COGNITO_DOMAIN", COGNITO)
    get_settings.cache_clear()
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "app.js").write_text("1")
    app = build_app(Gateway(ws_handler=lambda e, c: {}, http_app=api, static_dir=tmp_path))
    get_settings.cache_clear()
    return TestClient(app)


def test_the_spa_assets_and_api_carry_the_headers(client: TestClient) -> None:
    for path in ("/", "/chain", "/app.js", "/missing.js", "/api/health", "/_gateway/health"):
        response = client.get(path)
        for name, value in headers.HEADERS.items():
            assert response.headers[name] == value, (path, name)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp, csp
        assert f"connect-src 'self' {COGNITO};" in csp
        assert "unsafe-inline" not in csp and "jsdelivr" not in csp
        # Plain http: no HSTS (it would pin https on 127.0.0.1).
        assert "Strict-Transport-Security" not in response.headers
    assert client.get("/api/own").headers["X-Frame-Options"] == "SAMEORIGIN"


def test_only_the_docs_page_may_load_swagger_from_the_cdn(client: TestClient) -> None:
    csp = client.get("/api/docs").headers["Content-Security-Policy"]
    assert "https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp
    assert "jsdelivr" not in client.get("/api/docs/x").headers["Content-Security-Policy"]


def test_hsts_over_https() -> None:
    app = SecurityHeaders(api)
    response = TestClient(app, base_url="https://testserver").get("/api/x")
    assert response.headers["Strict-Transport-Security"] == headers.HSTS


def test_api_docs_off_keeps_the_schema() -> None:
    dead = {"redis_url": "redis://127.0.0.1:1/0", "database_url": "postgresql://x@127.0.0.1:1/x"}
    off = TestClient(
        create_app(Settings(**dead, api_docs=False, dev_token="t"))  # type: ignore[arg-type]
    )
    # Off, /api/docs is just another protected path: 401 without a token, 404 with one.
    assert off.get("/api/docs").status_code == 401
    assert off.get("/api/docs", headers={"Authorization": "Bearer t"}).status_code == 404
    assert off.get("/api/openapi.json").status_code == 200
    on = TestClient(create_app(Settings(**dead, api_docs=True)))  # type: ignore[arg-type]
    assert on.get("/api/docs").status_code == 200
