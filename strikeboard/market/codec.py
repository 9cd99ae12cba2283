"""Vectorised decoder of Kite Ticker binary messages.

A message is a big-endian uint16 packet count, then per packet a uint16 length and the packet.
The packet kind is given by its length (see `strikeboard.market.layouts`). `decode` walks the
length prefixes (one NumPy view when every packet has the same length, the common full-mode
case), decodes each layout group with one structured view and returns a columnar `TickBatch`.
`TickBatch.to_dicts()` reproduces kiteconnect's `KiteTicker._parse_binary` output exactly, except
that timestamps are timezone-aware `Asia/Kolkata` datetimes instead of naive local time.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from strikeboard.market import layouts

IST: Final = ZoneInfo("Asia/Kolkata")

F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]
U8 = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]


class PacketKind(enum.IntEnum):
    """Packet layout of a row; the value is the packet length on the wire."""

    LTP = 8
    INDEX_QUOTE = 28
    INDEX_FULL = 32
    QUOTE = 44
    FULL = 184


MODE_LTP: Final = "ltp"
MODE_QUOTE: Final = "quote"
MODE_FULL: Final = "full"

_MODE_OF_KIND: Final = {
    PacketKind.LTP: MODE_LTP,
    PacketKind.INDEX_QUOTE: MODE_QUOTE,
    PacketKind.INDEX_FULL: MODE_FULL,
    PacketKind.QUOTE: MODE_QUOTE,
    PacketKind.FULL: MODE_FULL,
}

# Segment constants (`instrument_token & 0xff`) that change the price divisor, as in kiteconnect.
SEGMENT_CDS: Final = 3
SEGMENT_BCD: Final = 6
SEGMENT_NCO: Final = 12
SEGMENT_INDICES: Final = layouts.SEGMENT_INDICES

# Column layout of `TickBatch.values`. Columns 0..44 mirror the 32-bit words 1..45 of a FULL
# packet (everything after the token), so a uniform full-mode message converts in one cast.
COL_LAST_PRICE: Final = 0
COL_LAST_TRADED_QUANTITY: Final = 1
COL_AVERAGE_TRADED_PRICE: Final = 2
COL_VOLUME_TRADED: Final = 3
COL_TOTAL_BUY_QUANTITY: Final = 4
COL_TOTAL_SELL_QUANTITY: Final = 5
COL_OPEN: Final = 6
COL_HIGH: Final = 7
COL_LOW: Final = 8
COL_CLOSE: Final = 9
COL_LAST_TRADE_TIME: Final = 10
COL_OI: Final = 11
COL_OI_DAY_HIGH: Final = 12
COL_OI_DAY_LOW: Final = 13
COL_EXCHANGE_TIMESTAMP: Final = 14
COL_DEPTH: Final = 15
"""Depth starts here: 10 entries (5 buy then 5 sell) of (quantity, price, orders)."""
COL_CHANGE: Final = 45
N_COLUMNS: Final = 46

_DEPTH_QTY: Final = [COL_DEPTH + 3 * i for i in range(10)]
_DEPTH_PRICE: Final = [COL_DEPTH + 3 * i + 1 for i in range(10)]
_DEPTH_ORDERS: Final = [COL_DEPTH + 3 * i + 2 for i in range(10)]
_PRICE_COLS: Final = np.array(
    [
        COL_LAST_PRICE,
        COL_AVERAGE_TRADED_PRICE,
        COL_OPEN,
        COL_HIGH,
        COL_LOW,
        COL_CLOSE,
        *_DEPTH_PRICE,
    ]
)

_INDEX_COLUMNS: Final = [COL_LAST_PRICE, COL_HIGH, COL_LOW, COL_OPEN, COL_CLOSE]
"""Columns of an index packet's words 1..5 (last, high, low, open, close)."""
_DEPTH_ORDER_WORDS: Final = [c + 1 for c in _DEPTH_ORDERS]

_EMPTY_VALUES: Final = np.empty((0, N_COLUMNS), dtype=np.float64)


