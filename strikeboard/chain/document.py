"""The chain document: the one shape of an expiry's priced chain, wherever it comes from.

The feed publishes it to Redis (`chain.snapshot.expiry_chain`), the API rebuilds it from an
archived minute (`api.chain.archive_document`) and in NSE's IV convention
(`api.chain.recompute_nse`), the pusher ships its deltas and the SPA renders it. All three
build it here, from two typed forms of the same chain:

- `ChainDocument` and its parts (`Leg`, `StrikeRow`, `Aggregates`): the JSON form, TypedDicts,
  so plain dicts at run time. Chosen by measurement (`bench/bench_document.py`): on the
  publisher's hot path (build + serialise + diff of a 9,000-instrument chain) dicts built from
  columns and serialised by orjson were as fast as msgspec Structs and faster than dataclasses
  or pydantic models, and the API, the pusher and the archive read them as they always have.
- `ChainColumns`: the chain as aligned arrays, one per field and side, rounded as published.
  `build` turns them into the document, reusing the previous document's unchanged legs and
  rows, and computes the delta from the previous columns with array comparisons instead of a
  walk over every key of the two documents.

Missing values are None in the document (NaN in float columns), never NaN: the document is
plain JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NotRequired, TypedDict, cast

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
Value = float | int | str | None
"""A scalar of the document."""

SIDES: Final = ("CE", "PE")


class Leg(TypedDict, total=False):
    """One option of a strike. The live chain has every field; the archive keeps fewer (the
    quantities, average price and buildup are not archived, so an archived leg lacks them)."""

    token: int | None
    ltp: float | None
    close: float | None
    bid: float | None
    ask: float | None
    bid_qty: int | None
    ask_qty: int | None
    volume: int | None
    oi: int | None
    avg_price: float | None
    change: float | None
    change_pct: float | None
    oi_change: int | None
    iv: float | None
    iv_reason: str | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    buildup: str | None


class StrikeRow(TypedDict):
    strike: float
    iv: float | None
    """The IV the strike shows (`conventions.shown_iv`)."""
    gex: float | None
    CE: NotRequired[Leg]
    PE: NotRequired[Leg]


class Aggregates(TypedDict):
    pcr_oi: float | None
    pcr_volume: float | None
    pcr_oi_change: float | None
    max_pain: float | None
    atm_iv: float | None
    atm_straddle: float | None
    expected_move: float | None
    call_oi: float | None
    put_oi: float | None
    call_oi_change: float | None
    put_oi_change: float | None
    support: float | None
    resistance: float | None


class Header(TypedDict):
    """The document's scalars before its aggregates, in their order on the wire."""

    underlying: str
    expiry: str
    seq: NotRequired[int | None]
    """Set by `HotStore.publish` (live); null in an archived chain."""
    ts: float | int | None
    computed_at: str
    spot: float | None
    future: float | None
    forward: float | None
    carry: float | None
    rate: float | None
    t_years: float | None
    days_to_expiry: float | None
    lot_size: int | None
    atm_strike: float | None


class ChainDocument(Header):
    aggregates: Aggregates
    strikes: dict[str, StrikeRow]
    """Strike rows keyed by the strike as `f"{strike:g}"`, in ascending strike order."""
    minute: NotRequired[str]
    """The archived minute served (archive only)."""
    convention: NotRequired[str]
    """"nse" once recomputed in NSE's convention (the API adds "forward" otherwise)."""


LEG_FIELDS: Final[tuple[str, ...]] = tuple(Leg.__annotations__)
"""A leg's fields in their order on the wire."""
INT_FIELDS: Final = frozenset({"token", "bid_qty", "ask_qty", "volume", "oi", "oi_change"})
TEXT_FIELDS: Final = frozenset({"iv_reason", "buildup"})
ROUND: Final[Mapping[str, int]] = {
    "ltp": 2, "close": 2, "change": 2, "change_pct": 2, "bid": 2, "ask": 2, "avg_price": 2,
    "iv": 4, "delta": 4, "gamma": 6, "theta": 2, "vega": 2,
}  # fmt: skip
"""Decimal places per published float field: what a trader reads, which also keeps the live
deltas small (a Greek moving in its 9th digit is no change)."""


def rounded(name: str, values: NDArray[Any]) -> NDArray[Any]:
    """A leg field's column as published: floats rounded (`ROUND`), quantities whole, text
    as objects (None where absent)."""
    if name in TEXT_FIELDS:
        return np.asarray(values, dtype=object)
    a = np.asarray(values, dtype=np.float64)
    digits = ROUND.get(name)
    return np.round(a, digits) if digits is not None else a


