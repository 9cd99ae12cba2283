"""The local gateway is handed what it serves: its command line names the HTTP app and the
WebSocket handler (MODULE:ATTRIBUTE), loaded on first use, so a broken app does not stop the
gateway from starting."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from strikeboard.gateway import __main__ as entry
from strikeboard.gateway.app import (
    MAX_MESSAGE_BYTES,
    Gateway,
    LazyApp,
    LocalConnection,
    build_app,
    connection_in,
)


def test_import_target_names_module_and_attribute() -> None:
    assert entry.import_target("pathlib:PurePosixPath").__name__ == "PurePosixPath"
    for bad in ("pathlib", ":Path", "pathlib:"):
        with pytest.raises(ValueError, match="MODULE:ATTRIBUTE"):
            entry.import_target(bad)
    with pytest.raises(AttributeError):
        entry.import_target("pathlib:NoSuchThing")


def test_the_command_line_must_name_what_the_gateway_serves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        entry.main(["--port", "1"])
    assert exited.value.code == 2
    assert "--http-app" in capsys.readouterr().err


def test_the_ws_handler_is_imported_on_its_first_event(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []

    def fake_import(spec: str) -> Any:
        imported.append(spec)
        return lambda event, _context: {"statusCode": 200, "body": event["body"]}

    monkeypatch.setattr(entry, "import_target", fake_import)
    handler = entry.lazy_handler("somewhere:handler")
    assert imported == []
    assert handler({"body": "a"}, None) == {"statusCode": 200, "body": "a"}
    assert handler({"body": "b"}, None)["body"] == "b"
    assert imported == ["somewhere:handler"]


def test_an_app_that_fails_to_load_is_a_503_until_it_loads(tmp_path: Path) -> None:
    attempts: list[int] = []

    async def ok(_request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    def load() -> Starlette:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("UNDERLYINGS: unknown underlying 'CRUDE'")
        return Starlette(routes=[Route("/api/x", ok)])

    gateway = Gateway(lambda _e, _c: {}, http_app=LazyApp(load, "test:app"), static_dir=tmp_path)
    with TestClient(build_app(gateway)) as client:
        first = client.get("/api/x")
        assert first.status_code == 503
        assert "test:app" in first.json()["detail"] and "CRUDE" in first.json()["detail"]
        assert client.get("/_gateway/health").status_code == 200  # the gateway itself is up
        assert client.get("/api/x").json() == {"ok": True}
        assert len(attempts) == 2


def test_management_api_paths() -> None:
    assert connection_in("/@connections/abc=") == "abc="
    assert connection_in("/local/@connections/abc=") == "abc="
    for other in ("/@connections/", "/@connections", "//@connections/a", "/api/@connections/a/b",
                  "/x/y/@connections/a", "/connections/a"):  # fmt: skip
        assert connection_in(other) is None, other


def test_a_post_to_a_connection_answers_as_the_management_api(tmp_path: Path) -> None:
    """POST @connections/{id} bypasses the Starlette routes (the pusher's thousands a second)
    with the same answers: 200 and queued, 410 GoneException, 413 PayloadTooLargeException
    (declared or streamed), 429 LimitExceededException once the socket's queue is full."""
    gateway = Gateway(lambda _e, _c: {}, http_app=LazyApp(Starlette, "test:app"),
                      static_dir=tmp_path, max_queued=2)  # fmt: skip
    conn = LocalConnection("abc=", cast(WebSocket, None), "127.0.0.1", "test")
    gateway.connections[conn.connection_id] = conn
    with TestClient(build_app(gateway)) as client:
        for path in ("/@connections/abc=", "/local/@connections/abc="):
            posted = client.post(path, content=b'{"type":"pong"}')
            assert (posted.status_code, posted.content) == (200, b"")
            assert "content-security-policy" not in posted.headers  # none on this AWS API
        assert [conn.queue.get_nowait() for _ in range(2)] == ['{"type":"pong"}'] * 2
        assert gateway.posted == 2
        gone = client.post("/local/@connections/nobody=", content=b"{}")
        assert (gone.status_code, gone.headers["x-amzn-errortype"]) == (410, "GoneException")
        big = b"x" * (MAX_MESSAGE_BYTES + 1)
        for body in (big, iter([big[:70_000], big[70_000:]])):  # declared, then streamed
            refused = client.post("/local/@connections/abc=", content=body)
            assert refused.status_code == 413
            assert refused.headers["x-amzn-errortype"] == "PayloadTooLargeException"
        assert conn.queue.empty()
        assert client.post("/local/@connections/abc=", content=b"1").status_code == 200
        assert client.post("/local/@connections/abc=", content=b"2").status_code == 200
        full = client.post("/local/@connections/abc=", content=b"3")
        assert full.status_code == 429
        assert full.headers["x-amzn-errortype"] == "LimitExceededException"
        assert client.get("/local/@connections/abc=").json()["identity"]["userAgent"] == "test"
