"""Contract: `codec.decode(p).to_dicts()` equals kiteconnect's own `KiteTicker._parse_binary(p)`.

Messages are generated with hypothesis: random mixes of all five layouts and unknown lengths,
fields over the whole uint32 range, random token segments, random counts, truncations and
garbage. kiteconnect returns naive local datetimes; the test pins TZ for the process (restored
afterwards) and makes them aware in that zone before comparing with our Asia/Kolkata ones.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiteconnect import KiteTicker

from strikeboard.market import codec, layouts
from strikeboard.market.calendar import IST

TICKER = KiteTicker("k", "t")  # never connected: only its parser is used

KNOWN = sorted(layouts.PACKET_DTYPES)
SEGMENTS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]

words = st.one_of(
    st.just(0),
    st.integers(0, 2**32 - 1),
    st.integers(0, 10_000_000),
    st.integers(2**31, 2**32 - 1),  # huge values and far-future timestamps
)
tokens = st.builds(
    lambda high, seg: (high << 8) | seg,
    st.integers(0, 2**24 - 1),
    st.one_of(st.sampled_from(SEGMENTS), st.integers(0, 255)),
)


@st.composite
def known_packet(draw: st.DrawFn, length: int | None = None) -> bytes:
    if length is None:
        length = draw(st.sampled_from(KNOWN))
    body = draw(st.lists(words, min_size=length // 4 - 1, max_size=length // 4 - 1))
    return struct.pack(f">I{len(body)}I", draw(tokens), *body)


@st.composite
def run_of_packets(draw: st.DrawFn) -> list[bytes]:
    """Several packets of one layout in a row (the codec decodes long runs as one view)."""
    length = draw(st.sampled_from(KNOWN))
    return draw(st.lists(known_packet(length), min_size=2, max_size=8))


packets = st.one_of(
    known_packet().map(lambda p: [p]),
    st.binary(max_size=64).map(lambda p: [p]),
    run_of_packets(),
)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    body = [p for block in draw(st.lists(packets, max_size=6)) for p in block]
    count = len(body) + draw(st.sampled_from([0, 0, 0, -1, 1, 3]))
    msg = struct.pack(">H", max(count, 0) & 0xFFFF) + b"".join(
        struct.pack(">H", len(p)) + p for p in body
    )
    mangle = draw(st.sampled_from(["none", "none", "truncate", "append", "garbage"]))
    if mangle == "truncate":
        msg = msg[: draw(st.integers(0, len(msg)))]
    elif mangle == "append":
        msg += draw(st.binary(max_size=20))
    elif mangle == "garbage":
        msg = draw(st.binary(max_size=400))
    return msg


def whole_packets(msg: bytes) -> tuple[bytes, bool, bool]:
    """The message cut to its whole packets, minus packets shorter than a token.

    Independent of the codec's own walker. Also says whether the message was damaged (a
    length prefix or packet cut short) and whether it held a packet under 4 bytes, on which
    kiteconnect crashes (it unpacks the token before looking at the length) while the codec
    skips it like any other unknown length.
    """
    count = struct.unpack_from(">H", msg)[0]
    j, kept, short, damaged = 2, [], False, False
    for _ in range(count):
        if j + 2 > len(msg):
            damaged = True
            break
        (length,) = struct.unpack_from(">H", msg, j)
        if j + 2 + length > len(msg):
            damaged = True
            break
        if length < 4:
            short = True
        else:
            kept.append(msg[j : j + 2 + length])
        j += 2 + length
    return struct.pack(">H", len(kept)) + b"".join(kept), damaged, short


@pytest.fixture(scope="module", params=["Asia/Kolkata", "America/New_York"])
def local_zone(request: pytest.FixtureRequest) -> Iterator[ZoneInfo]:
    """Run kiteconnect's naive `fromtimestamp` in a known zone (one without and one with DST)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield ZoneInfo(request.param)
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def aware(ticks: list[dict[str, Any]], zone: ZoneInfo) -> list[dict[str, Any]]:
    """kiteconnect's ticks with naive datetimes made aware in the zone they were made in."""

    def fix(value: Any) -> Any:
        if isinstance(value, datetime):
            # fromtimestamp sets `fold` on repeated wall times, which ZoneInfo honours.
            return value.replace(tzinfo=zone)
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return [fix(t) for t in ticks]


def assert_same(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert ours == theirs
    # Same key order and value types too (bool/int/float/None/datetime), not just equality.
    for a, b in zip(ours, theirs, strict=True):
        assert list(a) == list(b)
        for key in a:
            assert type(a[key]) is type(b[key]), key
            if isinstance(a[key], datetime):
                assert a[key].tzinfo == IST


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(msg=messages())
def test_decode_matches_kiteconnect(msg: bytes, local_zone: ZoneInfo) -> None:
    try:
        expected: list[dict[str, Any]] | None = aware(TICKER._parse_binary(msg), local_zone)
    except struct.error:
        expected = None  # kiteconnect crashes on a cut length prefix or a packet under 4 bytes
    try:
        ours = codec.decode(msg).to_dicts()
    except codec.CodecError as err:
        whole, damaged, _ = whole_packets(msg)
        assert damaged
        assert_same(err.partial.to_dicts(), aware(TICKER._parse_binary(whole), local_zone))
        return
    if expected is None:
        whole, damaged, short = whole_packets(msg)
        assert short and not damaged, "kiteconnect rejected a message the codec accepted"
        expected = aware(TICKER._parse_binary(whole), local_zone)
    assert_same(ours, expected)


def test_full_mode_message_of_simulator_layouts(local_zone: ZoneInfo) -> None:
    """A realistic 500-packet full-mode message, framed with the simulator's encoder."""
    rng = np.random.default_rng(7)
    full = np.zeros(500, dtype=layouts.FULL)
    for name in layouts.QUOTE.names:
        full[name] = rng.integers(0, 2**32, 500, dtype=np.uint64)
    full["instrument_token"] = (rng.integers(0, 2**24, 500) << 8) | 2
    full["exchange_timestamp"] = 1_764_000_000 + np.arange(500)
    full["depth"]["quantity"] = rng.integers(0, 10_000, (500, 10))
    full["depth"]["price"] = rng.integers(1, 2_000_000, (500, 10))
    full["depth"]["orders"] = rng.integers(0, 2**16, (500, 10))
    full["depth"]["_pad"] = rng.integers(0, 2**16, (500, 10))
    msg = layouts.frame(full)
    assert_same(codec.decode(msg).to_dicts(), aware(TICKER._parse_binary(msg), local_zone))
