"""The Redis and PostgreSQL handles of an API process (one per Lambda container), created
lazily from settings: Redis on first use, PostgreSQL's pool on the first query
(`strikeboard.store.database`). Outages raise the stores' own errors, which the app answers 503.
"""

from __future__ import annotations

import threading

from strikeboard.config import Settings
from strikeboard.store.database import Database
from strikeboard.store.hot import HotStore


class Stores:
    """The process's HotStore and PostgreSQL pool (thread-safe lazy construction)."""

    def __init__(self, settings: Settings, pool_size: int = 4, timeout: float = 2.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.db = Database(settings.database_url, pool_size, timeout)
        self._lock = threading.Lock()
        self._hot: HotStore | None = None

    @property
    def hot(self) -> HotStore:
        with self._lock:
            if self._hot is None:
                s = self.settings
                self._hot = HotStore.from_url(s.redis_url, s.redis_key_prefix, self.timeout)
            return self._hot

    def close(self) -> None:
        with self._lock:
            if self._hot is not None:
                self._hot.close()
                self._hot = None
        self.db.close()
