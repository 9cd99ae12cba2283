"""Storage: Redis hot store, PostgreSQL archive with migrations, and a durable spool.

See docs/storage.md for every key and table, their bounds and retention.
"""

from strikeboard.store.archive import Archive
from strikeboard.store.archiver import Archiver, encode_minute, encode_ticks
from strikeboard.store.errors import (
    ArchiveUnavailableError,
    HotStoreError,
    HotStoreUnavailableError,
    SpoolError,
    StoreError,
)
from strikeboard.store.hot import HotState, HotStore
from strikeboard.store.keys import Keys
from strikeboard.store.migrate import migrate
from strikeboard.store.snapshot import SnapshotError, apply_delta, diff_snapshot
from strikeboard.store.spool import Spool
from strikeboard.store.ticks import TICK_DTYPE

__all__ = [
    "TICK_DTYPE",
    "Archive",
    "ArchiveUnavailableError",
    "Archiver",
    "HotState",
    "HotStore",
    "HotStoreError",
    "HotStoreUnavailableError",
    "Keys",
    "SnapshotError",
    "Spool",
    "SpoolError",
    "StoreError",
    "apply_delta",
    "diff_snapshot",
    "encode_minute",
    "encode_ticks",
    "migrate",
]
