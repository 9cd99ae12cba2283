"""Many days: stable tokens, and one day's close is the next day's previous close."""

from __future__ import annotations

import datetime as dt

import numpy as np

from strikeboard.market.calendar import IST, TradingCalendar
from strikeboard.sim import history
from strikeboard.sim.engine import N, SimConfig, Simulator
from strikeboard.sim.server import Connection, ServerOptions, SimServer
from strikeboard.sim.universe import (
    KIND_CE,
    KIND_FUT,
    KIND_PE,
    NIFTY_TOKEN,
    SEG_NFO,
    VIX_TOKEN,
    UniverseConfig,
    build_universe,
    nfo_exchange_token,
)

D1, D2 = dt.date(2026, 11, 20), dt.date(2026, 11, 23)  # Friday, Monday (expiry: 24th is a holiday)


def test_tokens_stable_unique_and_kite_shaped() -> None:
    cal = TradingCalendar()
    a = build_universe(D1, 25_000.0, cal, UniverseConfig())
    b = build_universe(dt.date(2026, 11, 25), 26_200.0, cal, UniverseConfig())
    for listing in (a, b):
        toks = [i.instrument_token for i in listing]
        assert len(set(toks)) == len(toks)
        assert toks[:2] == [NIFTY_TOKEN, VIX_TOKEN] == [256265, 264969]
        for ins in listing[2:]:
            assert ins.instrument_token == (ins.exchange_token << 8) | SEG_NFO
            assert 0 < ins.instrument_token < 2**32
    sym_a = {i.tradingsymbol: i.instrument_token for i in a}
    sym_b = {i.tradingsymbol: i.instrument_token for i in b}
    common = sym_a.keys() & sym_b.keys()
    assert len(common) > 1000
    assert all(sym_a[s] == sym_b[s] for s in common)
    # Different strikes and expiries never collide, across a decade of weekly expiries.
    seen: set[int] = set()
    for w in range(520):
        exp = cal.weekly_expiry_of_week(dt.date(2026, 1, 6) + dt.timedelta(weeks=w))
        for kind in (KIND_FUT, KIND_CE, KIND_PE):
            for k in (0.0,) if kind == KIND_FUT else (15_000.0, 15_050.0, 40_000.0):
                t = nfo_exchange_token(kind, exp, k, cal.expiry_weekday)
                assert t not in seen
                seen.add(t)


def test_close_of_one_day_is_previous_close_of_the_next() -> None:
    d1 = Simulator(SimConfig(seed=7, day=D1))
    d1.advance_to(N)
    d2 = Simulator(SimConfig(seed=7, day=D2))
    common = [int(t) for t in d2.token if int(t) in d1.by_token]
    assert len(common) > 1000
    i1 = np.array([d1.by_token[t] for t in common])
    i2 = np.array([d2.by_token[t] for t in common])
    assert np.array_equal(d1.ltp[i1], d2.prev_close[i2])
    assert np.array_equal(d1.oi[i1], d2.oi_prev[i2])
    assert np.array_equal(d1.oi[i1], d2.oi[i2])  # before the open: OI is yesterday's close
    # The historical day candle of D1 (served on D2) says the same, OI included.
    lo = dt.datetime.combine(D1, dt.time(0, 0), IST)
    hi = dt.datetime.combine(D1, dt.time(23, 59, 59), IST)
    for t in common[::97]:
        (row,) = history.candles(d2, t, "day", lo, hi, with_oi=True)
        j = d1.by_token[t]
        assert row[4] == float(d1.ltp[j])
        assert row[5] == int(d1.volume[j])
        assert row[6] == int(d1.oi[j])
        (same,) = history.candles(d1, t, "day", lo, hi, with_oi=True)
        assert same == row


D3 = dt.date(2026, 11, 25)  # Wednesday after the Tuesday holiday


def _at(day: dt.date, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(h, mi), IST)


