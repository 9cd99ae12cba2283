"""A whole simulated session driven step by step: book and no-arbitrage invariants."""

from __future__ import annotations

import datetime as dt

import numpy as np

from strikeboard.sim import model as m
from strikeboard.sim.engine import N, SimConfig, Simulator
from strikeboard.sim.universe import KIND_CE, KIND_PE

TOL = 0.05 + 1e-6


def _on_tick(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x * 20 - np.round(x * 20)) < 1e-6))


def test_full_session_invariants() -> None:
    sim = Simulator(SimConfig(seed=11, day=dt.date(2026, 11, 25)))
    opt = np.flatnonzero(sim.is_option)
    tradable = np.flatnonzero(~sim.is_index)
    p = sim.config.params
    ce = {(sim.instruments[i].expiry, sim.strike[i]): i for i in opt if sim.kind[i] == KIND_CE}
    pe = {(sim.instruments[i].expiry, sim.strike[i]): i for i in opt if sim.kind[i] == KIND_PE}
    pairs = np.array([(ce[k], pe[k]) for k in ce if k in pe])
    prev_vol = sim.volume.copy()
    prev_oi = sim.oi.copy()
    steps = 0
    for sec in [0, *range(97, N + 1, 613), N]:
        sim.advance_to(sec)
        steps += 1
        traded = tradable[sim.last_sec[tradable] >= 0]
        for arr in (sim.ltp, sim.bid, sim.ask):
            assert _on_tick(arr[traded])
        assert _on_tick(sim.depth_price[traded])
        assert np.all(sim.bid[traded] < sim.ask[traded])
        assert np.all((sim.bid[traded] <= sim.ltp[traded]) & (sim.ltp[traded] <= sim.ask[traded]))
        assert np.all(sim.volume >= prev_vol)
        assert np.all((sim.oi - prev_oi) % sim.lot == 0)
        assert np.all(sim.depth_qty % sim.lot[:, None] == 0)
        prev_vol, prev_oi = sim.volume.copy(), sim.oi.copy()
        # No-arbitrage bounds at each option's own last tick.
        o = opt[sim.last_sec[opt] >= 0]
        _, _, lb, ub = sim._mid_prices(o, sim.last_sec[o], sim.path)
        assert np.all(sim.ltp[o] >= m.ceil_tick(lb) - 1e-9)
        assert np.all(sim.ltp[o] <= m.floor_tick(ub) + 1e-9)
        assert np.all(sim.ltp[o] >= 0.05)
        # Put-call parity inside the quoted spreads, at pairs that ticked the same second.
        c, q = pairs[:, 0], pairs[:, 1]
        same = (sim.last_sec[c] == sim.last_sec[q]) & (sim.last_sec[c] >= 0)
        c, q = c[same], q[same]
        s = sim.path.spot[sim.last_sec[c]]
        t = np.maximum((sim.expiry_epoch[c] - sim.epoch_of(sim.last_sec[c])) / m.YEAR_SECONDS,
                       60.0 / m.YEAR_SECONDS)  # fmt: skip
        fwd = s * np.exp((p.rate - p.dividend_yield) * t)
        pv = np.exp(-p.rate * t) * (fwd - sim.strike[c])
        assert np.all(sim.bid[c] - sim.ask[q] <= pv + TOL)
        assert np.all(pv <= sim.ask[c] - sim.bid[q] + TOL)
    assert steps > 30
    assert sim.sec == N and not sim.is_open
    assert np.all(sim.volume[tradable] > 0)


def test_deterministic_whatever_the_cadence() -> None:
    cfg = SimConfig(seed=5, day=dt.date(2026, 11, 25))
    a, b = Simulator(cfg), Simulator(cfg)
    a.advance_to(5000)
    for sec in range(0, 5001, 7):
        b.advance_to(sec)
    b.advance_to(5000)
    for f in ("ltp", "bid", "ask", "volume", "oi", "high", "low", "open", "depth_qty"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    c = Simulator(SimConfig(seed=6, day=dt.date(2026, 11, 25)))
    c.advance_to(5000)
    assert not np.array_equal(a.ltp, c.ltp)