def json_list(name: str, values: NDArray[Any]) -> list[Value]:
    """A column as JSON values: None where NaN, quantities as ints, prices as floats (whole
    numbers stay floats)."""
    if values.dtype == object:
        return cast(list[Value], values.tolist())
    missing = ~np.isfinite(values)
    if name in INT_FIELDS:
        out: list[Value] = np.where(missing, 0, values).astype(np.int64).tolist()
    else:
        out = values.tolist()
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            out[i] = None
    return out


def clean(value: float, digits: int | None = None) -> float | int | None:
    """A scalar as JSON: None when not finite, rounded to ``digits`` (a whole number without
    ``digits`` as an int: counts and timestamps)."""
    if not math.isfinite(value):
        return None
    if digits is None:
        return int(value) if value == int(value) else value
    return round(value, digits)


def strike_key(strike: float) -> str:
    return f"{strike:g}"


@dataclass(slots=True, eq=False)
class SideColumns:
    present: NDArray[np.bool_]
    """Whether the strike has this side's contract (a leg in the document)."""
    fields: dict[str, NDArray[Any]]
    """Leg field -> values per strike, as `rounded`; the document's legs carry these fields in
    this order."""


@dataclass(slots=True, eq=False)
class ChainColumns:
    """A chain as arrays aligned on its strikes (ascending)."""

    strikes: F64
    iv: F64
    """The strike's shown IV (rounded to 4 places)."""
    gex: F64
    """Rounded to whole units."""
    sides: dict[str, SideColumns]

    def with_fields(self, side: str, values: Mapping[str, NDArray[Any]]) -> ChainColumns:
        """A copy with some fields of one side replaced (or added at the end)."""
        sides = dict(self.sides)
        old = sides[side]
        sides[side] = SideColumns(old.present, {**old.fields, **values})
        return ChainColumns(self.strikes, self.iv, self.gex, sides)


@dataclass(slots=True, eq=False)
class Chain:
    """A built document and the columns it came from (what the next build diffs against)."""

    document: ChainDocument
    columns: ChainColumns
    keys: list[str]
    rows: list[StrikeRow]
    legs: dict[str, list[Leg | None]]
    packed: dict[str, _Packed]

    def values(self, side: str, name: str) -> list[Value]:
        """One field of one side as JSON values, per strike (None where no leg)."""
        found = self.columns.sides.get(side)
        if found is None or name not in found.fields:
            return [None] * len(self.keys)
        values = json_list(name, found.fields[name])
        return [v if p else None for v, p in zip(values, found.present.tolist(), strict=True)]


Delta = dict[str, Any]
"""What changed: {"set": {...}} as `store.snapshot.diff_snapshot` gives it (never an
"unset": a change of the strikes or legs present is not diffed here)."""


def aggregates(**values: float | None) -> Aggregates:
    """The aggregates in their order on the wire (missing ones None)."""
    return {name: values.get(name) for name in Aggregates.__annotations__}  # type: ignore[return-value]


