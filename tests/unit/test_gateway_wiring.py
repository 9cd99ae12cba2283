"""The local gateway is handed what it serves: its command line names the HTTP app and the
WebSocket handler (MODULE:ATTRIBUTE), loaded on first use, so a broken app does not stop the
gateway from starting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from strikeboard.gateway import __main__ as entry
from strikeboard.gateway.app import Gateway, LazyApp, build_app


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
