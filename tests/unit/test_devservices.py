from __future__ import annotations

import psycopg
import redis


def test_each_test_gets_an_empty_database_of_its_own(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE t (x int)")
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (1,)
    assert "sbtest_" in database_url


def test_redis_prefix_is_unique_and_usable(redis_client: redis.Redis, redis_prefix: str) -> None:
    assert redis_client.keys(f"{redis_prefix}*") == []
    redis_client.set(f"{redis_prefix}k", "v")
    assert redis_client.get(f"{redis_prefix}k") == b"v"


def test_private_postgres_restarts(private_postgres) -> None:  # type: ignore[no-untyped-def]
    private_postgres.stop()
    private_postgres.start()
    with psycopg.connect(private_postgres.url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
