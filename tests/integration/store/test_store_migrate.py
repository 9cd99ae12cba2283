from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from strikeboard.store import alerts
from strikeboard.store import migrate as migrate_module
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


def test_0004_names_the_underlying_of_rows_archived_before(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive of the NIFTY-only days is migrated, not wiped: its instruments get their
    underlying (so its ticks are under one), the rest of the dump stays without."""
    older = [m for m in available() if m.version < 4]
    monkeypatch.setattr(migrate_module, "available", lambda: older)
    assert migrate(database_url) == [1, 2, 3]
    rows = [  # token, tradingsymbol, name, expiry, type, segment, exchange
        (256265, "NIFTY 50", "NIFTY 50", None, "EQ", "INDICES", "NSE"),
        (264969, "INDIA VIX", "INDIA VIX", None, "EQ", "INDICES", "NSE"),
        (10_000_002, "NIFTY25D0226000CE", "NIFTY", "2025-12-02", "CE", "NFO-OPT", "NFO"),
        (20_000_002, "NIFTY25DECFUT", "NIFTY", "2025-12-30", "FUT", "NFO-FUT", "NFO"),
        (738_561, "RELIANCE", "RELIANCE INDUSTRIES", None, "EQ", "NSE", "NSE"),
    ]
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO instruments (instrument_token, tradingsymbol, name, expiry,"
            " instrument_type, segment, exchange) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        cur.execute(
            "CREATE TABLE ticks_20251128 PARTITION OF ticks"
            " FOR VALUES FROM ('2025-11-28 00:00+05:30') TO ('2025-11-29 00:00+05:30')"
        )
        cur.execute(
            "INSERT INTO ticks (token, exchange_ts, ingest_seq, received_ts, last_price)"
            " VALUES (10000002, '2025-11-28 10:00+05:30', 1, '2025-11-28 10:00+05:30', 101.5)"
        )
    monkeypatch.undo()
    assert migrate(database_url) == [m.version for m in available() if m.version >= 4]
    with psycopg.connect(database_url) as conn:
        named = dict(conn.execute("SELECT instrument_token, underlying FROM instruments"))
        tick = conn.execute(
            "SELECT i.underlying, t.last_price FROM ticks t"
            " JOIN instruments i ON i.instrument_token = t.token"
        ).fetchall()
    assert named == {256265: "NIFTY", 264969: "NIFTY", 10_000_002: "NIFTY", 20_000_002: "NIFTY",
                     738_561: None}  # fmt: skip
    assert tick == [("NIFTY", 101.5)]


def test_0007_keeps_the_subscriptions_0006_made(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription the API made with SNS itself (0006) becomes a ``pending`` row that the
    feed's worker reads from SNS at its next pass (here: says confirmed), nothing lost."""
    older = [m for m in available() if m.version < 7]
    monkeypatch.setattr(migrate_module, "available", lambda: older)
    migrate(database_url)
    arn = "arn:aws:sns:ap-south-1:123456789012:UserAlerts:0b1c"
    digest = alerts.address_sha256("trader@example.com")
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO alert_email (user_id, subscription_arn, address_sha256)"
                     " VALUES ('dev', %s, %s)", (arn, digest))  # fmt: skip
    monkeypatch.undo()
    assert migrate(database_url) == [m.version for m in available() if m.version >= 7]

    def rows(query: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute(query, params).fetchall()

    assert alerts.email_request(rows, "dev") == alerts.EmailRow(
        "dev", "pending", None, "", digest, arn)  # fmt: skip
    seen: list[alerts.EmailRow] = []

    def confirmed(row: alerts.EmailRow) -> alerts.EmailOutcome:
        seen.append(row)
        return alerts.EmailOutcome("confirmed", row.subscription_arn)

    repo = alerts.AlertRepo(database_url)
    try:
        assert repo.work_email(confirmed, 30, 3600) is not None
        assert repo.work_email(confirmed, 30, 3600) is None  # read just now: not due again
    finally:
        repo.close()
    assert [r.state for r in seen] == ["pending"]
    assert alerts.email_request(rows, "dev").state == "confirmed"  # type: ignore[union-attr]
