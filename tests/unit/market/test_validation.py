"""Tick validation: each reject reason, per-token state and the result shape."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from strikeboard.market.codec import decode
from strikeboard.market.underlyings import INDIA_VIX_TOKEN
from strikeboard.market.universe import (
    NIFTY_50_TOKEN,
    Catalog,
    Instrument,
    UniverseConfig,
    parse_instruments,
    select_universe,
)
from strikeboard.market.validation import RejectReason, TickValidator, ValidationConfig

T0 = 1_764_043_200


@pytest.fixture
def universe(dump: list[dict[str, Any]]) -> tuple[Instrument, ...]:
    cat = Catalog(parse_instruments(dump), UniverseConfig(strikes_each_side=2))
    return select_universe(cat, 26_000.0, date(2025, 11, 26)).instruments


def _token(universe: tuple[Instrument, ...], symbol: str) -> int:
    return next(i.instrument_token for i in universe if i.tradingsymbol == symbol)


Make = Callable[..., bytes]


def test_clean_ticks_pass_and_counts_cover_every_reason(
    universe: tuple[Instrument, ...], make_full: Make
) -> None:
    fut = _token(universe, "NIFTY25DECFUT")
    ce = _token(universe, "NIFTY25D0226000CE")
    v = TickValidator(universe)
    res = v.validate(
        decode(
            make_full(
                [NIFTY_50_TOKEN, INDIA_VIX_TOKEN, fut, ce], [26_000.35, 11.87, 26_120.5, 140.25]
            )
        )
    )
    assert len(res.accepted) == 4
    assert res.rejected == dict.fromkeys(RejectReason, 0)
    assert res.total_rejected == 0 and len(res.sample) == 0
    assert v.last_price(fut) == 26_120.5


def test_static_rejects(universe: tuple[Instrument, ...], make_full: Make) -> None:
    ce = _token(universe, "NIFTY25D0226000CE")
    pe = _token(universe, "NIFTY25D0226000PE")
    unknown = (999_999 << 8) | 2
    v = TickValidator(universe, ValidationConfig(sample_size=3))
    msg = make_full(
        [unknown, ce, ce, pe, pe, NIFTY_50_TOKEN],
        [10.0, 0.0, 140.03, 150.0, 150.0, 26_000.01],
        bids=[9.95, 0.0, 140.0, 150.0, 150.02, 0],
        asks=[10.05, 0.05, 140.05, 149.95, 150.05, 0],
    )
    res = v.validate(decode(msg))
    assert res.rejected[RejectReason.UNKNOWN_TOKEN] == 1
    assert res.rejected[RejectReason.NON_POSITIVE_PRICE] == 1
    assert res.rejected[RejectReason.OFF_TICK] == 2  # last 140.03; best bid 150.02
    assert res.rejected[RejectReason.CROSSED_BOOK] == 1  # bid 150.00 >= ask 149.95
    # The index has no tick constraint: 26000.01 is fine.
    assert res.accepted.instrument_token.tolist() == [NIFTY_50_TOKEN]
    assert res.sample_reasons == (
        RejectReason.UNKNOWN_TOKEN,
        RejectReason.NON_POSITIVE_PRICE,
        RejectReason.OFF_TICK,
    )
    assert res.sample.instrument_token.tolist() == [unknown, ce, ce]


def test_timestamps_must_not_go_backwards_per_token(
    universe: tuple[Instrument, ...], make_full: Make
) -> None:
    fut = _token(universe, "NIFTY25DECFUT")
    v = TickValidator(universe)
    first = v.validate(
        decode(
            make_full([fut, NIFTY_50_TOKEN], [26_100.0, 26_000.0], timestamps=[T0 + 10, T0 + 10])
        )
    )
    assert len(first.accepted) == 2
    # Within a batch: equal is fine, older than an earlier row is not; other tokens unaffected.
    res = v.validate(
        decode(
            make_full(
                [fut, fut, fut, NIFTY_50_TOKEN, fut],
                [26_100.0, 26_100.5, 26_101.0, 26_000.0, 26_101.5],
                timestamps=[T0 + 9, T0 + 10, T0 + 12, T0 + 10, T0 + 11],
            )
        )
    )
    assert res.rejected[RejectReason.TIMESTAMP_BACKWARDS] == 2
    assert res.accepted.last_price.tolist() == [26_100.5, 26_101.0, 26_000.0]
    assert (
        v.validate(decode(make_full([fut], [26_102.0], timestamps=[T0 + 11]))).rejected[
            RejectReason.TIMESTAMP_BACKWARDS
        ]
        == 1
    )


def test_price_jump_rejected_then_reanchored(
    universe: tuple[Instrument, ...], make_full: Make
) -> None:
    v = TickValidator(universe, ValidationConfig(max_jump=0.2, reanchor_after=3))
    v.validate(decode(make_full([NIFTY_50_TOKEN], [26_000.0])))
    for _ in range(3):
        res = v.validate(decode(make_full([NIFTY_50_TOKEN], [13_000.0])))
        assert res.rejected[RejectReason.PRICE_JUMP] == 1
        assert v.last_price(NIFTY_50_TOKEN) == 26_000.0
    # After three consecutive rejects the new level is believed (no lock-out for the day).
    res = v.validate(decode(make_full([NIFTY_50_TOKEN], [13_000.0])))
    assert len(res.accepted) == 1 and v.last_price(NIFTY_50_TOKEN) == 13_000.0
    # A 19 % move is within the threshold.
    assert len(v.validate(decode(make_full([NIFTY_50_TOKEN], [15_470.0]))).accepted) == 1


def test_option_no_arbitrage_bounds(universe: tuple[Instrument, ...], make_full: Make) -> None:
    ce = _token(universe, "NIFTY25D0226000CE")
    pe = _token(universe, "NIFTY25D0226000PE")
    v = TickValidator(universe, ValidationConfig(option_bound_margin=0.05))
    # Before any spot is known only the put cap (strike) applies.
    res = v.validate(decode(make_full([ce, pe], [27_000.0, 27_400.0])))
    assert res.accepted.instrument_token.tolist() == [ce]
    # Spot in the same batch sets the call cap: 26000 x 1.05 = 27300.
    res = v.validate(decode(make_full([NIFTY_50_TOKEN, ce, ce], [26_000.0, 27_350.0, 150.0])))
    assert res.rejected[RejectReason.OPTION_BOUND] == 1
    assert res.accepted.last_price.tolist() == [26_000.0, 150.0]


def test_universe_change_keeps_state_of_staying_tokens(
    universe: tuple[Instrument, ...], make_full: Make
) -> None:
    fut = _token(universe, "NIFTY25DECFUT")
    ce = _token(universe, "NIFTY25D0226000CE")
    v = TickValidator(universe)
    v.validate(decode(make_full([fut, ce], [26_100.0, 140.0])))
    v.set_universe([i for i in universe if i.instrument_token != ce])
    assert v.last_price(fut) == 26_100.0
    res = v.validate(decode(make_full([ce, fut], [140.0, 10_000.0])))
    assert res.rejected[RejectReason.UNKNOWN_TOKEN] == 1
    assert res.rejected[RejectReason.PRICE_JUMP] == 1


def test_empty_universe_and_empty_batch(make_full: Make) -> None:
    v = TickValidator([])
    res = v.validate(decode(make_full([NIFTY_50_TOKEN], [26_000.0])))
    assert res.rejected[RejectReason.UNKNOWN_TOKEN] == 1 and len(res.accepted) == 0
    assert len(v.validate(decode(b"")).accepted) == 0


def test_a_call_is_capped_by_its_own_underlyings_spot(make_full: Make) -> None:
    def option(token: int, name: str, strike: float) -> Instrument:
        return Instrument(token, token >> 8, f"{name}{strike:g}CE", name, date(2025, 12, 30),
                          strike, 0.05, 30, "CE", "NFO-OPT", "NFO")  # fmt: skip

    def index(token: int, symbol: str) -> Instrument:
        return Instrument(token, token >> 8, symbol, symbol, None, 0.0, 0.0, 0, "EQ", "INDICES",
                          "NSE")  # fmt: skip

    nifty_ce, bank_ce = (1001 << 8) | 2, (2002 << 8) | 2
    listed = [index(NIFTY_50_TOKEN, "NIFTY 50"), index(260105, "NIFTY BANK"),
              option(nifty_ce, "NIFTY", 26_000.0),
              option(bank_ce, "BANKNIFTY", 30_000.0)]  # fmt: skip
    v = TickValidator(listed, spot_tokens={"NIFTY": NIFTY_50_TOKEN, "BANKNIFTY": 260105})
    # A deep BANKNIFTY call is worth more than NIFTY's spot, but not more than its own.
    res = v.validate(decode(make_full([NIFTY_50_TOKEN, 260105, bank_ce, nifty_ce],
                                      [26_000.0, 59_000.0, 29_050.0, 140.0])))  # fmt: skip
    assert res.total_rejected == 0
    res = v.validate(decode(make_full([bank_ce, nifty_ce], [63_000.0, 28_000.0])))
    assert res.rejected[RejectReason.OPTION_BOUND] == 2
