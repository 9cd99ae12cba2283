"""Redis and PostgreSQL clients of the API: created once per process (per Lambda container),
lazily, from settings; failures map to `UnavailableError` (503) rather than 500s."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from strikeboard.api.errors import UnavailableError
from strikeboard.config import Settings
from strikeboard.store.errors import StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.migrate import migrate


class Stores:
    """The process's HotStore and PostgreSQL pool (thread-safe lazy construction)."""

    def __init__(self, settings: Settings, pool_size: int = 4, timeout: float = 2.0) -> None:
        self.settings = settings
        self.pool_size = pool_size
        self.timeout = timeout
        self._lock = threading.Lock()
        self._hot: HotStore | None = None
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._migrated = False

    @property
    def hot(self) -> HotStore:
        with self._lock:
            if self._hot is None:
                s = self.settings
                self._hot = HotStore.from_url(s.redis_url, s.redis_key_prefix, self.timeout)
            return self._hot

    def _get_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is None:
                # min_size=0: no connection is opened until a request needs one, so a Lambda
                # that only serves Redis data never touches PostgreSQL.
                self._pool = ConnectionPool(
                    self.settings.database_url,
                    min_size=0,
                    max_size=self.pool_size,
                    timeout=self.timeout,
                    kwargs={
                        "connect_timeout": max(1, round(self.timeout)),
                        "autocommit": True,
                        # Times come back in IST, the market's own clock.
                        "options": "-c TimeZone=Asia/Kolkata",
                    },
                    open=True,
                    check=ConnectionPool.check_connection,
                )
            pool = self._pool
        if not self._migrated:
            try:
                migrate(self.settings.database_url)
            except StoreError as exc:
                raise UnavailableError(f"PostgreSQL is unavailable: {exc}") from exc
            self._migrated = True
        return pool

    def rows(
        self, query: str | sql.Composable, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one read query; `UnavailableError` when PostgreSQL cannot be reached."""
        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                return conn.execute(query, params).fetchall()  # type: ignore[arg-type]
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise UnavailableError("PostgreSQL is unavailable") from exc

    def execute(self, query: str | sql.Composable, params: Sequence[Any] = ()) -> int:
        """Run one write statement (autocommit); returns the affected row count."""
        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                return conn.execute(query, params).rowcount  # type: ignore[arg-type]
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise UnavailableError("PostgreSQL is unavailable") from exc

    def database_ok(self) -> bool:
        try:
            self.rows("SELECT 1")
        except (UnavailableError, psycopg.Error):
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._hot is not None:
                self._hot.close()
                self._hot = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None
