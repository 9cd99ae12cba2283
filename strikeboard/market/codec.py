"""Vectorised decoder of Kite Ticker binary messages.

A message is a big-endian uint16 packet count, then per packet a uint16 length and the packet.
The packet kind is given by its length (see `strikeboard.market.layouts`). `decode` walks the
length prefixes and decodes every packet in one compiled pass (numba) into a columnar
`TickBatch`.
`TickBatch.to_dicts()` reproduces kiteconnect's `KiteTicker._parse_binary` output exactly, except
that timestamps are timezone-aware `Asia/Kolkata` datetimes instead of naive local time.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import numba
import numpy as np
import numpy.typing as npt

from strikeboard.market import layouts
from strikeboard.market.calendar import IST

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
# packet (everything after the token), so the decoder copies a full packet word for word.
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


# -- the decoder: one compiled pass over a message -------------------------------------------
# NumPy's fixed cost per call (some 20 calls per message) dominated small messages; this pass
# costs a couple of microseconds per message whatever its size, and does kiteconnect's
# arithmetic operation for operation, so the floats are bit-identical.


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _word(buf: Any, at: int) -> float:
    return float(
        (np.uint32(buf[at]) << 24) | (np.uint32(buf[at + 1]) << 16)
        | (np.uint32(buf[at + 2]) << 8) | np.uint32(buf[at + 3])
    )  # fmt: skip


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _decode_into(
    buf: Any, count: int, divisors: Any, values: Any, tokens: Any, kind: Any
) -> tuple[int, int]:
    """Decode up to `count` packets into the first rows of `values`/`tokens`/`kind`.

    Returns (rows written, byte offset of the damage or -1). Unknown lengths are skipped.
    """
    size = buf.shape[0]
    nan = np.nan
    j = 2
    row = 0
    for _ in range(count):
        if j + 2 > size:
            return row, j
        length = (int(buf[j]) << 8) | int(buf[j + 1])
        p = j + 2
        if p + length > size:
            return row, j
        j = p + length
        if length not in (8, 28, 32, 44, 184):
            continue
        token = (
            (np.uint32(buf[p]) << 24) | (np.uint32(buf[p + 1]) << 16)
            | (np.uint32(buf[p + 2]) << 8) | np.uint32(buf[p + 3])
        )  # fmt: skip
        tokens[row] = token
        kind[row] = length
        v = values[row]
        if length == 184:
            for c in range(45):
                v[c] = _word(buf, p + 4 + 4 * c)
            for e in range(10):  # the third word of a depth entry is orders << 16 | padding
                v[COL_DEPTH + 3 * e + 2] = float(
                    (int(buf[p + 72 + 12 * e]) << 8) | int(buf[p + 73 + 12 * e])
                )
        else:
            for c in range(46):
                v[c] = nan
            if length == 44:
                for c in range(10):
                    v[c] = _word(buf, p + 4 + 4 * c)
            elif length == 8:
                v[COL_LAST_PRICE] = _word(buf, p + 4)
            else:  # index: last, high, low, open, close, price change[, timestamp]
                v[COL_LAST_PRICE] = _word(buf, p + 4)
                v[COL_HIGH] = _word(buf, p + 8)
                v[COL_LOW] = _word(buf, p + 12)
                v[COL_OPEN] = _word(buf, p + 16)
                v[COL_CLOSE] = _word(buf, p + 20)
                if length == 32:
                    v[COL_EXCHANGE_TIMESTAMP] = _word(buf, p + 28)
        div = divisors[token & 0xFF]
        for c in (COL_LAST_PRICE, COL_AVERAGE_TRADED_PRICE, COL_OPEN, COL_HIGH, COL_LOW, COL_CLOSE):
            v[c] = v[c] / div
        for e in range(10):
            v[COL_DEPTH + 3 * e + 1] = v[COL_DEPTH + 3 * e + 1] / div
        close = v[COL_CLOSE]
        if np.isnan(close):
            v[COL_CHANGE] = nan
        elif close != 0:
            v[COL_CHANGE] = (v[COL_LAST_PRICE] - close) * 100 / close
        else:
            v[COL_CHANGE] = 0.0
        row += 1
    return row, -1


def decode(payload: bytes | bytearray | memoryview) -> TickBatch:
    """Decode one Kite Ticker binary message into a `TickBatch`.

    A heartbeat (fewer than 2 bytes) or a zero count gives an empty batch. Packets of an unknown
    length (including ones too short to hold a token, on which kiteconnect itself crashes) are
    skipped, and bytes after the last counted packet are ignored, as kiteconnect does.

    Raises `CodecError` (and nothing else) when a length prefix or a packet runs past the end
    of the payload; `err.partial` then holds every whole packet before the damage, decoded, so
    no good tick is lost.
    """
    buf = np.frombuffer(payload, dtype=np.uint8)
    if buf.shape[0] < 2:
        return TickBatch.empty()
    count = (int(buf[0]) << 8) | int(buf[1])
    if count == 0:
        return TickBatch.empty()
    values = np.empty((count, N_COLUMNS), dtype=np.float64)
    tokens = np.empty(count, dtype=np.uint32)
    kind = np.empty(count, dtype=np.uint8)
    rows, damage = _decode_into(buf, count, _DIVISOR_BY_SEGMENT, values, tokens, kind)
    batch = TickBatch(tokens[:rows], kind[:rows], values[:rows])
    if damage >= 0:
        raise CodecError(
            f"ticker message truncated at byte {damage} of {buf.shape[0]} "
            f"({rows} of {count} packets decoded whole)",
            batch,
            damage,
        )
    return batch
