"""The chain document built from columns: the same document whatever the previous chain, and
a delta equal to the dict diff's (`store.snapshot.diff_snapshot`, the reference) at a fraction
of its cost; the archive's columns mapped by name."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from strikeboard.chain import document
from strikeboard.chain.document import LEG_FIELDS, TEXT_FIELDS, ChainColumns, SideColumns
from strikeboard.store import archive
from strikeboard.store import snapshot as snap

FLOATS = [math.nan, 0.0, -0.0, 1.5, 2.25, 100.0]
INTS = [math.nan, 0.0, 7.0, 75.0]
TEXTS = [None, "no_price", "long_buildup"]


def header(**changes: Any) -> document.Header:
    head: document.Header = {
        "underlying": "NIFTY", "expiry": "2026-12-01", "ts": 1764043200, "computed_at": "x",
        "spot": 24000.5, "future": 24100.0, "forward": 24090.25, "carry": 0.01, "rate": 0.065,
        "t_years": 0.02, "days_to_expiry": 7.3, "lot_size": 65, "atm_strike": 24100.0,
    }  # fmt: skip
    head.update(changes)  # type: ignore[typeddict-item]
    return head


def pick(draw: st.DrawFn, name: str, n: int) -> np.ndarray:
    if name in TEXT_FIELDS:
        return np.array([draw(st.sampled_from(TEXTS)) for _ in range(n)], dtype=object)
    pool = INTS if name in document.INT_FIELDS else FLOATS
    return np.array([draw(st.sampled_from(pool)) for _ in range(n)], dtype=np.float64)


@st.composite
def columns(draw: st.DrawFn, strikes: np.ndarray | None = None) -> ChainColumns:
    k = strikes if strikes is not None else np.arange(draw(st.integers(0, 6))) * 50.0 + 24000
    n = len(k)
    sides = {}
    for side in ("CE", "PE"):
        if draw(st.booleans()) or side == "CE":
            present = np.array([draw(st.booleans()) for _ in range(n)], dtype=bool)
            sides[side] = SideColumns(present, {f: pick(draw, f, n) for f in LEG_FIELDS})
    return ChainColumns(k, pick(draw, "iv", n), pick(draw, "gex", n), sides)


@st.composite
def two_chains(draw: st.DrawFn) -> tuple[ChainColumns, ChainColumns]:
    old = draw(columns())
    if draw(st.booleans()):  # usually the same strikes and legs, new values
        new = draw(columns(old.strikes))
        new.sides = {
            side: SideColumns(sc.present, new.sides.get(side, sc).fields)
            for side, sc in old.sides.items()
        }
        return old, new
    return old, draw(columns())


def two_strikes(side: str) -> ChainColumns:
    """Strikes 100 and 200, one side's legs at both, every value 1 (text None)."""
    fields = {f: np.full(2, 1.0) if f not in TEXT_FIELDS else np.full(2, None) for f in LEG_FIELDS}
    return ChainColumns(
        np.array([100.0, 200.0]), np.full(2, 0.1), np.zeros(2),
        {side: SideColumns(np.ones(2, bool), fields)},
    )  # fmt: skip


def aggs(**values: float | None) -> document.Aggregates:
    return document.aggregates(**{"pcr_oi": 0.9, "max_pain": 24000.0, **values})


@settings(max_examples=150, deadline=None)
@given(two_chains(), st.booleans())
def test_the_delta_is_the_dict_diff(pair: tuple[ChainColumns, ChainColumns], moved: bool) -> None:
    old_columns, new_columns = pair
    before, first = document.build(header(), aggs(), old_columns)
    assert first is None
    head = header(spot=24001.0, ts=1764043201) if moved else header()
    after, delta = document.build(head, aggs(pcr_oi=1.1 if moved else 0.9), new_columns, before)
    fresh, _ = document.build(head, aggs(pcr_oi=1.1 if moved else 0.9), new_columns)
    assert after.document == fresh.document  # reuse never changes what is published
    reference = snap.diff_snapshot(before.document, after.document)
    if delta is None:  # only when the strikes or the legs present changed
        assert not document._same_shape(old_columns, new_columns)
        return
    assert "unset" not in reference
    assert delta["set"] == reference["set"]
    assert orjson.dumps(delta["set"]) == orjson.dumps(reference["set"])  # same order too
    rebuilt = snap.apply_delta(before.document, {"set": delta["set"]})  # type: ignore[arg-type]
    assert rebuilt == after.document


