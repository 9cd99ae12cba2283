"""Shared fixtures: real Redis and PostgreSQL, isolated per test.

The servers come from REDIS_URL / DATABASE_URL when set, otherwise private throw-away ones are
started for the session (strikeboard.devservices). Each test gets its own Redis key prefix and
its own PostgreSQL database, both removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from strikeboard import devservices

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devservices.Services]:
    local = ROOT / ".local" / f"test-{os.getpid()}"
    try:
        with devservices.services(local, durable=False) as found:
            yield found
    finally:
        shutil.rmtree(local, ignore_errors=True)


@pytest.fixture
def redis_url(services: devservices.Services) -> str:
    return services.redis_url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _with_database(url: str, name: str) -> str:
    conninfo = psycopg.conninfo.conninfo_to_dict(url)
    conninfo["dbname"] = name
    return psycopg.conninfo.make_conninfo(**conninfo)  # type: ignore[arg-type]


@pytest.fixture
def database_url(services: devservices.Services) -> Iterator[str]:
    """A fresh, empty database of this test's own, dropped afterwards."""
    name = f"sbtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(services.database_url, name)
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[devservices.PostgresCluster]:
    """A PostgreSQL cluster of this test's own, for tests that stop and restart the server."""
    with devservices.private_postgres(ROOT / ".local" / f"pg-{uuid.uuid4().hex[:8]}") as cluster:
        yield cluster
    shutil.rmtree(cluster.root, ignore_errors=True)