class CodecError(ValueError):
    """A binary message is truncated or malformed.

    `partial` holds every whole packet decoded before the damage (in wire order), so a caller
    can keep the good ticks and count the bad message. `offset` is the byte offset of the damage.
    """

    def __init__(self, message: str, partial: TickBatch, offset: int) -> None:
        super().__init__(message)
        self.partial = partial
        self.offset = offset


class TickBatch:
    """Columnar ticks of one or more messages, in wire order.

    `instrument_token` (uint32) and `kind` (uint8, a `PacketKind` value) are per row; `values`
    is a float64 matrix (rows x `N_COLUMNS`) holding every numeric field, NaN where the row's
    packet kind lacks the field. Prices are divided by the segment divisor; quantities,
    open interest and epoch-second timestamps are exact (uint32 fits in float64).
    """

    __slots__ = ("instrument_token", "kind", "values")

    def __init__(self, instrument_token: U32, kind: U8, values: F64) -> None:
        self.instrument_token = instrument_token
        self.kind = kind
        self.values = values

    @classmethod
    def empty(cls) -> TickBatch:
        """A batch with no rows."""
        return cls(np.empty(0, np.uint32), np.empty(0, np.uint8), _EMPTY_VALUES)

    def __len__(self) -> int:
        return int(self.instrument_token.shape[0])

    def __repr__(self) -> str:
        return f"TickBatch({len(self)} ticks)"

    @staticmethod
    def concat(batches: Iterable[TickBatch]) -> TickBatch:
        """Concatenate batches, keeping row order."""
        parts = [b for b in batches if len(b)]
        if not parts:
            return TickBatch.empty()
        if len(parts) == 1:
            return parts[0]
        return TickBatch(
            np.concatenate([b.instrument_token for b in parts]),
            np.concatenate([b.kind for b in parts]),
            np.concatenate([b.values for b in parts]),
        )

    def select(self, rows: BoolArray | npt.NDArray[np.intp]) -> TickBatch:
        """Rows chosen by a boolean mask or an index array (a copy)."""
        return TickBatch(self.instrument_token[rows], self.kind[rows], self.values[rows])

    # Column accessors are views into `values`.
    def column(self, col: int) -> F64:
        """One column of `values` (a view)."""
        return self.values[:, col]

    @property
    def segment(self) -> U32:
        """Exchange segment constant, `instrument_token & 0xff`."""
        return self.instrument_token & np.uint32(0xFF)

    @property
    def tradable(self) -> BoolArray:
        """False for indices, as kiteconnect reports."""
        return np.not_equal(self.segment, SEGMENT_INDICES)

    @property
    def is_full(self) -> BoolArray:
        """Rows from full-mode packets (FULL or INDEX_FULL)."""
        return np.isin(self.kind, (PacketKind.FULL, PacketKind.INDEX_FULL))

    @property
    def last_price(self) -> F64:
        return self.values[:, COL_LAST_PRICE]

    @property
    def last_traded_quantity(self) -> F64:
        return self.values[:, COL_LAST_TRADED_QUANTITY]

    @property
    def average_traded_price(self) -> F64:
        return self.values[:, COL_AVERAGE_TRADED_PRICE]

    @property
    def volume_traded(self) -> F64:
        return self.values[:, COL_VOLUME_TRADED]

    @property
    def total_buy_quantity(self) -> F64:
        return self.values[:, COL_TOTAL_BUY_QUANTITY]

    @property
    def total_sell_quantity(self) -> F64:
        return self.values[:, COL_TOTAL_SELL_QUANTITY]

    @property
    def open(self) -> F64:
        return self.values[:, COL_OPEN]

    @property
    def high(self) -> F64:
        return self.values[:, COL_HIGH]

    @property
    def low(self) -> F64:
        return self.values[:, COL_LOW]

    @property
    def close(self) -> F64:
        return self.values[:, COL_CLOSE]

    @property
    def change(self) -> F64:
        """Percent change from close; 0 when close is 0, NaN for LTP packets."""
        return self.values[:, COL_CHANGE]

    @property
    def last_trade_time(self) -> F64:
        """Epoch seconds."""
        return self.values[:, COL_LAST_TRADE_TIME]

    @property
    def oi(self) -> F64:
        return self.values[:, COL_OI]

    @property
    def oi_day_high(self) -> F64:
        return self.values[:, COL_OI_DAY_HIGH]

    @property
    def oi_day_low(self) -> F64:
        return self.values[:, COL_OI_DAY_LOW]

    @property
    def exchange_timestamp(self) -> F64:
        """Epoch seconds."""
        return self.values[:, COL_EXCHANGE_TIMESTAMP]

    @property
    def buy_quantity(self) -> F64:
        """Shape (n, 5), best level first."""
        return self.values[:, COL_DEPTH : COL_DEPTH + 15 : 3]

    @property
    def buy_price(self) -> F64:
        return self.values[:, COL_DEPTH + 1 : COL_DEPTH + 15 : 3]

    @property
    def buy_orders(self) -> F64:
        return self.values[:, COL_DEPTH + 2 : COL_DEPTH + 15 : 3]

    @property
    def sell_quantity(self) -> F64:
        return self.values[:, COL_DEPTH + 15 : COL_DEPTH + 30 : 3]

    @property
    def sell_price(self) -> F64:
        return self.values[:, COL_DEPTH + 16 : COL_DEPTH + 30 : 3]

    @property
    def sell_orders(self) -> F64:
        return self.values[:, COL_DEPTH + 17 : COL_DEPTH + 30 : 3]

    def to_dicts(self) -> list[dict[str, Any]]:
        """The ticks as kiteconnect's parser returns them (timestamps aware, Asia/Kolkata)."""
        tokens: list[int] = self.instrument_token.tolist()
        kinds: list[int] = self.kind.tolist()
        rows: list[list[float]] = self.values.tolist()
        tradable: list[bool] = self.tradable.tolist()
        out: list[dict[str, Any]] = []
        for token, kind, tr, v in zip(tokens, kinds, tradable, rows, strict=True):
            d: dict[str, Any] = {
                "tradable": tr,
                "mode": _MODE_OF_KIND[PacketKind(kind)],
                "instrument_token": token,
                "last_price": v[COL_LAST_PRICE],
            }
            if kind == PacketKind.LTP:
                out.append(d)
                continue
            close = v[COL_CLOSE]
            if kind in (PacketKind.INDEX_QUOTE, PacketKind.INDEX_FULL):
                d["ohlc"] = {
                    "high": v[COL_HIGH],
                    "low": v[COL_LOW],
                    "open": v[COL_OPEN],
                    "close": close,
                }
                d["change"] = v[COL_CHANGE] if close != 0 else 0
                if kind == PacketKind.INDEX_FULL:
                    d["exchange_timestamp"] = _timestamp(v[COL_EXCHANGE_TIMESTAMP])
                out.append(d)
                continue
            d["last_traded_quantity"] = int(v[COL_LAST_TRADED_QUANTITY])
            d["average_traded_price"] = v[COL_AVERAGE_TRADED_PRICE]
            d["volume_traded"] = int(v[COL_VOLUME_TRADED])
            d["total_buy_quantity"] = int(v[COL_TOTAL_BUY_QUANTITY])
            d["total_sell_quantity"] = int(v[COL_TOTAL_SELL_QUANTITY])
            d["ohlc"] = {
                "open": v[COL_OPEN],
                "high": v[COL_HIGH],
                "low": v[COL_LOW],
                "close": close,
            }
            d["change"] = v[COL_CHANGE] if close != 0 else 0
            if kind == PacketKind.FULL:
                d["last_trade_time"] = _timestamp(v[COL_LAST_TRADE_TIME])
                d["oi"] = int(v[COL_OI])
                d["oi_day_high"] = int(v[COL_OI_DAY_HIGH])
                d["oi_day_low"] = int(v[COL_OI_DAY_LOW])
                d["exchange_timestamp"] = _timestamp(v[COL_EXCHANGE_TIMESTAMP])
                entries = [
                    {
                        "quantity": int(v[q]),
                        "price": v[q + 1],
                        "orders": int(v[q + 2]),
                    }
                    for q in _DEPTH_QTY
                ]
                d["depth"] = {"buy": entries[:5], "sell": entries[5:]}
            out.append(d)
        return out


