"""PostgreSQL for readers that serve requests (the HTTP API, the scheduled jobs): a connection
pool, created on first use and migrated once, whose queries run in autocommit with times in
IST. The queries themselves live beside it, one module per concern (`chain_queries`,
`market_queries`, `history_queries`, `stats_queries`, `preference_queries`); the feed writes
through `strikeboard.store.archive` instead (one connection, COPY).

An unreachable server (or a pool that has no connection free within ``timeout``) raises
`ArchiveUnavailableError`, quickly; a driver error never escapes as such from an outage.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from strikeboard.store.errors import ArchiveUnavailableError, StoreError
from strikeboard.store.migrate import migrate

Query = str | sql.Composable
UNAVAILABLE = "PostgreSQL is unavailable"


class Database:
    """A lazily opened pool of at most ``pool_size`` connections to ``url`` (thread-safe)."""

    def __init__(self, url: str, pool_size: int = 4, timeout: float = 2.0) -> None:
        self.url = url
        self.pool_size = pool_size
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._migrated = False

    def _get_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is None:
                # min_size=0: no connection is opened until a query needs one, so a Lambda
                # that only serves Redis data never touches PostgreSQL.
                self._pool = ConnectionPool(
                    self.url,
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
                migrate(self.url)
            except StoreError as exc:
                raise ArchiveUnavailableError(f"{UNAVAILABLE}: {exc}") from exc
            self._migrated = True
        return pool

    def rows(self, query: Query, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read query and return its rows."""
        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                return conn.execute(query, params).fetchall()  # type: ignore[arg-type]
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise ArchiveUnavailableError(UNAVAILABLE) from exc

    def execute(self, query: Query, params: Sequence[Any] = ()) -> int:
        """Run one write statement (autocommit); returns the affected row count."""
        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                return conn.execute(query, params).rowcount  # type: ignore[arg-type]
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise ArchiveUnavailableError(UNAVAILABLE) from exc

    def ok(self) -> bool:
        """True when PostgreSQL answers a query (never raises)."""
        try:
            self.rows("SELECT 1")
        except (StoreError, psycopg.Error):
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
