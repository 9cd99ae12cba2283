from __future__ import annotations

import numpy as np
import pytest

from strikeboard.store import ticks
from strikeboard.store.archive import copy_payload, effective_exchange_ts

DAY_US = 86_400_000_000


def test_round_trip_bytes() -> None:
    t = ticks.empty(3)
    t["token"] = [1, 2, 3]
    t["bid_price"][1] = [1.0, 2.0, 3.0, 4.0, 5.0]
    back = ticks.from_bytes(ticks.to_bytes(t))
    assert np.array_equal(back, t)
    with pytest.raises(ValueError, match="multiple"):
        ticks.from_bytes(b"\x00" * (ticks.TICK_DTYPE.itemsize + 1))
    with pytest.raises(ValueError):
        ticks.to_bytes(np.zeros(3))  # type: ignore[arg-type]


def test_missing_or_absurd_exchange_ts_falls_back_to_received() -> None:
    t = ticks.empty(4)
    t["received_ts"] = 1_764_000_000_000_000
    t["exchange_ts"] = [0, 1_764_000_000_000_000 - 5, 1_764_000_000_000_000 + 3 * DAY_US,
                        1_764_000_000_000_000 - 400 * DAY_US]  # fmt: skip
    assert effective_exchange_ts(t).tolist() == [
        1_764_000_000_000_000,
        1_764_000_000_000_000 - 5,
        1_764_000_000_000_000,
        # A simulated or replayed day, received days later (today): its own date is kept.
        1_764_000_000_000_000 - 400 * DAY_US,
    ]


def test_copy_payload_shape() -> None:
    t = ticks.empty(4)
    payload = copy_payload(t)
    assert payload.startswith(b"PGCOPY\n\xff\r\n\x00")
    assert payload.endswith(b"\xff\xff")
    # 19-byte header, 2-byte trailer, equal-size rows.
    assert (len(payload) - 19 - 2) % 4 == 0