def _timestamp(seconds: float) -> datetime | None:
    # kiteconnect maps a timestamp that datetime cannot represent to None; so do we.
    try:
        return datetime.fromtimestamp(int(seconds), IST)
    except (OverflowError, OSError, ValueError):
        return None


def _divisor_table() -> F64:
    table = np.full(256, layouts.PRICE_DIVISOR)
    table[SEGMENT_CDS] = 10_000_000.0
    table[[SEGMENT_BCD, SEGMENT_NCO]] = 10_000.0
    return table


_DIVISOR_BY_SEGMENT: Final = _divisor_table()
"""Price divisor indexed by `instrument_token & 0xff`, as kiteconnect chooses it."""

_MIN_RUN: Final = 4
"""Runs of at least this many same-length packets are decoded as one strided view; shorter
ones are gathered per layout (a view costs a few fixed NumPy calls)."""


def _finish(tokens: U32, kind: U8, values: F64) -> TickBatch:
    """Apply price divisors and compute `change` exactly as kiteconnect does."""
    div = _DIVISOR_BY_SEGMENT.take(tokens & np.uint32(0xFF))
    values[:, _PRICE_COLS] /= div[:, None]
    close = values[:, COL_CLOSE]
    change = values[:, COL_CHANGE]
    # Same operation order as kiteconnect, so the floats are bit-identical; 0 when close is 0
    # (multiplying by the mask keeps NaN for packets without a close).
    np.subtract(values[:, COL_LAST_PRICE], close, out=change)
    change *= 100
    nonzero = close != 0
    np.divide(change, close, out=change, where=nonzero)
    change *= nonzero
    return TickBatch(tokens, kind, values)