def build(
    header: Header,
    aggs: Aggregates,
    columns: ChainColumns,
    previous: Chain | None = None,
    **tail: str,
) -> tuple[Chain, Delta | None]:
    """The document of ``columns`` (``tail``: keys after the strikes, e.g. the archive's
    ``minute``) and, given the ``previous`` chain of the same expiry, the delta from it.

    The delta is None without a previous chain, or when the strikes or the legs present
    changed (the caller then diffs the two documents). Legs and rows that did not change are
    the previous document's own objects (a published document is never mutated), and only
    the changed legs' values become Python objects."""
    base = previous if previous is not None and _same_shape(previous.columns, columns) else None
    n = len(columns.strikes)
    strikes = columns.strikes.tolist()
    keys = base.keys if base is not None else [strike_key(k) for k in strikes]
    shown, gex = json_list("iv", columns.iv), json_list("gex", columns.gex)
    packed = {side: _Packed.of(sc) for side, sc in columns.sides.items()}
    legs: dict[str, list[Leg | None]] = {}
    by_row: dict[int, dict[str, Any]] = {}  # the delta's changes, by strike
    touched = np.zeros(n, dtype=bool)  # the strikes whose row changed
    for side, pack in packed.items():
        names = pack.names
        if base is None:
            present = np.flatnonzero(columns.sides[side].present)
            side_legs: list[Leg | None] = [None] * n
            for i, values in zip(present.tolist(), pack.objects(present), strict=True):
                side_legs[i] = dict(zip(names, values, strict=False))  # type: ignore[call-overload]
            legs[side] = side_legs
            continue
        changed = pack.changed(base.packed[side]) & columns.sides[side].present
        idx = np.flatnonzero(changed.any(axis=0))
        touched[idx] = True
        side_legs = base.legs[side].copy()
        leg_values = pack.objects(idx)
        for i, values in zip(idx.tolist(), leg_values, strict=True):
            side_legs[i] = dict(zip(names, values, strict=False))  # type: ignore[call-overload]
        legs[side] = side_legs
        # (leg, field) pairs in leg then field order: each leg's changes in wire order.
        positions, fields = np.nonzero(changed[:, idx].T)
        last = -1
        found: dict[str, Value] = {}
        for p, f in zip(positions.tolist(), fields.tolist(), strict=True):
            if p != last:
                last, found = p, {}
                by_row.setdefault(int(idx[p]), {})[side] = found
            found[names[f]] = leg_values[p][f]
    by_side = list(legs.items())

    def row(i: int) -> StrikeRow:
        out: StrikeRow = {"strike": strikes[i], "iv": shown[i], "gex": gex[i]}  # type: ignore[typeddict-item]
        for side, side_legs in by_side:
            leg = side_legs[i]
            if leg is not None:
                out[side] = leg  # type: ignore[literal-required]
        return out

    if base is None:
        rows = [row(i) for i in range(n)]
    else:
        iv_changed = _differs(base.columns.iv, columns.iv)
        gex_changed = _differs(base.columns.gex, columns.gex)
        touched |= iv_changed | gex_changed
        rows = base.rows.copy()
        for i in np.flatnonzero(touched).tolist():
            rows[i] = row(i)
        for name, mask, column in (("gex", gex_changed, gex), ("iv", iv_changed, shown)):
            for i in np.flatnonzero(mask).tolist():  # iv, gex, then the legs: the row's order
                by_row[i] = {name: column[i], **by_row.get(i, {})}
    strike_rows = dict(zip(keys, rows, strict=True))
    document = cast(ChainDocument, {**header, "aggregates": aggs, "strikes": strike_rows, **tail})
    chain = Chain(document, columns, keys, rows, legs, packed)
    if previous is None or base is None:
        return chain, None
    delta = _header_delta(previous.document, document)
    if delta is None:
        return chain, None
    if by_row:
        delta["strikes"] = {keys[i]: by_row[i] for i in sorted(by_row)}
    return chain, {"set": delta}


@dataclass(slots=True, eq=False)
class _Packed:
    """One side's fields as two matrices (numbers, text), so that diffing and converting to
    Python values are a few array operations whatever the number of fields."""

    names: list[str]
    numbers: F64  # (numeric fields, strikes), NaN: none
    number_rows: NDArray[np.intp]  # each numeric field's place in `names`
    int_rows: NDArray[np.bool_]  # which of the numeric fields are whole numbers
    text: NDArray[np.object_]  # (text fields, strikes)
    text_rows: NDArray[np.intp]

    @classmethod
    def of(cls, side: SideColumns) -> _Packed:
        names = list(side.fields)
        numeric = [i for i, name in enumerate(names) if name not in TEXT_FIELDS]
        text = [i for i, name in enumerate(names) if name in TEXT_FIELDS]
        n = len(side.present)
        numbers = (
            np.stack([np.asarray(side.fields[names[i]], np.float64) for i in numeric])
            if numeric else np.zeros((0, n))
        )  # fmt: skip
        texts = (
            np.stack([np.asarray(side.fields[names[i]], object) for i in text])
            if text else np.zeros((0, n), dtype=object)
        )  # fmt: skip
        ints = np.array([names[i] in INT_FIELDS for i in numeric], dtype=bool)
        return cls(names, numbers, np.array(numeric, np.intp), ints, texts,
                   np.array(text, np.intp))  # fmt: skip

    def changed(self, old: _Packed) -> NDArray[np.bool_]:
        """(fields, strikes): where a value differs from ``old``'s (NaN to NaN is none)."""
        out = np.zeros((len(self.names), self.numbers.shape[1]), dtype=bool)
        with np.errstate(invalid="ignore"):
            out[self.number_rows] = (old.numbers != self.numbers) & ~(
                np.isnan(old.numbers) & np.isnan(self.numbers)
            )
        if len(self.text_rows):
            out[self.text_rows] = old.text != self.text
        return out

    def objects(self, idx: NDArray[np.intp]) -> list[list[Value]]:
        """The JSON values of the legs at ``idx``, a list of field values per leg."""
        out = np.empty((len(self.names), len(idx)), dtype=object)
        numbers = self.numbers[:, idx]
        missing = np.isnan(numbers)
        floats = ~self.int_rows
        out[self.number_rows[floats]] = numbers[floats]
        if self.int_rows.any():
            whole = np.where(missing[self.int_rows], 0, numbers[self.int_rows])
            out[self.number_rows[self.int_rows]] = whole.astype(np.int64)
        if missing.any():
            none = np.zeros(out.shape, dtype=bool)
            none[self.number_rows] = missing
            out[none] = None
        if len(self.text_rows):
            out[self.text_rows] = self.text[:, idx]
        values: list[list[Value]] = out.T.tolist()
        return values


