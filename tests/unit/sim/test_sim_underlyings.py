"""The simulator's six underlyings: listings by each one's rules, tokens, levels, streaming."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pytest

from strikeboard.market.underlyings import UNDERLYINGS, parse_underlyings
from strikeboard.market.universe import Catalog, UniverseConfig, parse_instruments_csv
from strikeboard.sim.engine import SimConfig, Simulator
from strikeboard.sim.universe import SIM_LEVELS, SIM_LOT_SIZES, SIM_UNDERLYINGS, instruments_csv
from strikeboard.sim.universe import UniverseConfig as SimUniverse

DAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def six() -> Simulator:
    return Simulator(SimConfig(seed=4, day=DAY, universe=SimUniverse(underlyings=SIM_UNDERLYINGS)))


def test_nifty_is_unchanged_by_the_others(six: Simulator) -> None:
    alone = Simulator(SimConfig(seed=4, day=DAY))
    nifty = [i for i in six.instruments if i.underlying == "NIFTY"]
    assert nifty == alone.instruments
    n = len(alone.instruments)
    alone.advance_to(600)
    six.advance_to(600)
    assert np.array_equal(six.ltp[:n], alone.ltp)
    assert np.array_equal(six.oi[:n], alone.oi)


def test_each_underlying_lists_by_its_own_rules(six: Simulator) -> None:
    tokens = [i.instrument_token for i in six.instruments]
    assert len(tokens) == len(set(tokens))
    assert max(tokens) < 2**32
    by: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for ins in six.instruments:
        by[ins.underlying].append(ins)
    closes = six.closes(six.prev_day)
    for name, u in UNDERLYINGS.items():
        rows = by[name]
        (spot,) = [i for i in rows if i.segment == "INDICES" and i.tradingsymbol == u.spot_symbol]
        assert (spot.instrument_token, spot.exchange) == (u.spot_token, u.exchange)
        assert 0.8 < closes[name] / SIM_LEVELS[name] < 1.25
        contracts = [i for i in rows if i.expiry is not None]
        assert {i.exchange for i in contracts} == {u.derivatives}
        assert {i.instrument_token & 0xFF for i in contracts} == {u.segment}
        assert {i.lot_size for i in contracts} == {SIM_LOT_SIZES[name]}
        expiries = sorted({i.expiry for i in contracts if i.instrument_type == "CE"})
        assert expiries[0] >= DAY
        weekdays = {e.weekday() for e in expiries if e is not None}
        assert weekdays <= {u.expiry.weekday, u.expiry.weekday - 1}  # a holiday moves it back
        cal = six.calendars[name]
        monthly = [e for e in expiries if e is not None and cal.is_monthly_expiry(e)]
        if u.expiry.weekly:
            assert len(expiries) > len(monthly)
        else:
            assert expiries == monthly
        near = sorted({i.strike for i in contracts if i.expiry == expiries[0]})
        assert min(np.diff(near)) == u.strike_step
        assert all(k % u.strike_step == 0 for k in near)


def test_the_dump_parses_per_underlying_and_streams(six: Simulator) -> None:
    bse = instruments_csv(six.instruments, "BSE").splitlines(keepends=True)[1:]  # no header
    text = instruments_csv(six.instruments, "BFO") + "".join(bse)
    names = ("SENSEX", "BANKEX")
    cfg = UniverseConfig(underlyings=parse_underlyings(names))
    cat = Catalog(parse_instruments_csv(text), cfg)
    for name in names:
        part = cat.of(name)
        assert part.spot_token == UNDERLYINGS[name].spot_token
        assert part.expiries and part.futures
    six.advance_to(1200)
    for name in SIM_UNDERLYINGS:
        i = six.by_token[UNDERLYINGS[name].spot_token]
        assert six.last_sec[i] > 0  # every spot ticks
        assert abs(six.ltp[i] / six.closes(six.prev_day)[name] - 1) < 0.05
