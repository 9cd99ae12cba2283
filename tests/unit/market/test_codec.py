"""Unit tests of the codec's own API (exact kiteconnect parity is tests/contract/)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pytest

from strikeboard.market import codec, layouts
from strikeboard.market.calendar import IST
from strikeboard.market.codec import CodecError, PacketKind, TickBatch, decode


def _ltp(token: int, paise: int) -> bytes:
    return struct.pack(">HII", 8, token, paise)


def _message(*packets: bytes, count: int | None = None) -> bytes:
    return struct.pack(">H", len(packets) if count is None else count) + b"".join(packets)


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\x00\x00", b"\x00\x00garbage"])
def test_heartbeat_and_empty_messages_decode_to_empty_batch(payload: bytes) -> None:
    batch = decode(payload)
    assert len(batch) == 0
    assert batch.values.shape == (0, codec.N_COLUMNS)
    assert batch.to_dicts() == []


def test_accepts_bytearray_and_memoryview() -> None:
    msg = _message(_ltp(258, 2_600_005))
    for payload in (bytearray(msg), memoryview(msg)):
        batch = decode(payload)
        assert batch.instrument_token.tolist() == [258]
        assert batch.last_price.tolist() == [26000.05]


def test_full_mode_columns_and_absent_fields(make_full: Callable[..., bytes]) -> None:
    msg = make_full([256265, 512 + 2], [26000.5, 120.05], timestamps=[1_764_043_200, 1_764_043_201])
    batch = decode(msg)
    assert batch.kind.tolist() == [PacketKind.INDEX_FULL, PacketKind.FULL]
    assert batch.tradable.tolist() == [False, True]
    assert batch.exchange_timestamp.tolist() == [1_764_043_200, 1_764_043_201]
    assert batch.buy_price.shape == (2, 5) and batch.sell_orders.shape == (2, 5)
    assert batch.buy_price[1, 0] == 120.0 and batch.sell_price[1, 0] == 120.1
    # An index packet has no depth, volume or OI: NaN, not 0.
    assert np.isnan(batch.buy_price[0]).all()
    assert np.isnan(batch.volume_traded[0]) and np.isnan(batch.oi[0])
    assert batch.is_full.all()


def test_price_divisor_follows_segment() -> None:
    cds, nco, nfo = (7 << 8) | 3, (7 << 8) | 12, (7 << 8) | 2
    batch = decode(_message(_ltp(cds, 830_000_000), _ltp(nco, 123_450), _ltp(nfo, 12_345)))
    assert batch.last_price.tolist() == [83.0, 12.345, 123.45]
    # LTP packets carry no close, so change is absent.
    assert np.isnan(batch.change).all()


def test_timestamps_are_aware_kolkata() -> None:
    pkt = np.zeros(1, dtype=layouts.INDEX_FULL)
    pkt["instrument_token"] = 256265
    pkt["exchange_timestamp"] = 1_764_043_200  # 2025-11-25 04:00 UTC
    (tick,) = decode(layouts.frame(pkt)).to_dicts()
    assert tick["exchange_timestamp"] == datetime.fromisoformat("2025-11-25T09:30:00+05:30")
    assert tick["exchange_timestamp"].tzinfo == IST
    assert tick["change"] == 0 and type(tick["change"]) is int  # close 0, as kiteconnect


def test_unknown_lengths_are_skipped_in_order() -> None:
    odd = struct.pack(">H", 3) + b"xyz"
    batch = decode(_message(_ltp(258, 100), odd, _ltp(514, 200)))
    assert batch.instrument_token.tolist() == [258, 514]


def test_long_runs_and_singles_keep_wire_order() -> None:
    runs = [_ltp(256 * i + 1, i) for i in range(6)]
    quote = struct.pack(">H", 44) + struct.pack(">11I", 256 * 99 + 1, *range(1, 11))
    msg = _message(*runs, quote, *runs[:2], quote)
    batch = decode(msg)
    assert batch.instrument_token.tolist() == [
        *(256 * i + 1 for i in range(6)),
        256 * 99 + 1,
        1,
        257,
        256 * 99 + 1,
    ]
    assert batch.kind.tolist() == [8] * 6 + [44] + [8] * 2 + [44]


def test_truncation_raises_codec_error_with_whole_packets() -> None:
    msg = _message(_ltp(258, 100), _ltp(514, 200), _ltp(770, 300))
    with pytest.raises(CodecError) as info:
        decode(msg[:-3])
    err = info.value
    assert isinstance(err, ValueError)
    assert err.partial.instrument_token.tolist() == [258, 514]
    assert err.offset == 2 + 2 * 10
    # A count larger than the packets present is damage too.
    with pytest.raises(CodecError) as info:
        decode(_message(_ltp(258, 100), count=2))
    assert len(info.value.partial) == 1


def test_random_garbage_only_ever_raises_codec_error() -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        payload = rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        try:
            decode(payload)
        except CodecError as err:
            assert isinstance(err.partial, TickBatch)


def test_concat_and_select() -> None:
    a = decode(_message(_ltp(258, 100), _ltp(514, 200)))
    b = decode(_message(_ltp(770, 300)))
    both = TickBatch.concat([a, TickBatch.empty(), b])
    assert len(both) == 3
    assert both.instrument_token.tolist() == [258, 514, 770]
    assert both.select(both.last_price > 1.5).instrument_token.tolist() == [514, 770]
    assert both.select(np.array([2, 0])).last_price.tolist() == [3.0, 1.0]
    assert len(TickBatch.concat([])) == 0
