"""Pure parts of the API: strike window, NSE recompute, freshness, cursors, auth sources."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr, ValidationError
from starlette.requests import Request

from strikeboard.api import chain as chain_doc
from strikeboard.api.app import create_app
from strikeboard.api.errors import BadRequestError, NotFoundError, UnauthorizedError
from strikeboard.api.freshness import Freshness, feed_freshness
from strikeboard.api.guard import current_user
from strikeboard.api.models import Preferences
from strikeboard.api.tick_pages import decode_cursor, encode_cursor
from strikeboard.auth import Principal
from strikeboard.chain import conventions, pricing
from strikeboard.config import Settings
from strikeboard.market.calendar import IST, market_open

SPOT, T, VOL = 24_000.0, 7 / 365, 0.14


def _doc(strikes: list[float]) -> dict[str, Any]:
    """A chain whose premiums are Black-Scholes on spot at r = 10 %, q = 0, vol 14 %: what
    the NSE convention must invert exactly."""
    k = np.array(strikes)
    calls = pricing.bs_price(SPOT, k, T, conventions.NSE_RATE, 0.0, VOL, True)
    puts = pricing.bs_price(SPOT, k, T, conventions.NSE_RATE, 0.0, VOL, False)
    rows = {
        f"{s:g}": {"strike": s, "iv": None, "gex": None,
                   "CE": {"ltp": float(c), "oi": 1000, "iv": 0.2},
                   "PE": {"ltp": float(p), "oi": 2000, "iv": 0.2}}
        for s, c, p in zip(strikes, calls, puts, strict=True)
    }  # fmt: skip
    return {"underlying": "NIFTY", "expiry": "2026-12-01", "spot": SPOT, "forward": SPOT,
            "t_years": T, "atm_strike": 24_000, "aggregates": {"atm_iv": 0.2},
            "strikes": rows}  # fmt: skip


def test_nse_recompute_recovers_the_generating_vol() -> None:
    doc = _doc([23_500.0 + 100 * i for i in range(11)])
    out = chain_doc.recompute_nse(doc)
    assert out["convention"] == "nse" and out["carry"] == 0.0
    for row in out["strikes"].values():
        for side in ("CE", "PE"):
            assert row[side]["iv"] == pytest.approx(VOL, abs=1e-4)
            assert row[side]["delta"] is not None
        assert row["iv"] == pytest.approx(VOL, abs=1e-4)
        assert row["gex"] is not None and row["gex"] < 0  # put OI is twice call OI
    assert out["aggregates"]["atm_iv"] == pytest.approx(VOL, abs=1e-4)
    assert doc["strikes"]["24000"]["CE"]["iv"] == 0.2  # the input is not modified


def test_window_keeps_the_atm_and_n_each_side() -> None:
    doc = _doc([23_500.0 + 100 * i for i in range(11)])
    out = chain_doc.window(doc, 2)
    assert sorted(out["strikes"]) == ["23800", "23900", "24000", "24100", "24200"]
    assert len(chain_doc.window(doc, 50)["strikes"]) == 11


def test_freshness_follows_the_feed_health() -> None:
    assert feed_freshness(None, 30, 1000.0) == Freshness(True, None)
    fresh = feed_freshness({"ts": 995.0, "last_tick_age_s": 1.0}, 30, 1000.0)
    assert fresh == Freshness(False, 6.0)
    assert feed_freshness({"ts": 900.0, "last_tick_age_s": 1.0}, 30, 1000.0).stale


def test_market_hours() -> None:
    assert market_open(datetime(2026, 11, 25, 9, 15, tzinfo=IST))
    assert not market_open(datetime(2026, 11, 25, 15, 30, tzinfo=IST))
    assert not market_open(datetime(2026, 11, 24, 11, 0, tzinfo=IST))  # holiday
    assert not market_open(datetime(2026, 11, 28, 11, 0, tzinfo=IST))  # Saturday


def test_cursor_round_trip_and_garbage() -> None:
    ts = datetime(2026, 11, 25, 10, 15, 1, 123456, tzinfo=IST)
    assert decode_cursor(encode_cursor(ts, 42)) == (ts, 42)
    for bad in ("", "x", "1:2:3", "12:ab", "99999999999999999999999:1", "1795582020000000:-1"):
        with pytest.raises((BadRequestError, NotFoundError)):
            decode_cursor(bad)


def test_preferences_validation() -> None:
    assert Preferences().strikes == 20
    for bad in ({"strikes": 101}, {"theme": "x"}, {"columns": ["bogus"]}, {"iv_leg": "both"}):
        with pytest.raises(ValidationError):
            Preferences.model_validate(bad)


def _run(coro: Coroutine[Any, Any, Principal]) -> Principal:
    return asyncio.run(coro)


def _request(scope_extra: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> Request:
    settings = Settings(dev_token=SecretStr("devtok"), cognito_issuer="")
    app = create_app(settings)
    scope = {"type": "http", "app": app, "headers": headers, **scope_extra}
    return Request(scope)


def test_auth_from_api_gateway_claims_or_bearer() -> None:
    claims = {"sub": "u-1", "username": "alice"}
    event = {"requestContext": {"authorizer": {"jwt": {"claims": claims}}}}
    assert _run(current_user(_request({"aws.event": event}, []))).user_id == "u-1"
    ok = _request({}, [(b"authorization", b"Bearer devtok")])
    assert _run(current_user(ok)).user_id == "dev"
    for headers in ([], [(b"authorization", b"Bearer nope")]):
        with pytest.raises(UnauthorizedError):
            _run(current_user(_request({"aws.event": {"requestContext": {}}}, headers)))
