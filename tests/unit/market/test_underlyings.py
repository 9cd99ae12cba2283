"""The table of underlyings, and a universe of several of them sharing Kite's connections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from strikeboard.market import layouts
from strikeboard.market.underlyings import (
    NIFTY,
    UNDERLYINGS,
    UnknownUnderlyingError,
    followed_name,
    market_future_name,
    parse_underlyings,
    underlying,
    underlying_of,
)
from strikeboard.market.universe import (
    Catalog,
    UniverseConfig,
    UniverseError,
    parse_instruments,
    recentre,
    select_universe,
)

TODAY = date(2025, 11, 26)
BANK_EXPIRIES = [date(2025, 12, 30), date(2026, 1, 27), date(2026, 2, 24)]


def _bfo_or_nfo(rows: list[dict[str, Any]], name: str, spot_symbol: str, spot_token: int,
                exchange: str, first: int, strikes: range) -> list[dict[str, Any]]:  # fmt: skip
    """Another underlying's rows, shaped like the dump's: its index row and monthly options."""
    u = underlying(name)
    seg = u.segment
    out = [
        {**rows[0], "instrument_token": spot_token, "exchange_token": str(spot_token >> 8),
         "tradingsymbol": spot_symbol, "name": spot_symbol, "exchange": exchange},
    ]  # fmt: skip
    ex = first
    for e in BANK_EXPIRIES:
        for k in strikes:
            for kind in ("CE", "PE"):
                ex += 1
                out.append({
                    "instrument_token": (ex << 8) | seg, "exchange_token": str(ex),
                    "tradingsymbol": f"{name}{e:%y%b}{k}{kind}".upper(), "name": name,
                    "last_price": 0.0, "expiry": e, "strike": float(k), "tick_size": 0.05,
                    "lot_size": 30, "instrument_type": kind, "segment": f"{u.derivatives}-OPT",
                    "exchange": u.derivatives,
                })  # fmt: skip
    return out


@pytest.fixture
def three(make_dump: Callable[..., list[dict[str, Any]]]) -> list[dict[str, Any]]:
    nifty = make_dump(strikes=range(25_000, 27_001, 50))
    bank = _bfo_or_nfo(nifty, "BANKNIFTY", "NIFTY BANK", 260105, "NSE", 500_000,
                       range(55_000, 63_001, 100))  # fmt: skip
    sensex = _bfo_or_nfo(nifty, "SENSEX", "SENSEX", 265, "BSE", 600_000,
                         range(80_000, 90_001, 100))  # fmt: skip
    return nifty + bank + sensex


def test_table_holds_the_six_with_their_rules() -> None:
    assert list(UNDERLYINGS) == ["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX",
                                 "BANKEX"]  # fmt: skip
    weekly = {n for n, u in UNDERLYINGS.items() if u.expiry.weekly}
    assert weekly == {"NIFTY", "SENSEX"}
    assert {n for n, u in UNDERLYINGS.items() if u.vix_symbol} == {"NIFTY"}
    assert {n: u.segment for n, u in UNDERLYINGS.items()} == {
        "NIFTY": layouts.SEGMENT_NFO, "BANKNIFTY": layouts.SEGMENT_NFO,
        "FINNIFTY": layouts.SEGMENT_NFO, "MIDCPNIFTY": layouts.SEGMENT_NFO,
        "SENSEX": layouts.SEGMENT_BFO, "BANKEX": layouts.SEGMENT_BFO,
    }  # fmt: skip
    for u in UNDERLYINGS.values():  # every index token is Kite's INDICES segment
        assert u.spot_token & 0xFF == layouts.SEGMENT_INDICES
    assert UNDERLYINGS["SENSEX"].spot_key == "BSE:SENSEX"
    assert UNDERLYINGS["SENSEX"].expiry.describe() == "weekly (Thursday) and monthly"
    assert UNDERLYINGS["BANKNIFTY"].expiry.describe() == "monthly (last Tuesday)"


def test_parse_underlyings_keeps_order_and_rejects_unknown_names() -> None:
    assert [u.name for u in parse_underlyings("nifty, BANKNIFTY,SENSEX,nifty")] == [
        "NIFTY", "BANKNIFTY", "SENSEX",
    ]  # fmt: skip
    assert parse_underlyings("") == (NIFTY,)
    with pytest.raises(UnknownUnderlyingError, match=r"unknown underlying 'CRUDE'.*NIFTY"):
        parse_underlyings("NIFTY,CRUDE")


def test_spot_token_comes_from_the_dump_row(three: list[dict[str, Any]]) -> None:
    moved = [
        {**r, "instrument_token": 777_737} if r["tradingsymbol"] == "NIFTY BANK" else r
        for r in three
    ]
    cfg = UniverseConfig(underlyings=parse_underlyings("NIFTY,BANKNIFTY"))
    cat = Catalog(parse_instruments(moved), cfg)
    assert cat.of("BANKNIFTY").spot_token == 777_737
    assert cat.of("NIFTY").spot_token == NIFTY.spot_token
    # No row in the dump: the table's token.
    cat = Catalog(parse_instruments([r for r in three if r["tradingsymbol"] != "NIFTY BANK"]), cfg)
    assert cat.of("BANKNIFTY").spot_token == 260105


def test_universe_of_three_keeps_each_underlying_apart(three: list[dict[str, Any]]) -> None:
    cfg = UniverseConfig(underlyings=parse_underlyings("NIFTY,BANKNIFTY,SENSEX"),
                         weekly_expiries=2, strikes_each_side=5)  # fmt: skip
    cat = Catalog(parse_instruments(three), cfg)
    spots = {"NIFTY": 26_010.0, "BANKNIFTY": 59_040.0, "SENSEX": 85_020.0}
    uni = select_universe(cat, spots, TODAY)
    assert [p.underlying.name for p in uni.parts] == ["NIFTY", "BANKNIFTY", "SENSEX"]
    bank, sensex = uni.part("BANKNIFTY"), uni.part("SENSEX")
    assert bank.spot is not None and bank.spot.instrument_token == 260105
    assert sensex.spot is not None and sensex.spot.exchange == "BSE"
    assert bank.vix is None and uni.part("NIFTY").vix is not None
    assert {w.centre_strike for w in bank.windows} == {59_000.0}
    assert {w.centre_strike for w in sensex.windows} == {85_000.0}
    assert all(o.exchange == "BFO" and o.instrument_token & 0xFF == 5 for o in sensex.options)
    assert all(o.name == "BANKNIFTY" for o in bank.options)
    assert len(bank.options) == 2 * 11 * 2  # two nearest expiries, 11 strikes, CE and PE
    assert uni.tokens == {i.instrument_token for i in uni.instruments}
    with pytest.raises(UniverseError, match="no spot for SENSEX"):
        select_universe(cat, {"NIFTY": 26_000.0, "BANKNIFTY": 59_000.0}, TODAY)
    with pytest.raises(UniverseError, match="one spot given for 3"):
        select_universe(cat, 26_000.0, TODAY)
    # Re-centring moves only the underlying whose spot moved.
    moved = recentre(cat, uni, {**spots, "BANKNIFTY": 59_640.0}, TODAY)
    names = {cat.by_token[t].name for t in moved.to_subscribe | moved.to_unsubscribe}
    assert names == {"BANKNIFTY"}


def test_shared_budget_trims_nearest_strikes_last(three: list[dict[str, Any]]) -> None:
    cfg = UniverseConfig(underlyings=parse_underlyings("NIFTY,BANKNIFTY,SENSEX"),
                         weekly_expiries=1, include_monthly=False, strikes_each_side=10,
                         max_connections=1, per_connection=100)  # fmt: skip
    cat = Catalog(parse_instruments(three), cfg)
    uni = select_universe(cat, {"NIFTY": 26_000.0, "BANKNIFTY": 59_000.0,
                                "SENSEX": 85_000.0}, TODAY)  # fmt: skip
    assert len(uni.tokens) <= 100
    assert uni.trimmed == 3 * 21 * 2 - len(uni.options)
    for part in uni.parts:  # every underlying keeps a window around its ATM
        (win,) = part.windows
        assert win.lo <= win.centre < win.hi
        assert abs((win.hi - 1 - win.centre) - (win.centre - win.lo)) <= 1
        assert part.trimmed > 0


def test_a_dump_row_names_its_underlying() -> None:
    def row(
        symbol: str, name: str, segment: str, exchange: str, expiry: str = ""
    ) -> dict[str, str]:
        return {"tradingsymbol": symbol, "name": name, "segment": segment,
                "exchange": exchange, "expiry": expiry}  # fmt: skip

    assert underlying_of(row("NIFTY 50", "NIFTY 50", "INDICES", "NSE")) == "NIFTY"
    assert underlying_of(row("INDIA VIX", "INDIA VIX", "INDICES", "NSE")) == "NIFTY"
    assert underlying_of(row("SENSEX", "SENSEX", "INDICES", "BSE")) == "SENSEX"
    assert underlying_of(row("NIFTY BANK", "NIFTY BANK", "INDICES", "NSE")) == "BANKNIFTY"
    assert underlying_of(row("SENSEX26D0385000CE", "SENSEX", "BFO-OPT", "BFO", "2026-12-03")) == (
        "SENSEX"
    )
    assert underlying_of(row("NIFTY IT", "NIFTY IT", "INDICES", "NSE")) is None
    assert underlying_of(row("RELIANCE", "RELIANCE", "NSE", "NSE")) is None
    assert (
        underlying_of(row("RELIANCE26DECFUT", "RELIANCE", "NFO-FUT", "NFO", "2026-12-29")) is None
    )
    assert market_future_name("NIFTY", date(2026, 12, 29)) == "FUT 2026-12-29"
    assert market_future_name("SENSEX", date(2026, 12, 24)) == "SENSEX FUT 2026-12-24"


def test_a_request_names_a_followed_underlying_by_default_the_first() -> None:
    followed = parse_underlyings("SENSEX,NIFTY")
    assert followed_name(followed, None) == "SENSEX"
    assert followed_name(followed, "NIFTY") == "NIFTY"
    with pytest.raises(UnknownUnderlyingError) as raised:
        followed_name(followed, "BANKNIFTY")  # known to Strikeboard, not followed here
    assert (
        str(raised.value) == "unknown underlying 'BANKNIFTY': this deployment follows SENSEX, NIFTY"
    )
