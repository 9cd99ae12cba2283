"""Schema migrations: numbered ``NNNN_name.sql`` files in ``migrations/``, applied in order.

Each file runs in its own transaction together with its row in ``schema_migrations``; a
transaction-level advisory lock makes processes that start together take turns (the second
finds the work done). Files already applied are skipped, so `migrate` is idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

import psycopg
from psycopg.rows import TupleRow

from strikeboard.store.errors import ArchiveUnavailableError, StoreError

# Any fixed 64-bit number unique to this purpose ("strikebd" in ASCII).
LOCK_ID: Final = 0x737472696B656264
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(StoreError):
    """A migration file is misnamed or failed to apply (the transaction was rolled back)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """The packaged migrations in version order."""
    found: list[Migration] = []
    for entry in resources.files("strikeboard.store").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return found


def applied(conn: psycopg.Connection[TupleRow]) -> list[int]:
    """Versions already applied (empty before the first migration)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if exists is None or exists[0] is None:
        return []
    return [int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def migrate(url: str) -> list[int]:
    """Apply the pending migrations to the database at ``url``; returns the versions applied.

    Raises `ArchiveUnavailableError` when PostgreSQL cannot be reached and `MigrationError`
    when a migration fails.
    """
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise ArchiveUnavailableError(f"PostgreSQL unavailable: {exc}") from exc
    done: list[int] = []
    with conn:
        for migration in available():
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version integer PRIMARY KEY, name text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())"
                    )
                    row = conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = %s",
                        (migration.version,),
                    ).fetchone()
                    if row is not None:
                        continue
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
            except psycopg.OperationalError as exc:
                raise ArchiveUnavailableError(f"PostgreSQL unavailable: {exc}") from exc
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc
            done.append(migration.version)
    return done
