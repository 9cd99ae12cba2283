"""diff_snapshot / apply_delta: apply(old, diff(old, new)) == new, plus the edge cases."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strikeboard.store.snapshot import (
    SnapshotError,
    apply_delta,
    diff_snapshot,
    dumps,
    loads,
)

FIELDS = ["ltp", "change", "bid", "ask", "oi", "iv", "delta"]
numbers = st.one_of(
    st.none(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
legs = st.dictionaries(st.sampled_from(FIELDS), numbers, max_size=len(FIELDS))
strikes = st.dictionaries(
    st.sampled_from([str(s) for s in range(25000, 25500, 50)]),
    st.dictionaries(st.sampled_from(["CE", "PE"]), legs, max_size=2),
    max_size=6,
)
# Any JSON value, including dicts that turn into scalars and back between snapshots.
json_values = st.recursive(
    st.one_of(numbers, st.booleans(), st.text(max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=8,
)
snapshots = st.fixed_dictionaries(
    {
        "underlying": st.just("NIFTY"),
        "expiry": st.just("2026-11-26"),
        "seq": st.integers(0, 10**6),
        "ts": numbers,
        "spot": numbers,
        "aggregates": st.dictionaries(st.sampled_from(["pcr_oi", "max_pain"]), numbers),
        "strikes": strikes,
    },
    optional={"extra": json_values, "x": json_values},
)


@settings(max_examples=300, deadline=None)
@given(snapshots, snapshots)
def test_apply_of_diff_is_the_new_snapshot(old: dict[str, Any], new: dict[str, Any]) -> None:
    delta = diff_snapshot(old, new)
    assert apply_delta(old, delta) == new
    # The delta survives its JSON encoding (it is what goes over the wire).
    assert apply_delta(old, loads(dumps(delta))) == new


@settings(max_examples=100, deadline=None)
@given(snapshots)
def test_from_nothing_and_no_change(new: dict[str, Any]) -> None:
    assert apply_delta(None, diff_snapshot(None, new)) == new
    unchanged = diff_snapshot(new, new)
    assert not unchanged.get("set") and not unchanged.get("unset")


@settings(max_examples=100, deadline=None)
@given(snapshots, snapshots)
def test_inputs_are_not_modified(old: dict[str, Any], new: dict[str, Any]) -> None:
    old_copy, new_copy = json.loads(json.dumps(old)), json.loads(json.dumps(new))
    apply_delta(old, diff_snapshot(old, new))
    assert old == old_copy
    assert new == new_copy


def test_delta_holds_only_changed_fields() -> None:
    old = {"seq": 1, "spot": 100.0, "strikes": {"100": {"CE": {"ltp": 5.0, "oi": 10}}}}
    new = {"seq": 2, "spot": 100.0, "strikes": {"100": {"CE": {"ltp": 5.5, "oi": 10}}}}
    assert diff_snapshot(old, new) == {
        "seq": 2,
        "base": 1,
        "set": {"strikes": {"100": {"CE": {"ltp": 5.5}}}},
    }


def test_removed_strike_is_unset() -> None:
    old = {"seq": 1, "strikes": {"100": {"CE": {"ltp": 1.0}}, "150": {"PE": {"ltp": 2.0}}}}
    new = {"seq": 2, "strikes": {"150": {"PE": {"ltp": 2.0}}}}
    delta = diff_snapshot(old, new)
    assert delta["unset"] == [["strikes", "100"]]
    assert apply_delta(old, delta) == new


def test_int_and_float_are_distinct_changes() -> None:
    delta = diff_snapshot({"a": 1}, {"a": 1.0})
    assert delta["set"] == {"a": 1.0}


def test_nan_is_written_as_no_value() -> None:
    assert dumps({"spot": math.nan, "iv": math.inf}) == '{"spot":null,"iv":null}'


def test_malformed_input() -> None:
    with pytest.raises(SnapshotError):
        loads(b"[1, 2]")
    with pytest.raises(SnapshotError):
        loads(b"{not json")
    with pytest.raises(SnapshotError):
        apply_delta({}, {"set": [1]})
    with pytest.raises(SnapshotError):
        apply_delta({}, {"set": {}, "unset": ["strikes"]})
