"""Store fixtures on top of tests/conftest.py: a migrated database, a hot store, tick data."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis

from strikeboard.store import ticks
from strikeboard.store.archive import Archive
from strikeboard.store.hot import HotStore
from strikeboard.store.migrate import migrate

BASE_US = 1_795_579_200_000_000  # 2026-11-25 09:30 IST


@pytest.fixture
def migrated_url(database_url: str) -> str:
    migrate(database_url)
    return database_url


@pytest.fixture
def archive(migrated_url: str) -> Iterator[Archive]:
    with Archive(migrated_url) as a:
        yield a


@pytest.fixture
def hot(redis_client: redis.Redis, redis_prefix: str) -> HotStore:
    return HotStore(redis_client, redis_prefix)


def _make_ticks(n: int, first_seq: int = 1, base_us: int = BASE_US) -> ticks.TickArray:
    """Ticks with distinct, checkable values derived from their ingest_seq."""
    t = ticks.empty(n)
    seq = np.arange(first_seq, first_seq + n, dtype=np.int64)
    t["ingest_seq"] = seq
    t["token"] = 10_000 + seq % 997
    t["exchange_ts"] = base_us + seq * 1000
    t["received_ts"] = base_us + seq * 1000 + 250
    t["last_price"] = 100.0 + seq * 0.05
    t["volume"] = seq * 10
    t["oi"] = seq * 3
    t["bid_price"] = (100.0 + seq * 0.05)[:, None] - np.arange(1, 6) * 0.05
    t["bid_qty"] = seq[:, None] + np.arange(5)
    t["ask_price"] = (100.0 + seq * 0.05)[:, None] + np.arange(1, 6) * 0.05
    t["ask_orders"] = 2
    return t


MakeTicks = Callable[..., ticks.TickArray]


@pytest.fixture
def make_ticks() -> MakeTicks:
    """``make_ticks(n, first_seq=1, base_us=BASE_US)``: see `_make_ticks`."""
    return _make_ticks
