"""ChainState + expiry_snapshot over a simulated market: wire ticks in, the simulator's own
volatility surface and forward out."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from strikeboard.chain.snapshot import PricingParams, expiry_snapshot, market_document
from strikeboard.chain.state import ChainState, Field
from strikeboard.market import codec, layouts
from strikeboard.market.underlyings import UNDERLYINGS, parse_underlyings
from strikeboard.market.universe import NIFTY_50_TOKEN as SPOT_TOKEN
from strikeboard.market.universe import (
    Catalog,
    UniverseConfig,
    parse_instruments_csv,
    select_universe,
)
from strikeboard.sim import model as m
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import MODE_FULL, MODE_QUOTE, SimServer
from strikeboard.sim.universe import SIM_LOT_SIZES, instruments_csv
from strikeboard.sim.universe import UniverseConfig as SimUniverse

DAY = dt.date(2026, 11, 25)
SEC = 3600  # 10:15 IST


@pytest.fixture(scope="module")
def market() -> tuple[SimServer, ChainState]:
    # Every instrument ticks each second, so all last prices belong to the same instant.
    server = SimServer(SimConfig(seed=3, day=DAY, every_second=True))
    sim = server.sim
    sim.advance_to(SEC)
    catalog = Catalog(parse_instruments_csv(instruments_csv(sim.instruments)), UniverseConfig())
    spot = float(sim.ltp[sim.by_token[SPOT_TOKEN]])
    universe = select_universe(catalog, spot, DAY)
    state = ChainState()
    state.set_universe(universe.instruments)
    idx = np.array([sim.by_token[t] for t in sorted(universe.tokens)])
    message = layouts.frame_many(server.encode(idx, np.full(len(idx), MODE_FULL)))
    assert state.apply(codec.decode(message)) == len(idx)
    state.set_values(Field.OI_PREV, {int(sim.token[i]): float(sim.oi_prev[i]) for i in idx})
    return server, state


def test_every_expiry_is_priced_from_the_wire(market: tuple[SimServer, ChainState]) -> None:
    server, state = market
    now = server.sim.market_time(SEC)
    dirty = state.take_dirty()
    assert dirty == list(range(len(state.expiries)))
    assert state.take_dirty() == []
    for index in (state.expiries[i] for i in dirty):
        snap = expiry_snapshot(state, index, now, PricingParams(rate=0.065))
        assert snap is not None
        assert snap["expiry"] == index.expiry.isoformat()
        assert len(snap["strikes"]) == len(index.strikes)
        agg = snap["aggregates"]
        assert agg["max_pain"] in index.strikes
        assert agg["pcr_oi"] > 0 and agg["atm_straddle"] > 0


def test_forward_and_iv_match_the_simulators_surface(
    market: tuple[SimServer, ChainState],
) -> None:
    server, state = market
    sim = server.sim
    p = sim.config.params
    now = sim.market_time(SEC)
    spot = float(sim.path.spot[SEC])
    level = float(sim.path.vol_level[SEC])
    for index in state.expiries:
        snap = expiry_snapshot(state, index, now, PricingParams(rate=p.rate))
        assert snap is not None
        t = snap["t_years"]
        true_forward = spot * np.exp((p.rate - p.dividend_yield) * t)
        # Parity on tick-rounded mids: within a few paise of the model forward.
        assert snap["forward"] == pytest.approx(true_forward, abs=0.5)
        atm = snap["atm_strike"]
        near = [k for k in index.strikes if abs(k - atm) <= 300]
        true_iv = m.surface_iv(p, level, np.full(len(near), t), np.array(near), true_forward)
        for k, iv_true in zip(near, true_iv, strict=True):
            row = snap["strikes"][f"{k:g}"]
            for side in ("CE", "PE"):
                # Prices are rounded to the 0.05 tick: a few hundredths of a vol point.
                assert row[side]["iv"] == pytest.approx(iv_true, abs=5e-4), (index.expiry, k, side)
            # One smile: calls and puts of a strike agree under the parity forward.
            assert row["CE"]["iv"] == pytest.approx(row["PE"]["iv"], abs=2e-3)


def test_every_leg_without_an_iv_says_why(market: tuple[SimServer, ChainState]) -> None:
    """A leg has an IV or the reason it has none, never both: a deep ITM call last traded under
    intrinsic value is "intrinsic", a put that never traded "no_price"."""
    server, state = market
    now = server.sim.market_time(SEC)
    index = state.expiries[0]
    call, put = int(state.tokens[index.call[0]]), int(state.tokens[index.put[0]])
    saved = {t: state.value(t, Field.LTP) for t in (call, put)}
    state.set_values(Field.LTP, {call: 0.05, put: float("nan")})
    try:
        snap = expiry_snapshot(state, index, now, PricingParams(rate=0.065))
    finally:
        state.set_values(Field.LTP, saved)
    assert snap is not None
    low = snap["strikes"][f"{index.strikes[0]:g}"]
    assert low["CE"]["iv"] is None and low["CE"]["iv_reason"] == "intrinsic"
    assert low["PE"]["iv"] is None and low["PE"]["iv_reason"] == "no_price"
    for row in snap["strikes"].values():
        for side in ("CE", "PE"):
            leg = row[side]
            assert (leg["iv"] is None) == (leg["iv_reason"] is not None), leg


def test_market_document_and_unknown_tokens(market: tuple[SimServer, ChainState]) -> None:
    server, state = market
    doc = market_document(state)
    assert doc["NIFTY 50"]["ltp"] == pytest.approx(float(server.sim.path.spot[SEC]), abs=0.05)
    assert "INDIA VIX" in doc
    assert any(name.startswith("FUT ") for name in doc)
    stray = np.zeros(1, dtype=layouts.LTP)
    stray["instrument_token"] = 999_999
    stray["last_price"] = 100
    assert state.apply(codec.decode(layouts.frame(stray))) == 0


def test_a_quote_mode_packet_keeps_what_it_does_not_carry(
    market: tuple[SimServer, ChainState],
) -> None:
    """Kite's subscribe-time quote packet has no OI and no depth: they keep their last values
    (after the close no full tick would ever restore them)."""
    server, state = market  # the last test of this module: it may change the state
    idx = np.array([server.sim.by_token[int(t)] for t in state.tokens])
    before = state.values.copy()
    quote = codec.decode(layouts.frame_many(server.encode(idx, np.full(len(idx), MODE_QUOTE))))
    assert np.isnan(quote.oi).all()  # the quote layout carries no OI
    state.apply(quote)
    for field in (Field.OI, Field.BID, Field.ASK, Field.BID_QTY, Field.ASK_QTY):
        np.testing.assert_array_equal(state.values[field], before[field])
    np.testing.assert_array_equal(state.values[Field.LTP], before[Field.LTP])


def test_three_underlyings_price_from_their_own_spot_and_forward() -> None:
    names = ("NIFTY", "BANKNIFTY", "SENSEX")
    config = SimConfig(seed=3, day=DAY, universe=SimUniverse(underlyings=names))
    server = SimServer(config)
    sim = server.sim
    sim.advance_to(SEC)
    cfg = UniverseConfig(underlyings=parse_underlyings(names), weekly_expiries=1,
                         strikes_each_side=8)  # fmt: skip
    catalog = Catalog(parse_instruments_csv(instruments_csv(sim.instruments)), cfg)
    spots = {n: float(sim.ltp[sim.by_token[UNDERLYINGS[n].spot_token]]) for n in names}
    universe = select_universe(catalog, spots, DAY)
    state = ChainState(names)
    state.set_universe(universe.instruments)
    idx = np.array([sim.by_token[t] for t in sorted(universe.tokens)])
    state.apply(codec.decode(layouts.frame_many(server.encode(idx, np.full(len(idx), MODE_FULL)))))
    assert state.spots() == pytest.approx(spots)
    order = [i.underlying for i in state.expiries]  # grouped, in configured order
    assert order == sorted(order, key=names.index) and set(order) == set(names)
    p = sim.config.params
    paths, _ = sim.spot_paths(DAY)
    now = sim.market_time(SEC)
    for index in state.expiries:
        snap = expiry_snapshot(state, index, now, PricingParams(rate=p.rate))
        assert snap is not None and snap["underlying"] == index.underlying
        assert snap["lot_size"] == SIM_LOT_SIZES[index.underlying]
        spot = float(paths[names.index(index.underlying), SEC])
        assert snap["spot"] == pytest.approx(spot)
        true_forward = spot * np.exp((p.rate - p.dividend_yield) * snap["t_years"])
        assert snap["forward"] == pytest.approx(true_forward, rel=2e-5)
        assert (
            abs(snap["atm_strike"] - snap["forward"]) <= UNDERLYINGS[index.underlying].strike_step
        )
    market = market_document(state, "SENSEX")
    future = next(i for i in universe.part("SENSEX").futures)
    assert set(market) == {"SENSEX", f"SENSEX FUT {future.expiry}"}
    assert {doc["underlying"] for doc in market.values()} == {"SENSEX"}
    assert "INDIA VIX" in market_document(state, "NIFTY")
    # A move of BANKNIFTY's spot re-prices BANKNIFTY's expiries, not the others'.
    state.take_dirty()
    state.take_market_moved()
    state.set_values(Field.LTP, {UNDERLYINGS["BANKNIFTY"].spot_token: spots["BANKNIFTY"] + 100})
    assert [state.expiries[i].underlying for i in state.take_dirty()] == ["BANKNIFTY"]
    assert state.take_market_moved() == ["BANKNIFTY"]
