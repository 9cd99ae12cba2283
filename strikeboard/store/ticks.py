"""The tick record: one NumPy structured dtype shared by the spool, the archive and Redis.

The feed fills these columns from its decoded batches (the codec's columns map one to one);
the store never imports the codec. Timestamps are int64 microseconds since the Unix epoch
(UTC); prices are rupees (float64). ``ingest_seq`` is the tick's identity: a number the feed
assigns, strictly increasing over its life (e.g. seeded from ``Archive.max_ingest_seq()`` at
start), so that replaying a spooled batch after a crash writes nothing twice.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

DEPTH: Final = 5

TICK_DTYPE: Final = np.dtype(
    [
        ("ingest_seq", "<i8"),
        ("token", "<i8"),
        ("exchange_ts", "<i8"),
        ("received_ts", "<i8"),
        ("last_price", "<f8"),
        ("last_qty", "<i8"),
        ("avg_price", "<f8"),
        ("volume", "<i8"),
        ("buy_qty", "<i8"),
        ("sell_qty", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("oi", "<i8"),
        ("oi_day_high", "<i8"),
        ("oi_day_low", "<i8"),
        ("bid_price", "<f8", (DEPTH,)),
        ("bid_qty", "<i8", (DEPTH,)),
        ("bid_orders", "<i4", (DEPTH,)),
        ("ask_price", "<f8", (DEPTH,)),
        ("ask_qty", "<i8", (DEPTH,)),
        ("ask_orders", "<i4", (DEPTH,)),
    ]
)
"""One tick. Depth level 0 is the best bid/ask; absent levels are 0."""

TickArray = npt.NDArray[np.void]


def empty(n: int) -> TickArray:
    """A zero-filled tick array of ``n`` rows."""
    return np.zeros(n, dtype=TICK_DTYPE)


def to_bytes(ticks: TickArray) -> bytes:
    """The raw little-endian bytes of a tick array (the spool record payload)."""
    if ticks.dtype != TICK_DTYPE:
        raise ValueError(f"expected TICK_DTYPE, got {ticks.dtype}")
    return np.ascontiguousarray(ticks).tobytes()


def from_bytes(payload: bytes | memoryview) -> TickArray:
    """A tick array from `to_bytes` output; ValueError when the size is not whole ticks."""
    if len(payload) % TICK_DTYPE.itemsize:
        raise ValueError(
            f"tick payload of {len(payload)} bytes is not a multiple of {TICK_DTYPE.itemsize}"
        )
    return np.frombuffer(payload, dtype=TICK_DTYPE)