def _same_shape(old: ChainColumns, new: ChainColumns) -> bool:
    """The same strikes, legs and leg fields: a delta of values only."""
    return (
        np.array_equal(old.strikes, new.strikes)
        and list(old.sides) == list(new.sides)
        and all(
            np.array_equal(old.sides[side].present, sc.present)
            and list(old.sides[side].fields) == list(sc.fields)
            for side, sc in new.sides.items()
        )
    )


def _differs(old: NDArray[Any], new: NDArray[Any]) -> NDArray[np.bool_]:
    """Per element, whether the published value changed (NaN to NaN is no change)."""
    with np.errstate(invalid="ignore"):
        changed: NDArray[np.bool_] = (old != new) & ~(np.isnan(old) & np.isnan(new))
    return changed


def _header_delta(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The scalars and aggregates that changed, as `store.snapshot.diff_snapshot` tells a
    change (1 and 1.0 differ: JSON keeps them apart); the seq is the delta's own. None when
    a key came or went (a document of another version: the caller diffs the documents)."""
    if old.keys() - {"seq"} != new.keys() - {"seq"}:
        return None
    if type(old["aggregates"]) is not dict or old["aggregates"].keys() != new["aggregates"].keys():
        return None
    out: dict[str, Any] = {}
    for key, value in new.items():
        if key in ("strikes", "seq"):
            continue
        before = old.get(key, _MISSING)
        if type(value) is type(before) and value == before:
            continue
        if key == "aggregates":
            changed = {
                k: v for k, v in value.items()
                if not (type(v) is type(before.get(k, _MISSING)) and v == before.get(k))
            }  # fmt: skip
            if changed:
                out[key] = changed
            continue
        out[key] = value
    return out


_MISSING: Final = object()


def from_document(document: Mapping[str, Any]) -> Chain:
    """The chain of a document read back (Redis, a request), in its strike order: what a
    restarted publisher diffs against and an NSE recompute starts from. Legs carry the fields
    of `LEG_FIELDS` that any of them has."""
    rows = sorted(document.get("strikes", {}).values(), key=lambda r: float(r["strike"]))
    k = np.array([float(r["strike"]) for r in rows], dtype=np.float64)
    sides: dict[str, SideColumns] = {}
    for side in SIDES:
        legs = [r.get(side) for r in rows]
        present = np.array([leg is not None for leg in legs], dtype=bool)
        if not present.any():
            continue
        names = [f for f in LEG_FIELDS if any(leg is not None and f in leg for leg in legs)]
        fields = {name: column(name, [(leg or {}).get(name) for leg in legs]) for name in names}
        sides[side] = SideColumns(present, fields)
    columns = ChainColumns(
        k, column("iv", [r.get("iv") for r in rows]), column("gex", [r.get("gex") for r in rows]),
        sides,
    )  # fmt: skip
    legs_by_side = {side: [r.get(side) for r in rows] for side in sides}
    keys = [strike_key(x) for x in k.tolist()]
    return Chain(
        cast(ChainDocument, document), columns, keys, cast(list[StrikeRow], rows),
        cast(dict[str, list[Leg | None]], legs_by_side),
        {side: _Packed.of(sc) for side, sc in sides.items()},
    )  # fmt: skip


def column(name: str, values: Sequence[Any]) -> NDArray[Any]:
    """A column of JSON values (None: absent) as `ChainColumns` holds it."""
    if name in TEXT_FIELDS:
        return np.array(values, dtype=object)
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def as_json(document: ChainDocument) -> dict[str, Any]:
    """The document as the API's plain JSON dict (the same object: TypedDicts are dicts)."""
    return cast(dict[str, Any], document)