def _decode_group(
    buf: bytes,
    length: int,
    offsets: npt.NDArray[np.intp] | None,
    *,
    start: int,
    stride: int,
    out: F64,
) -> U32:
    """Decode len(out) packets of one layout into `out` (NaN-filled unless FULL); return tokens.

    With `offsets` None the packets are a strided view at `start` (no copy), else they are
    gathered from the given byte offsets.
    """
    n = out.shape[0]
    if offsets is None:
        w = np.ndarray((n, length // 4), dtype=">u4", buffer=buf, offset=start, strides=(stride, 4))
    else:
        raw = np.frombuffer(buf, dtype=np.uint8)
        w = raw[offsets[:, None] + np.arange(length)].view(">u4")
        start, stride = 0, length
        buf = w.tobytes()
    tokens = w[:, 0].astype(np.uint32)
    if length == PacketKind.FULL:
        out[:, : N_COLUMNS - 1] = w[:, 1:]
        # The third word of a depth entry is (orders << 16 | padding): read the orders as uint16.
        orders = np.ndarray(
            (n, 2 * layouts.DEPTH_LEVELS),
            dtype=">u2",
            buffer=buf,
            offset=start + 4 * (COL_DEPTH + 3),
            strides=(stride, 12),
        )
        out[:, COL_DEPTH + 2 : COL_DEPTH + 30 : 3] = orders
    elif length == PacketKind.QUOTE:
        out[:, : COL_CLOSE + 1] = w[:, 1:]
    elif length == PacketKind.LTP:
        out[:, COL_LAST_PRICE] = w[:, 1]
    else:  # INDEX_QUOTE / INDEX_FULL: last, high, low, open, close, price_change[, timestamp]
        out[:, _INDEX_COLUMNS] = w[:, 1:6]
        if length == PacketKind.INDEX_FULL:
            out[:, COL_EXCHANGE_TIMESTAMP] = w[:, 7]
    return tokens


def _walk(buf: bytes, count: int) -> tuple[list[tuple[int, int, int]], int | None]:
    """Split a message into runs of same-length whole packets, and find any damage.

    Returns [(offset of the first packet body, packet length, packets in run)] in wire order,
    and the byte offset where a length prefix or packet runs past the end (None if none).
    Runs are found with one NumPy comparison over the length prefixes, so a long run costs
    the same as one packet; isolated packets are walked in plain Python.
    """
    size = len(buf)
    runs: list[tuple[int, int, int]] = []
    j, remaining = 2, count
    while remaining:
        if j + 2 > size:
            return runs, j
        length = (buf[j] << 8) | buf[j + 1]
        end = j + 2 + length
        if end > size:
            return runs, j
        k = 1
        if remaining > 1 and end + 2 <= size and ((buf[end] << 8) | buf[end + 1]) == length:
            # Only as many records as fit whole: a cut last one is found on the next turn.
            most = min(remaining, (size - j) // (length + 2))
            prefixes = np.ndarray((most,), dtype=">u2", buffer=buf, offset=j, strides=(length + 2,))
            other = np.flatnonzero(prefixes != length)
            k = int(other[0]) if other.size else most
        runs.append((j + 2, length, k))
        j += k * (length + 2)
        remaining -= k
    return runs, None


def _uniform(buf: bytes, count: int) -> int | None:
    """The common packet length when all `count` packets share one known length, else None."""
    size = len(buf)
    if size < 4:
        return None
    length = (buf[2] << 8) | buf[3]
    if length not in layouts.PACKET_DTYPES or 2 + count * (length + 2) > size:
        return None
    prefixes = np.ndarray((count,), dtype=">u2", buffer=buf, offset=2, strides=(length + 2,))
    if bool((prefixes == length).all()):
        return length
    return None


def decode(payload: bytes | bytearray | memoryview) -> TickBatch:
    """Decode one Kite Ticker binary message into a `TickBatch`.

    A heartbeat (fewer than 2 bytes) or a zero count gives an empty batch. Packets of an unknown
    length (including ones too short to hold a token, on which kiteconnect itself crashes) are
    skipped, and bytes after the last counted packet are ignored, as kiteconnect does.

    Raises `CodecError` (and nothing else) when a length prefix or a packet runs past the end
    of the payload; `err.partial` then holds every whole packet before the damage, decoded, so
    no good tick is lost.
    """
    buf = bytes(payload)
    if len(buf) < 2:
        return TickBatch.empty()
    count = (buf[0] << 8) | buf[1]
    if count == 0:
        return TickBatch.empty()
    length = _uniform(buf, count)
    if length is not None:  # the common case: one full-mode layout for the whole message
        values = np.empty((count, N_COLUMNS), dtype=np.float64)
        if length != PacketKind.FULL:
            values.fill(np.nan)
        tokens = _decode_group(buf, length, None, start=4, stride=length + 2, out=values)
        return _finish(tokens, np.full(count, length, dtype=np.uint8), values)
    runs, damage = _walk(buf, count)
    batch = _decode_runs(buf, runs)
    if damage is not None:
        whole = sum(k for _, _, k in runs)
        raise CodecError(
            f"ticker message truncated at byte {damage} of {len(buf)} "
            f"({whole} of {count} packets whole)",
            batch,
            damage,
        )
    return batch


def _decode_runs(buf: bytes, runs: Sequence[tuple[int, int, int]]) -> TickBatch:
    """Decode runs of packets of mixed layouts into one batch in wire order."""
    known = [r for r in runs if r[1] in layouts.PACKET_DTYPES]
    n = sum(k for _, _, k in known)
    if n == 0:
        return TickBatch.empty()
    values = np.full((n, N_COLUMNS), np.nan)
    tokens = np.empty(n, dtype=np.uint32)
    kind = np.empty(n, dtype=np.uint8)
    # Short runs are gathered per layout: (row, byte offset) lists by packet length.
    scattered: dict[int, tuple[list[int], list[int]]] = {}
    row = 0
    for offset, length, k in known:
        kind[row : row + k] = length
        if k >= _MIN_RUN:
            tokens[row : row + k] = _decode_group(
                buf, length, None, start=offset, stride=length + 2, out=values[row : row + k]
            )
        else:
            rows, offsets = scattered.setdefault(length, ([], []))
            for i in range(k):
                rows.append(row + i)
                offsets.append(offset + i * (length + 2))
        row += k
    for length, (rows, offsets) in scattered.items():
        idx = np.asarray(rows, dtype=np.intp)
        out = np.full((idx.shape[0], N_COLUMNS), np.nan)
        offs = np.asarray(offsets, dtype=np.intp)
        tokens[idx] = _decode_group(buf, length, offs, start=0, stride=0, out=out)
        values[idx] = out
    return _finish(tokens, kind, values)
