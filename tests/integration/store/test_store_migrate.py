from __future__ import annotations

import threading

import psycopg

from strikeboard.store.migrate import applied, available, migrate


def test_migrate_is_idempotent(database_url: str) -> None:
    versions = [m.version for m in available()]
    assert migrate(database_url) == versions
    assert migrate(database_url) == []
    with psycopg.connect(database_url) as conn:
        assert applied(conn) == versions
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert {"instruments", "ticks", "chain_minute", "chain_minute_agg", "candles_1m"} <= tables


def test_concurrent_migrations_apply_once(database_url: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        try:
            results.append(migrate(database_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Each migration once, whoever applied it (runners take turns per migration, so one may
    # apply the first and another the rest), and each runner in version order.
    assert sorted(v for r in results for v in r) == [m.version for m in available()]
    assert all(r == sorted(r) for r in results) and len(results) == 4
    with psycopg.connect(database_url) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count is not None and count[0] == len(available())
