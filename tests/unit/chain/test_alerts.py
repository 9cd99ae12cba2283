"""The alert rules' core (`strikeboard.chain.alerts`): what a rule reads from a chain document,
and that it fires once per crossing (properties over random paths, with hypothesis)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strikeboard.chain.alerts import (
    AlertBook,
    Kind,
    Op,
    Rule,
    RuleError,
    RuleState,
    Target,
    describe,
    step,
    strike_key,
)

SPOT = Target(Kind.SPOT, "NIFTY")
EXPIRY = "2026-12-01"

values = st.one_of(
    st.floats(-1_000, 1_000, allow_nan=False).map(lambda v: round(v, 1)),
    st.just(math.nan),
    st.none(),
)
paths = st.lists(values, min_size=1, max_size=60)
levels = st.floats(-500, 500, allow_nan=False).map(lambda v: round(v, 1))
bands = st.one_of(st.just(0.0), st.floats(0, 300, allow_nan=False).map(lambda v: round(v, 1)))
ops = st.sampled_from(list(Op))


def run(rule: Rule, path: list[float | None], state: RuleState | None = None) -> list[int]:
    """The indices of the path at which the rule fired."""
    state = state or RuleState()
    fired = []
    for i, value in enumerate(path):
        state, fire = step(rule, state, value)
        if fire:
            fired.append(i)
    return fired


def seen(path: list[float | None]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(path) if v is not None and math.isfinite(v)]


@given(paths, levels, ops)
def test_without_hysteresis_it_fires_at_each_crossing_in_its_direction(
    path: list[float | None], level: float, op: Op
) -> None:
    """With no hysteresis a crosses-above rule fires exactly where a value at or over the level
    follows one under it (missing values skipped), and a crosses-below one mirrors it."""
    rule = Rule(1, "u", SPOT, op, level)
    pts = seen(path)
    if op is Op.CROSSES_ABOVE:
        expected = [i for (_, a), (i, b) in itertools.pairwise(pts) if a < level <= b]
    else:
        expected = [i for (_, a), (i, b) in itertools.pairwise(pts) if a > level >= b]
    assert run(rule, path) == expected


@given(paths, levels, bands, ops)
def test_a_fire_needs_a_return_beyond_the_band_first(
    path: list[float | None], level: float, band: float, op: Op
) -> None:
    """Between two fires the value went back beyond the level by the hysteresis; every fire is
    at a value across the level; the first value seen never fires."""
    rule = Rule(1, "u", SPOT, op, level, hysteresis=band)
    fired = run(rule, path)
    pts = seen(path)
    first = pts[0][0] if pts else None
    assert first not in fired
    for i in fired:
        assert rule.reached(path[i])  # type: ignore[arg-type]
    for a, b in itertools.pairwise(fired):
        between = [v for i, v in pts if a < i < b]
        assert any(rule.rearms(v) for v in between)


@given(paths, levels, bands)
def test_crosses_below_mirrors_crosses_above(
    path: list[float | None], level: float, band: float
) -> None:
    above = Rule(1, "u", SPOT, Op.CROSSES_ABOVE, -level, hysteresis=band)
    below = Rule(1, "u", SPOT, Op.CROSSES_BELOW, level, hysteresis=band)
    mirrored = [None if v is None else -v for v in path]
    assert run(below, path) == run(above, mirrored)


@given(paths, st.integers(0, 60), levels, bands, ops)
@settings(max_examples=200)
def test_a_restart_from_the_stored_state_continues_the_same(
    path: list[float | None], cut: int, level: float, band: float, op: Op
) -> None:
    """An evaluator that stops after any value and restarts from the state it stored at its
    last change (armed and crossings; not the last value, which is not stored every cycle)
    fires at the same points, with the same crossing numbers, as one that never stopped."""
    rule = Rule(1, "u", SPOT, op, level, hysteresis=band)
    state, numbers = RuleState(), []
    for value in path:
        state, fire = step(rule, state, value)
        if fire:
            numbers.append(state.crossings)
    cut = min(cut, len(path))
    first, stored = RuleState(), RuleState()
    resumed: list[int] = []
    for value in path[:cut]:
        after, fire = step(rule, first, value)
        if fire:
            resumed.append(after.crossings)
        if after.armed != first.armed or fire:
            stored = RuleState(after.armed, after.crossings, after.value)
        first = after
    state = RuleState(stored.armed, stored.crossings, None)
    for value in path[cut:]:
        state, fire = step(rule, state, value)
        if fire:
            resumed.append(state.crossings)
    assert resumed == numbers
    assert numbers == list(range(1, len(numbers) + 1))


def test_missing_values_change_nothing() -> None:
    rule = Rule(1, "u", SPOT, Op.CROSSES_ABOVE, 100.0)
    state = RuleState(True, 2, 90.0)
    for value in (None, math.nan, math.inf):
        assert step(rule, state, value) == (state, False)


def test_a_value_on_the_level_counts_as_reached() -> None:
    up = Rule(1, "u", SPOT, Op.CROSSES_ABOVE, 100.0)
    down = Rule(2, "u", SPOT, Op.CROSSES_BELOW, 100.0)
    assert run(up, [99.9, 100.0, 99.9, 100.0]) == [1, 3]
    assert run(down, [100.1, 100.0, 100.1, 100.0]) == [1, 3]


def test_hysteresis_keeps_a_hovering_value_to_one_fire() -> None:
    rule = Rule(1, "u", SPOT, Op.CROSSES_ABOVE, 100.0, hysteresis=5.0)
    assert run(rule, [90, 101, 99, 100.5, 97, 102, 94.9, 100]) == [1, 7]


def test_a_rule_made_across_the_level_waits_for_the_next_crossing() -> None:
    rule = Rule(1, "u", SPOT, Op.CROSSES_ABOVE, 100.0)
    assert run(rule, [120, 130, 99, 101]) == [3]


# -- targets ---------------------------------------------------------------------------------


def _doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "underlying": "NIFTY", "expiry": EXPIRY, "spot": 24_512.35,
        "aggregates": {"pcr_oi": 0.87, "max_pain": 24_500.0},
        "strikes": {
            "24500": {"strike": 24500.0, "CE": {"ltp": 120.5, "iv": 0.1432, "oi": 150_000,
                                                 "oi_change": -7_500},
                      "PE": {"ltp": 101.0, "iv": None, "oi": 90_000, "oi_change": 3_000}},
            "24512.5": {"strike": 24512.5, "CE": {"ltp": 110.0}},
        },
    }  # fmt: skip
    doc.update(over)
    return doc


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (SPOT, 24_512.35),
        (Target(Kind.PCR, "NIFTY", EXPIRY), 0.87),
        (Target(Kind.MAX_PAIN, "NIFTY", EXPIRY), 24_500.0),
        (Target(Kind.LTP, "NIFTY", EXPIRY, 24_500, "CE"), 120.5),
        (Target(Kind.IV, "NIFTY", EXPIRY, 24_500, "CE"), 0.1432),
        (Target(Kind.OI, "NIFTY", EXPIRY, 24_500, "PE"), 90_000.0),
        (Target(Kind.OI_CHANGE, "NIFTY", EXPIRY, 24_500, "CE"), -7_500.0),
        (Target(Kind.LTP, "NIFTY", EXPIRY, 24_512.5, "CE"), 110.0),
        (Target(Kind.IV, "NIFTY", EXPIRY, 24_500, "PE"), None),  # IV that did not solve
        (Target(Kind.LTP, "NIFTY", EXPIRY, 24_512.5, "PE"), None),  # no such leg
        (Target(Kind.LTP, "NIFTY", EXPIRY, 30_000, "CE"), None),  # strike out of the window
    ],
)
def test_each_kind_reads_its_number(target: Target, expected: float | None) -> None:
    assert target.read(_doc()) == expected


def test_a_boolean_or_text_is_no_value() -> None:
    assert SPOT.read(_doc(spot=True)) is None
    assert SPOT.read(_doc(spot="24500")) is None


@pytest.mark.parametrize(
    ("kind", "expiry", "strike", "option_type", "message"),
    [
        (Kind.SPOT, EXPIRY, None, None, "takes no expiry"),
        (Kind.PCR, None, None, None, "needs an expiry"),
        (Kind.PCR, EXPIRY, 24_500.0, None, "takes no strike"),
        (Kind.LTP, EXPIRY, None, "CE", "needs a positive strike"),
        (Kind.LTP, EXPIRY, -5.0, "CE", "needs a positive strike"),
        (Kind.LTP, EXPIRY, 24_500.0, "XX", "option_type CE or PE"),
        (Kind.IV, "01-12-2026", 24_500.0, "CE", "not an ISO date"),
    ],
)
def test_incomplete_targets_are_refused(
    kind: Kind, expiry: str | None, strike: float | None, option_type: str | None, message: str
) -> None:
    with pytest.raises(RuleError, match=message):
        Target(kind, "NIFTY", expiry, strike, option_type)


def test_levels_must_be_finite_and_bands_not_negative() -> None:
    with pytest.raises(RuleError):
        Rule(1, "u", SPOT, Op.CROSSES_ABOVE, math.inf)
    with pytest.raises(RuleError):
        Rule(1, "u", SPOT, Op.CROSSES_ABOVE, 1.0, hysteresis=-1.0)


def test_strike_keys_match_the_documents() -> None:
    assert [strike_key(k) for k in (24_500.0, 24_512.5, 80_000.0, 1_450.0)] == [
        "24500", "24512.5", "80000", "1450",
    ]  # fmt: skip


def test_describe() -> None:
    rule = Rule(1, "u", Target(Kind.IV, "NIFTY", EXPIRY, 24_500, "CE"), Op.CROSSES_BELOW, 0.12)
    assert describe(rule, 0.1187) == "NIFTY 2026-12-01 24500 CE IV crossed below 0.12 (0.1187)"
    assert describe(Rule(2, "u", SPOT, Op.CROSSES_ABOVE, 24_500), 24_512.35) == (
        "NIFTY spot crossed above 24500 (24512.35)"
    )


# -- the book --------------------------------------------------------------------------------


def test_the_book_evaluates_the_rules_of_each_document_and_spot_once() -> None:
    book = AlertBook()
    spot = Rule(1, "a", SPOT, Op.CROSSES_ABOVE, 24_600.0)
    pcr = Rule(2, "b", Target(Kind.PCR, "NIFTY", EXPIRY), Op.CROSSES_BELOW, 0.8)
    other = Rule(3, "a", Target(Kind.PCR, "NIFTY", "2026-12-08"), Op.CROSSES_BELOW, 0.8)
    bank = Rule(4, "a", Target(Kind.SPOT, "BANKNIFTY"), Op.CROSSES_ABOVE, 1.0)
    book.replace([(r, RuleState()) for r in (spot, pcr, other, bank)])
    first = book.observe([_doc(), _doc(expiry="2026-12-15")])
    # First looks: armed (below the level for 1, above it for 2), no fire; 3 and 4 unread.
    assert [(c.rule.id, c.after.armed, c.fired) for c in first] == [(2, True, False),
                                                                   (1, True, False)]  # fmt: skip
    assert book.state(3) == RuleState() and book.state(4) == RuleState()
    moved = book.observe([_doc(spot=24_650.0, aggregates={"pcr_oi": 0.79})])
    assert [(c.rule.id, c.fired, c.after.crossings, c.before.value) for c in moved] == [
        (2, True, 1, 0.87), (1, True, 1, 24_512.35),
    ]  # fmt: skip
    assert moved[1].side == "above" and moved[0].side == "below"
    assert book.observe([_doc(spot=24_700.0, aggregates={"pcr_oi": 0.7})]) == []


def test_replacing_the_rules_keeps_the_states_of_those_kept() -> None:
    book = AlertBook()
    spot = Rule(1, "a", SPOT, Op.CROSSES_ABOVE, 24_600.0)
    book.replace([(spot, RuleState())])
    book.observe([_doc()])
    new = Rule(2, "a", SPOT, Op.CROSSES_BELOW, 24_000.0)
    book.replace([(spot, RuleState()), (new, RuleState(False, 4, None))])
    assert book.state(1) == RuleState(True, 0, 24_512.35)  # its own, not the stale one given
    assert book.state(2) == RuleState(False, 4, None)
    book.replace([(new, RuleState())])
    assert book.state(1) is None and len(book) == 1


@given(paths, levels, bands, ops)
def test_the_book_decides_as_step_does(
    path: list[float | None], level: float, band: float, op: Op
) -> None:
    """The book's fast path (nothing moved) and `step` agree: the same fires, the same state,
    a change reported exactly when the armed state moved."""
    rule = Rule(1, "u", SPOT, op, level, hysteresis=band)
    book = AlertBook()
    book.replace([(rule, RuleState())])
    state, fired, moved = RuleState(), [], []
    for i, value in enumerate(path):
        before = state
        state, fire = step(rule, state, value)
        if fire:
            fired.append(i)
        if state.armed != before.armed or fire:
            moved.append(i)
    seen_fires, seen_moves = [], []
    for i, value in enumerate(path):
        for change in book.observe([_doc(spot=value)]):
            seen_moves.append(i)
            if change.fired:
                seen_fires.append(i)
    assert (seen_fires, seen_moves) == (fired, moved)
    assert book.state(1) == state