def test_server_rolls_days_on_the_clock_and_keeps_listed_subscriptions() -> None:
    srv = SimServer(SimConfig(seed=3, day=D1, days=3), ServerOptions(speed=0, start=dt.time(15)))
    assert srv.last_day == D3
    conn = Connection(1, "sim_api_key", "sim_access_token", ws=None)  # type: ignore[arg-type]
    srv.conns[1] = conn
    d1 = srv.sim
    # The November series (weekly and monthly) expires on Monday the 23rd (24th: a holiday).
    weekly = next(i.instrument_token for i in d1.instruments if i.expiry == D2 and i.strike)
    monthly = next(
        i.instrument_token for i in d1.instruments if i.instrument_type == "FUT" and i.expiry != D2
    )
    conn.subs = {d1.by_token[weekly]: 2, d1.by_token[monthly]: 1, d1.by_token[NIFTY_TOKEN]: 0}
    conn.rebuild()
    srv.set_clock_at(_at(D1, 15, 40))
    srv.step()
    assert srv.sim is d1 and d1.sec == N
    # Saturday, Monday before 08:00: still Friday's market, nothing ticks.
    for when in (_at(dt.date(2026, 11, 21), 12), _at(D2, 7, 59)):
        srv.set_clock_at(when)
        srv.step()
        assert srv.sim is d1 and srv.sim.sec == N
    srv.set_clock_at(_at(D2, 8))
    srv.step()
    assert srv.sim.day == D2 and srv.sim.sec == -1 and srv.market_sec() == -4500
    d2 = srv.sim
    assert {int(d2.token[i]) for i in conn.subs} == {weekly, monthly, NIFTY_TOKEN}
    assert conn.subs[d2.by_token[weekly]] == 2
    srv.set_clock_at(_at(D2, 9, 20))
    srv.step()
    assert d2.sec == 300
    # Over the holiday straight to Wednesday 10:00: the expired weekly is dropped.
    srv.set_clock_at(_at(dt.date(2026, 11, 24), 10))
    srv.step()
    assert srv.sim is d2
    srv.set_clock_at(_at(D3, 10))
    srv.step()
    d3 = srv.sim
    assert d3.day == D3 and d3.sec == 2700 and weekly not in d3.by_token
    assert {int(d3.token[i]) for i in conn.subs} == {monthly, NIFTY_TOKEN}
    assert len(conn.sub_idx) == 2
    # After the last day no new day starts; the clock runs on.
    srv.set_clock_at(_at(dt.date(2026, 11, 26), 10))
    srv.step()
    assert srv.sim is d3 and d3.sec == N and srv.market_now() == _at(dt.date(2026, 11, 26), 10)


def test_new_series_open_with_no_open_interest_and_no_earlier_candles() -> None:
    d3 = Simulator(SimConfig(seed=7, day=D3))
    new = [i for i, ins in enumerate(d3.instruments) if ins.expiry == dt.date(2027, 1, 5)]
    assert new and d3.new_today[new].all() and (d3.oi_prev[new] == 0).all()
    assert not d3.new_today[[d3.by_token[NIFTY_TOKEN], d3.by_token[VIX_TOKEN]]].any()
    # A continuing weekly near the money was listed yesterday too (far strikes may be new).
    spot = d3.model.close(D2)
    old = [i for i, ins in enumerate(d3.instruments)
           if ins.expiry == dt.date(2026, 12, 1) and abs(ins.strike - spot) < 1000]  # fmt: skip
    assert old and (d3.oi_prev[old] > 0).all() and not d3.new_today[old].any()
    tok = int(d3.token[new[0]])
    lo = dt.datetime.combine(D1, dt.time(0, 0), IST)
    hi = dt.datetime.combine(D3, dt.time(23, 59, 59), IST)
    d3.advance_to(N)
    rows = history.candles(d3, tok, "day", lo, hi, with_oi=True)
    assert [r[0][:10] for r in rows] == [D3.isoformat()]  # listed on D3 only
    assert rows[0][6] == int(d3.oi[new[0]])
