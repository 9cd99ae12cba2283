"""Instruments dump parsing, universe selection, re-centring and sharding."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from strikeboard.market.underlyings import INDIA_VIX_TOKEN
from strikeboard.market.universe import (
    CSV_FIELDS,
    NIFTY_50_TOKEN,
    Catalog,
    UniverseConfig,
    UniverseError,
    parse_instruments,
    parse_instruments_csv,
    recentre,
    select_universe,
    shard,
)

TODAY = date(2025, 11, 26)  # the day after the November monthly expiry


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "expiry": r["expiry"].isoformat() if r["expiry"] else ""})
    return out.getvalue()


def _catalog(rows: list[dict[str, Any]], **cfg: Any) -> Catalog:
    return Catalog(parse_instruments(rows), UniverseConfig(**cfg))


def test_csv_and_dicts_parse_to_the_same_records(dump: list[dict[str, Any]]) -> None:
    from_dicts = parse_instruments(dump)
    assert parse_instruments_csv(_csv(dump)) == from_dicts
    assert parse_instruments_csv(_csv(dump).encode()) == from_dicts
    nifty = from_dicts[0]
    assert (nifty.instrument_token, nifty.is_index, nifty.expiry) == (NIFTY_50_TOKEN, True, None)
    opt = next(i for i in from_dicts if i.tradingsymbol == "NIFTY25D0226000CE")
    assert (opt.strike, opt.expiry, opt.lot_size, opt.tick_size) == (
        26000.0,
        date(2025, 12, 2),
        75,
        0.05,
    )
    assert any(i.tradingsymbol == "NIFTY25DEC26000PE" for i in from_dicts)
    assert any(i.tradingsymbol == "NIFTY25DECFUT" and i.is_future for i in from_dicts)


def test_malformed_dump_raises_universe_error(dump: list[dict[str, Any]]) -> None:
    bad = dict(dump[5], strike="abc")
    with pytest.raises(UniverseError, match="row 2"):
        parse_instruments([dump[0], bad])
    with pytest.raises(UniverseError, match="lacks columns"):
        parse_instruments_csv("instrument_token,name\n1,x\n")


def test_expiries_are_four_nearest_plus_current_monthly(dump: list[dict[str, Any]]) -> None:
    cat = _catalog(dump)
    assert cat.of("NIFTY").select_expiries(TODAY) == [
        date(2025, 12, 2),
        date(2025, 12, 9),
        date(2025, 12, 16),
        date(2025, 12, 23),
        date(2025, 12, 30),
    ]
    # On the monthly's own expiry day it is both the nearest and the current monthly.
    assert cat.of("NIFTY").select_expiries(date(2025, 11, 25)) == [
        date(2025, 11, 25),
        date(2025, 12, 2),
        date(2025, 12, 9),
        date(2025, 12, 16),
    ]
    assert _catalog(dump, include_monthly=False, weekly_expiries=2).of("NIFTY").select_expiries(
        TODAY
    ) == [
        date(2025, 12, 2),
        date(2025, 12, 9),
    ]


def test_monthly_is_the_last_listed_expiry_of_its_month(
    make_dump: Callable[..., list[dict[str, Any]]],
) -> None:
    # A month whose last expiry is a Thursday: the dump decides, not the weekday.
    rows = make_dump(
        expiries=[date(2026, 4, 2), date(2026, 4, 9), date(2026, 4, 30), date(2026, 5, 28)],
        strikes=[25000, 25100],
    )
    cat = _catalog(rows, weekly_expiries=1)
    assert cat.of("NIFTY").monthlies == {date(2026, 4, 30), date(2026, 5, 28)}
    assert cat.of("NIFTY").select_expiries(date(2026, 4, 1)) == [
        date(2026, 4, 2),
        date(2026, 4, 30),
    ]


def test_select_window_around_atm(dump: list[dict[str, Any]]) -> None:
    cat = _catalog(dump)
    uni = select_universe(cat, 26_012.0, TODAY)
    assert len(uni.windows) == 5
    for win in uni.windows:
        assert win.centre_strike == 26_000.0
        assert win.window == tuple(float(k) for k in range(24_750, 27_251, 50))
    assert len(uni.options) == 5 * 51 * 2
    assert {o.lot_size for o in uni.options} == {75}
    assert [f.tradingsymbol for f in uni.futures] == ["NIFTY25DECFUT"]
    assert uni.spot is not None and uni.spot.tradingsymbol == "NIFTY 50"
    assert uni.vix is not None and uni.vix.instrument_token == INDIA_VIX_TOKEN
    assert uni.tokens == {NIFTY_50_TOKEN, INDIA_VIX_TOKEN} | {
        i.instrument_token for i in (*uni.futures, *uni.options)
    }
    assert len(uni.instruments) == len(uni.tokens)


def test_options_nearest_first_fill_the_chain_on_screen_first(
    dump: list[dict[str, Any]],
) -> None:
    uni = select_universe(_catalog(dump), 26_012.0, TODAY)
    ordered = uni.options_nearest_first()
    assert sorted(o.instrument_token for o in ordered) == sorted(
        o.instrument_token for o in uni.options
    )
    front = min(w.expiry for w in uni.windows)
    assert {(o.expiry, o.strike) for o in ordered[:2]} == {(front, 26_000.0)}
    expiries = [o.expiry for o in ordered]
    assert expiries == sorted(expiries)  # type: ignore[type-var]
    distance = [abs(o.strike - 26_000.0) for o in ordered if o.expiry == front]
    assert distance == sorted(distance)


def test_window_clips_at_the_strike_range_and_all_strikes(dump: list[dict[str, Any]]) -> None:
    uni = select_universe(_catalog(dump), 22_010.0, TODAY)
    assert uni.windows[0].window[0] == 22_000.0 and len(uni.windows[0].window) == 26
    every = select_universe(_catalog(dump, strikes_each_side=None), 26_000.0, TODAY)
    assert len(every.windows[0].window) == 161
    two = select_universe(_catalog(dump, next_future=True), 26_000.0, TODAY)
    assert [f.tradingsymbol for f in two.futures] == ["NIFTY25DECFUT", "NIFTY26JANFUT"]


def test_selection_errors(dump: list[dict[str, Any]]) -> None:
    with pytest.raises(UniverseError, match="positive"):
        select_universe(_catalog(dump), float("nan"), TODAY)
    tiny = _catalog(dump, max_connections=1, per_connection=2)  # not even spot, VIX, future
    with pytest.raises(UniverseError, match="exceed"):
        select_universe(tiny, 26_000.0, TODAY)
    with pytest.raises(UniverseError):
        UniverseConfig(recentre_after=0)


def test_a_universe_over_kites_limits_is_trimmed_not_refused(dump: list[dict[str, Any]]) -> None:
    # Every strike of 5 expiries (5 x 161 x 2 legs) into one connection of 100 tokens.
    small = _catalog(dump, strikes_each_side=None, max_connections=1, per_connection=100)
    uni = select_universe(small, 26_012.0, TODAY)
    # Spot, VIX, the future and 97 places for option legs: a strike's two legs go together,
    # so 48 strikes (96 legs) and one place left empty.
    assert len(uni.options) == 96 and len(uni.tokens) == 99
    assert uni.trimmed == 5 * 161 * 2 - 96
    # Nearest the ATM first, the nearer expiry first among equals: every window is contiguous
    # around its centre, no window is wider than a nearer expiry's, and none is more than a
    # strike a side narrower than another.
    widths = [len(w.window) for w in uni.windows]
    assert widths == [11, 10, 9, 9, 9]
    for win in uni.windows:
        assert win.centre_strike == 26_000.0
        assert win.lo <= win.centre < win.hi
        assert win.hi - win.centre in (win.centre - win.lo, win.centre - win.lo + 1)
    legs = {(o.expiry, o.strike) for o in uni.options}
    assert legs == {(w.expiry, k) for w in uni.windows for k in w.window}
    # The same configuration with room for all of it trims nothing.
    roomy = _catalog(dump, strikes_each_side=None)
    assert select_universe(roomy, 26_012.0, TODAY).trimmed == 0


def test_a_trimmed_universe_recentres_within_the_budget(dump: list[dict[str, Any]]) -> None:
    small = _catalog(dump, strikes_each_side=25, max_connections=1, per_connection=203)
    start = select_universe(small, 26_000.0, TODAY)
    assert start.trimmed > 0 and len(start.tokens) <= 203
    moved = recentre(small, start, 26_160.0, TODAY)
    assert moved.changed and len(moved.universe.tokens) <= 203
    assert all(w.centre_strike == 26_150.0 for w in moved.universe.windows)
    assert moved.universe.trimmed == start.trimmed


def test_recentre_has_hysteresis(dump: list[dict[str, Any]]) -> None:
    cat = _catalog(dump)  # recentre_after = 3 strikes
    start = select_universe(cat, 26_000.0, TODAY)
    # Spot wandering across two strikes in either direction changes nothing.
    for spot in (26_030.0, 25_970.0, 26_100.0, 25_900.0, 26_120.0):
        step = recentre(cat, start, spot, TODAY)
        assert not step.changed
        assert step.universe.tokens == start.tokens
    moved = recentre(cat, start, 26_160.0, TODAY)  # ATM 26150: three strikes up
    assert moved.changed
    assert all(w.centre_strike == 26_150.0 for w in moved.universe.windows)
    # Three strikes x CE/PE x 5 expiries enter at the top and leave at the bottom.
    assert len(moved.to_subscribe) == len(moved.to_unsubscribe) == 3 * 2 * 5
    assert moved.to_subscribe == moved.universe.tokens - start.tokens
    assert moved.to_unsubscribe == start.tokens - moved.universe.tokens
    # Falling back by one strike does not flap back.
    assert not recentre(cat, moved.universe, 26_110.0, TODAY).changed


def test_recentre_rolls_expired_windows(dump: list[dict[str, Any]]) -> None:
    cat = _catalog(dump)
    before = select_universe(cat, 26_000.0, date(2025, 11, 25))
    after = recentre(cat, before, 26_000.0, TODAY)
    assert after.universe.windows[0].expiry == date(2025, 12, 2)
    dropped = {o.instrument_token for o in before.options if o.expiry == date(2025, 11, 25)}
    assert dropped <= after.to_unsubscribe
    assert len(after.to_subscribe) == 51 * 2 * 2 + 1  # Dec 23 + Dec 30 windows + Dec future


def test_shard_limits_and_stability() -> None:
    tokens = set(range(1, 7001))
    shards = shard(tokens)
    assert len(shards) == 3
    assert all(len(s) <= 3000 for s in shards)
    assert set().union(*shards) == tokens
    assert sum(len(s) for s in shards) == len(tokens)
    # Re-centring: 60 tokens leave, 60 arrive; nothing else moves.
    new_tokens = (tokens - set(range(1, 61))) | set(range(10_001, 10_061))
    again = shard(new_tokens, shards)
    for old, new in zip(shards, again, strict=True):
        assert old - new <= set(range(1, 61))
    assert sum(len(old ^ new) for old, new in zip(shards, again, strict=True)) == 120
    assert all(len(s) <= 3000 for s in again)


def test_shard_small_universe_uses_one_connection_and_rejects_too_many() -> None:
    assert shard(range(600)) == (frozenset(range(600)),)
    assert shard([]) == (frozenset(),)
    with pytest.raises(UniverseError):
        shard(range(9001))
    assert len(shard(range(20), max_connections=2, per_connection=10)) == 2
