"""Errors raised by the stores; callers catch these, never a driver's own exceptions."""

from __future__ import annotations


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
