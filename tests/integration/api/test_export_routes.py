"""CSV exports against real Redis and PostgreSQL holding the simulated session: the chain CSV
is the JSON chain of the same minute, the ticks CSV the archived ticks, streamed and bounded."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from conftest import AUTH, Api

from strikeboard.api import tick_pages
from strikeboard.api.routes import export
from strikeboard.api.routes.export import CHAIN_COLUMNS, TICK_COLUMNS


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _same(cell: str, value: Any) -> bool:
    """A CSV cell against the JSON value: empty is null, numbers parse to the same number."""
    if value is None:
        return cell == ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return cell == str(value)
    return float(cell) == float(value)


def _assert_equal(text: str, chain: dict[str, Any]) -> None:
    rows = _rows(text)
    assert list(rows[0]) == list(CHAIN_COLUMNS)
    strikes = sorted(chain["strikes"].values(), key=lambda r: r["strike"])
    assert len(rows) == len(strikes) > 10
    for row, doc_row in zip(rows, strikes, strict=True):
        assert row["expiry"] == chain["expiry"] and row["underlying"] == chain["underlying"]
        assert _same(row["spot"], chain["spot"]) and _same(row["forward"], chain["forward"])
        assert _same(row["strike"], doc_row["strike"]) and _same(row["iv"], doc_row.get("iv"))
        for side in ("CE", "PE"):
            leg = doc_row.get(side) or {}
            for name in export.LEG_COLUMNS:
                cell = row[f"{side.lower()}_{name}"]
                assert _same(cell, leg.get(name)), (doc_row["strike"], side, name, cell)


@pytest.mark.parametrize("convention", ["forward", "nse"])
def test_chain_csv_of_an_archived_minute_equals_the_json_chain(api: Api, convention: str) -> None:
    expiry = api.data.expiries[0]
    minute = api.data.minutes[1].strftime("%Y-%m-%dT%H:%M")
    params = {"expiry": expiry, "at": minute, "convention": convention}
    response = api.client.get("/api/export/chain.csv", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    chain = api.client.get(
        f"/api/chain/{expiry}", params={"at": minute, "convention": convention}, headers=AUTH
    ).json()
    assert chain["source"] == "archive"
    _assert_equal(response.text, chain)
    assert _rows(response.text)[0]["minute"] == chain["minute"]


def test_chain_csv_live_equals_the_live_chain(api: Api) -> None:
    expiry = api.data.expiries[1]
    text = api.client.get("/api/export/chain.csv", params={"expiry": expiry}, headers=AUTH).text
    chain = api.client.get(f"/api/chain/{expiry}", headers=AUTH).json()
    assert chain["source"] == "live"
    _assert_equal(text, chain)


def test_ticks_csv_holds_the_days_ticks(api: Api) -> None:
    day = api.data.day.isoformat()
    token = 256265
    response = api.client.get("/api/export/ticks.csv", params={"token": token, "day": day},
                              headers=AUTH)  # fmt: skip
    assert response.status_code == 200, response.text
    rows = _rows(response.text)
    assert tuple(rows[0]) == TICK_COLUMNS
    page = api.client.get("/api/history/ticks", params={"token": token, "start": day},
                          headers=AUTH).json()["ticks"]  # fmt: skip
    assert len(rows) == len(page) == 3
    for row, tick in zip(rows, page, strict=True):
        for name in TICK_COLUMNS:
            if name == "ts":
                assert datetime.fromisoformat(row["ts"]) == datetime.fromisoformat(tick["ts"])
            else:
                assert _same(row[name], tick[name]), name


def test_ticks_csv_streams_page_by_page_and_is_bounded(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pages of one tick the three ticks come from three queries, in the same order as
    in one; with a bound of two the export is refused before anything is sent."""
    params = {"token": 256265, "day": api.data.day.isoformat()}
    whole = _rows(api.client.get("/api/export/ticks.csv", params=params, headers=AUTH).text)
    pages: list[int] = []
    real = tick_pages.ticks_page

    def counted(*args: Any) -> dict[str, Any]:
        page = real(*args)
        pages.append(len(page["ticks"]))
        return page

    monkeypatch.setattr(tick_pages, "ticks_page", counted)
    monkeypatch.setattr(export, "_PAGE", 1)
    paged = _rows(api.client.get("/api/export/ticks.csv", params=params, headers=AUTH).text)
    assert paged == whole and len(paged) == 3
    assert pages == [1, 1, 1]
    monkeypatch.setattr(export, "MAX_EXPORT_TICKS", 2)
    refused = api.client.get("/api/export/ticks.csv", params=params, headers=AUTH)
    assert refused.status_code == 400 and "over 2 ticks" in refused.json()["detail"]
    empty = api.client.get("/api/export/ticks.csv", params={**params, "day": "2026-11-24"},
                           headers=AUTH)  # fmt: skip
    assert empty.text.strip() == ",".join(TICK_COLUMNS)


def test_exports_need_a_token_and_valid_input(api: Api) -> None:
    expiry = api.data.expiries[0]
    assert api.client.get(f"/api/export/chain.csv?expiry={expiry}").status_code == 401
    assert api.client.get("/api/export/ticks.csv?token=256265&day=2026-11-25").status_code == 401
    for url in (
        "/api/export/chain.csv?expiry=2031-01-02",
        "/api/export/chain.csv?expiry=nope",
        f"/api/export/chain.csv?expiry={expiry}&at=2026-11-25T08:00",
        "/api/export/ticks.csv?token=0&day=2026-11-25",
        "/api/export/ticks.csv?token=256265&day=1900-01-01",
    ):
        response = api.client.get(url, headers=AUTH)
        assert 400 <= response.status_code < 500 and response.json()["detail"], url
