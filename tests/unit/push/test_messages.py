"""The live wire format: parts, delta composition and the reference client, over real
simulator snapshots."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strikeboard.push import messages
from strikeboard.store.snapshot import apply_delta, diff_snapshot
from tests.support.sim_chain import SimChain


@pytest.fixture(scope="module")
def series() -> list[dict[str, object]]:
    """Successive real snapshots of the nearest expiry, seq-numbered like the feed's."""
    chain = SimChain(seed=5)
    expiry = chain.expiries[0]
    out = []
    for seq in range(1, 9):
        document = chain.step(1 if seq < 5 else 30)[expiry]
        document["seq"] = seq
        out.append(document)
    # A strike leaving the window and another coming back changes the key set too.
    out[5]["strikes"].pop(next(iter(out[5]["strikes"])))
    return out


def _delta(old: dict[str, object], new: dict[str, object]) -> dict[str, object]:
    return {"type": "delta", "underlying": "NIFTY", "expiry": new["expiry"],
            **diff_snapshot(old, new)}  # fmt: skip


def test_composed_deltas_reproduce_the_last_snapshot(series: list[dict[str, object]]) -> None:
    deltas = [_delta(a, b) for a, b in itertools.pairwise(series)]
    merged = deltas[0]
    for nxt in deltas[1:]:
        merged = messages.compose_deltas(merged, nxt)
    assert merged["seq"] == series[-1]["seq"] and merged["base"] == series[0]["seq"]
    assert apply_delta(series[0], merged) == series[-1]
    # Every sub-run composes too (the pusher merges whatever backlog it has).
    for i in range(len(deltas)):
        for j in range(i + 1, len(deltas)):
            run = deltas[i]
            for nxt in deltas[i + 1 : j + 1]:
                run = messages.compose_deltas(run, nxt)
            assert apply_delta(series[i], run) == series[j + 1]


def test_compose_refuses_deltas_that_do_not_follow(series: list[dict[str, object]]) -> None:
    a = _delta(series[0], series[1])
    c = _delta(series[2], series[3])
    with pytest.raises(messages.MessageError):
        messages.compose_deltas(a, c)


@given(st.text(min_size=0, max_size=3000), st.integers(min_value=200, max_value=1500))
@settings(max_examples=60, deadline=None)
def test_parts_round_trip_and_fit(payload: str, limit: int) -> None:
    text = json.dumps({"type": "x", "payload": payload}, ensure_ascii=False)
    parts = messages.split(text, "id1", limit=limit)
    assert all(len(p.encode()) <= limit for p in parts)
    if len(parts) == 1:
        assert parts[0] == text
        return
    assembler = messages.Assembler()
    results = [assembler.feed(json.loads(p)) for p in reversed(parts)]  # any order
    assert results[:-1] == [None] * (len(parts) - 1)
    assert results[-1] == json.loads(text)


def test_a_full_snapshot_message_is_split_under_the_api_gateway_limit(
    series: list[dict[str, object]],
) -> None:
    big = dict(series[0])
    # Four expiries' worth of strikes in one document: well over 128 KB.
    big["strikes"] = {f"{k}-{n}": v for n in range(4) for k, v in series[0]["strikes"].items()}
    text = messages.snapshot_message(big)
    assert len(text.encode()) > messages.MAX_MESSAGE_BYTES
    parts = messages.split(text, "p")
    assert len(parts) > 1
    assert all(len(p.encode()) <= messages.PART_LIMIT_BYTES for p in parts)
    assembler = messages.Assembler()
    whole = [assembler.feed(json.loads(p)) for p in parts][-1]
    assert whole is not None and whole["data"] == big


def test_assembler_rejects_malformed_parts() -> None:
    assembler = messages.Assembler()
    with pytest.raises(messages.MessageError):
        assembler.feed({"type": "part", "id": "a", "index": 3, "count": 2, "chunk": "x"})
    with pytest.raises(messages.MessageError):
        assembler.feed({"type": "part", "id": "a", "index": 0})


def test_follower_buffers_orders_and_reports_gaps(series: list[dict[str, object]]) -> None:
    d12, d23, d34 = (_delta(series[i], series[i + 1]) for i in range(3))
    follower = messages.Follower()
    # A delta that overtakes the snapshot is kept and applied once the snapshot arrives.
    assert follower.handle(d12) == "buffered"
    assert follower.handle(d23) == "buffered"
    assert follower.handle({"type": "snapshot", "data": series[1]}) == "snapshot"
    assert follower.seq == 3 and follower.document == series[2]
    assert follower.handle(d12) == "stale"
    # seq 4 -> 5 skipped: a gap, then a re-fetched snapshot and what followed it.
    d56 = _delta(series[4], series[5])
    assert follower.handle(d56) == "gap"
    assert follower.document is None
    follower.load(series[4])
    assert follower.seq == 6 and follower.document == series[5]
    assert follower.handle(d34) == "stale"
    assert follower.handle({"type": "reset", "expiry": "x", "seq": 6}) == "stale"
    assert follower.handle({"type": "reset", "expiry": "x", "seq": 9}) == "reset"
    with pytest.raises(messages.MessageError):
        follower.handle({"type": "market"})
