"""Kite Ticker binary packet layouts, the single source of truth for encoder and decoder.

A binary message is: uint16 packet count, then for each packet a uint16 length and the
packet bytes. Every field is big-endian. The packet kind is given by its length alone, as in
kiteconnect's own parser. Prices are integers in paise (divisor 100 for NSE/NFO/BSE/BFO/indices).
"""

from __future__ import annotations

from typing import Final

import numpy as np

PRICE_DIVISOR: Final = 100.0
"""Prices on the wire are integer paise for NSE, NFO and the indices."""

SEGMENT_NSE: Final = 1
SEGMENT_NFO: Final = 2
SEGMENT_BSE: Final = 4
SEGMENT_BFO: Final = 5
"""Kite's exchange segments in `instrument_token & 0xff` (kiteconnect's `EXCHANGE_MAP`):
prices of all of these are paise (divisor 100), as for NFO."""
SEGMENT_INDICES: Final = 9
"""`instrument_token & 0xff` of an index, NSE's or BSE's (not tradable)."""

_U4 = ">u4"

LTP: Final = np.dtype([("instrument_token", _U4), ("last_price", _U4)])

INDEX_QUOTE: Final = np.dtype(
    [
        ("instrument_token", _U4),
        ("last_price", _U4),
        ("high", _U4),
        ("low", _U4),
        ("open", _U4),
        ("close", _U4),
        ("price_change", _U4),
    ]
)

INDEX_FULL: Final = np.dtype([*INDEX_QUOTE.descr, ("exchange_timestamp", _U4)])

QUOTE: Final = np.dtype(
    [
        ("instrument_token", _U4),
        ("last_price", _U4),
        ("last_traded_quantity", _U4),
        ("average_traded_price", _U4),
        ("volume_traded", _U4),
        ("total_buy_quantity", _U4),
        ("total_sell_quantity", _U4),
        ("open", _U4),
        ("high", _U4),
        ("low", _U4),
        ("close", _U4),
    ]
)

DEPTH_LEVELS: Final = 5
"""Five buy levels then five sell levels in full mode."""

DEPTH_ENTRY: Final = np.dtype(
    [("quantity", _U4), ("price", _U4), ("orders", ">u2"), ("_pad", ">u2")]
)

FULL: Final = np.dtype(
    [
        *QUOTE.descr,
        ("last_trade_time", _U4),
        ("oi", _U4),
        ("oi_day_high", _U4),
        ("oi_day_low", _U4),
        ("exchange_timestamp", _U4),
        ("depth", DEPTH_ENTRY, (2 * DEPTH_LEVELS,)),
    ]
)

PACKET_DTYPES: Final = {
    LTP.itemsize: LTP,
    INDEX_QUOTE.itemsize: INDEX_QUOTE,
    INDEX_FULL.itemsize: INDEX_FULL,
    QUOTE.itemsize: QUOTE,
    FULL.itemsize: FULL,
}
"""Packet length -> layout. Lengths are 8, 28, 32, 44 and 184, as Kite documents."""

assert sorted(PACKET_DTYPES) == [8, 28, 32, 44, 184]


def frame(packets: np.ndarray) -> bytes:
    """Serialise one structured array of same-layout packets as one binary ticker message.

    Kite sends many packets per message; mixed layouts go through `frame_many`.
    """
    return frame_many([packets])


def frame_many(groups: list[np.ndarray]) -> bytes:
    """Serialise several structured arrays (each one layout) as one binary ticker message."""
    count = sum(len(g) for g in groups)
    if count > 0xFFFF:
        raise ValueError(f"a ticker message holds at most 65535 packets, got {count}")
    parts: list[bytes] = [count.to_bytes(2, "big")]
    for group in groups:
        if len(group) == 0:
            continue
        size = group.dtype.itemsize
        # One record per row: a big-endian uint16 length prefix followed by the packet bytes.
        rows = np.empty((len(group), 2 + size), dtype=np.uint8)
        rows[:, 0] = size >> 8
        rows[:, 1] = size & 0xFF
        rows[:, 2:] = np.ascontiguousarray(group).view(np.uint8).reshape(len(group), size)
        parts.append(rows.tobytes())
    return b"".join(parts)
