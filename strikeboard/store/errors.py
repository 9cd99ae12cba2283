"""Errors raised by the stores; callers catch these, never a driver's own exceptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis


class StoreError(RuntimeError):
    """Base of every storage error."""


class HotStoreError(StoreError):
    """Redis rejected an operation (a bug or a misconfiguration, not an outage)."""


class HotStoreUnavailableError(HotStoreError):
    """Redis cannot be reached. The caller keeps running and calls `HotStore.rebuild` later."""


class ArchiveUnavailableError(StoreError):
    """PostgreSQL cannot be reached; the spool keeps the data until it returns."""


class SpoolError(StoreError):
    """The spool directory cannot be used (permissions, disk full, a foreign file)."""


class SpoolLockedError(SpoolError):
    """Another process (another feed) holds the spool: two writers would corrupt it."""


def redis_call(action: Callable[[], Any]) -> Any:
    """Run one Redis round trip, mapping driver errors to the store's own (results are Any:
    redis-py's response types depend on the connection's decoding settings)."""
    try:
        return action()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise HotStoreUnavailableError(f"Redis unavailable: {exc}") from exc
    except redis.RedisError as exc:
        raise HotStoreError(f"Redis error: {exc}") from exc