def test_unchanged_legs_and_rows_are_reused_and_nothing_published_is_mutated() -> None:
    k = np.array([100.0, 200.0, 300.0])
    fields = {
        f: np.full(3, np.nan) if f not in TEXT_FIELDS else np.full(3, None) for f in LEG_FIELDS
    }
    fields["ltp"] = np.array([5.0, 6.0, 7.0])
    old = ChainColumns(
        k, np.full(3, 0.1), np.zeros(3), {"CE": SideColumns(np.ones(3, bool), fields)}
    )
    before, _ = document.build(header(), aggs(), old)
    frozen = orjson.dumps(before.document)
    new = old.with_fields("CE", {"ltp": np.array([5.0, 6.5, 7.0])})
    after, delta = document.build(header(), aggs(), new, before)
    assert delta == {"set": {"strikes": {"200": {"CE": {"ltp": 6.5}}}}}
    rows, old_rows = after.document["strikes"], before.document["strikes"]
    assert rows["100"] is old_rows["100"] and rows["300"] is old_rows["300"]
    assert rows["200"] is not old_rows["200"]
    assert orjson.dumps(before.document) == frozen


def test_a_document_read_back_diffs_like_the_one_built() -> None:
    cols = two_strikes("PE")
    built, _ = document.build(header(), aggs(), cols)
    restored = document.from_document(orjson.loads(orjson.dumps(built.document)) | {"seq": 4})
    changed = cols.with_fields("PE", {"iv": np.array([1.0, 0.25])})
    after, delta = document.build(header(), aggs(), changed, restored)
    assert delta == {"set": {"strikes": {"200": {"PE": {"iv": 0.25}}}}}
    assert after.document == document.build(header(), aggs(), changed)[0].document


def test_a_document_of_another_shape_is_not_diffed_here() -> None:
    cols = two_strikes("CE")
    before, _ = document.build(header(), aggs(), cols)
    one = SideColumns(np.ones(1, bool), {f: a[:1] for f, a in cols.sides["CE"].fields.items()})
    fewer = ChainColumns(cols.strikes[:1], np.full(1, 0.1), np.zeros(1), {"CE": one})
    assert document.build(header(), aggs(), fewer, before)[1] is None
    older = dict(before.document)
    older["extra"] = 1  # a document of another version: a key the build does not make
    previous = document.from_document(older)
    assert document.build(header(), aggs(), cols, previous)[1] is None


def test_archive_columns_are_document_fields_by_name() -> None:
    assert set(archive.LEG_COLUMNS) <= set(LEG_FIELDS)
    assert archive.CHAIN_COLUMNS[:5] == ("underlying", "expiry", "minute", "strike", "option_type")
    assert set(archive.AGGREGATE_FIELDS) == set(archive.CHAIN_AGG_COLUMNS[3:])
    head, aggregates = (
        set(document.Header.__annotations__),
        set(document.Aggregates.__annotations__),
    )
    for path in archive.AGGREGATE_FIELDS.values():
        assert path[-1] in (aggregates if path[0] == "aggregates" else head)
    k = np.array([100.0, 200.0])
    fields = {f: np.array([1.0, 2.0]) if f not in TEXT_FIELDS else np.full(2, None)
              for f in LEG_FIELDS}  # fmt: skip
    cols = ChainColumns(k, np.full(2, 0.1), np.zeros(2),
                        {"CE": SideColumns(np.array([True, False]), fields),
                         "PE": SideColumns(np.ones(2, bool), fields)})  # fmt: skip
    chain, _ = document.build(header(), aggs(atm_straddle=210.5), cols)
    row = dict(
        zip(archive.CHAIN_AGG_COLUMNS, archive.aggregate_row(chain.document, "m"), strict=True)
    )
    assert row["straddle"] == 210.5 and row["spot"] == 24000.5 and row["minute"] == "m"
    back = archive.document_values(row)
    assert back["aggregates"]["atm_straddle"] == 210.5 and back["forward"] == 24090.25
    rows = [
        dict(zip(archive.CHAIN_COLUMNS, r, strict=True)) for r in archive.chain_rows(chain, "m")
    ]
    assert [(r["strike"], r["option_type"]) for r in rows] == [
        (100.0, "CE"),
        (100.0, "PE"),
        (200.0, "PE"),
    ]
    for r in rows:
        leg: dict[str, Any] = chain.document["strikes"][f"{r['strike']:g}"][r["option_type"]]  # type: ignore[literal-required]
        assert all(r[name] == leg[name] for name in archive.LEG_COLUMNS)
