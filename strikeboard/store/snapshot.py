"""Chain snapshots as JSON-like documents, and their deltas (pure, no I/O).

A snapshot is a nested ``dict`` of JSON values (see docs/storage.md for the fields), e.g.::

    {"underlying": "NIFTY", "expiry": "2026-11-26", "seq": 41, "ts": 1764060000.25,
     "spot": 26050.5, "future": 26080.0, "forward": 26071.2, "atm_strike": 26050.0,
     "aggregates": {"pcr_oi": 0.91, "pcr_volume": 1.02, "max_pain": 26000.0, "atm_iv": 0.112,
                    "straddle": 210.5, "expected_move": 205.3},
     "strikes": {"26050": {"CE": {"ltp": 110.2, "change": -3.1, "bid": 110.1, ...},
                           "PE": {...}}}}

Missing numbers are ``None``, never NaN (NaN is not JSON and NaN != NaN would make every
delta carry it; `dumps` writes a stray NaN as null). A delta holds only what changed::

    {"seq": 42, "base": 41, "set": {"ts": ..., "strikes": {"26050": {"CE": {"ltp": 110.4}}}},
     "unset": [["strikes", "25500"]]}

``set`` is merged recursively (a dict in ``set`` whose old value is a dict is merged into it,
anything else replaces); ``unset`` lists key paths to delete, applied before ``set``.
``apply_delta(old, diff_snapshot(old, new)) == new`` for any two snapshots.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import orjson

JSONDict = dict[str, Any]

SEQ = "seq"


class SnapshotError(ValueError):
    """A snapshot or delta is malformed (not JSON, NaN/inf, or an unusable shape)."""


def _diff(old: JSONDict, new: JSONDict, path: list[str], unset: list[list[str]]) -> JSONDict:
    # The delta shares the new document's subtrees instead of copying them: a published
    # document is never mutated, and apply_delta copies what it merges.
    changed: JSONDict = {}
    for key in old.keys() - new.keys():
        unset.append([*path, key])
    missing = _MISSING
    for key, value in new.items():
        before = old.get(key, missing)
        # Unchanged (a scalar, or a whole subtree in one C-level comparison): the common case.
        # The type check keeps 1 vs 1.0 vs True distinct, as JSON round-trips them.
        if type(value) is type(before) and value == before:
            continue
        if before is missing:
            changed[key] = value
        elif type(value) is dict and type(before) is dict:
            sub = _diff(before, value, [*path, key], unset)
            if sub:  # empty when only removals changed (those went to `unset`)
                changed[key] = sub
        elif type(value) is dict or type(before) is dict:
            # A dict replaced by a scalar or the reverse: replace wholesale, after unsetting
            # the old value so that merging a dict into a stale dict cannot leave extra keys.
            unset.append([*path, key])
            changed[key] = value
        else:
            changed[key] = value
    return changed


_MISSING: Final = object()


def diff_snapshot(old: JSONDict | None, new: JSONDict) -> JSONDict:
    """The delta turning ``old`` into ``new`` (``old=None`` means from an empty snapshot).

    The ``seq`` key is not diffed: the delta carries ``seq`` (new's) and ``base`` (old's).
    """
    before = {k: v for k, v in (old or {}).items() if k != SEQ}
    after = {k: v for k, v in new.items() if k != SEQ}
    unset: list[list[str]] = []
    changed = _diff(before, after, [], unset)
    delta: JSONDict = {SEQ: new.get(SEQ), "base": (old or {}).get(SEQ), "set": changed}
    if unset:
        delta["unset"] = unset
    return delta


def remove_path(node: Any, path: list[Any]) -> None:
    """Delete the value at ``path`` (a list of keys) if it is there (an ``unset`` entry)."""
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def merge_into(target: JSONDict, changes: JSONDict) -> None:
    """Merge a delta's ``set`` into ``target`` in place: dicts recursively, the rest replaced
    (by copies, so ``target`` never shares structure with the delta)."""
    for key, value in changes.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merge_into(current, value)
        else:
            target[key] = copy.deepcopy(value)


def apply_delta(snapshot: JSONDict | None, delta: JSONDict) -> JSONDict:
    """A new snapshot: ``snapshot`` with ``delta`` applied (the input is not modified).

    Raises `SnapshotError` when the delta is malformed (e.g. an ``unset`` path through a
    non-dict). Callers that track seqs should check ``delta["base"] == snapshot["seq"]`` first
    and re-fetch the full snapshot on a gap.
    """
    result = copy.deepcopy(snapshot) if snapshot else {}
    result.pop(SEQ, None)
    changes = delta.get("set", {})
    if not isinstance(changes, dict):
        raise SnapshotError("delta 'set' must be an object")
    for path in delta.get("unset", []):
        if not isinstance(path, list) or not path:
            raise SnapshotError(f"bad unset path {path!r}")
        remove_path(result, path)
    merge_into(result, changes)
    if delta.get(SEQ) is not None:
        result[SEQ] = delta[SEQ]
    return result


def dumps(document: JSONDict) -> str:
    """Compact JSON of a snapshot or delta (orjson: a full chain is megabytes a second).

    NaN and infinities become null, i.e. "no value". `SnapshotError` on non-JSON values.
    """
    try:
        return orjson.dumps(document).decode()
    except TypeError as exc:
        raise SnapshotError(f"not JSON-serialisable: {exc}") from exc


def loads(text: str | bytes) -> JSONDict:
    """Parse a snapshot or delta; `SnapshotError` when it is not a JSON object."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"invalid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SnapshotError("expected a JSON object")
    return value
