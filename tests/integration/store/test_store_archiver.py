"""Spool -> archiver -> PostgreSQL: nothing lost, nothing doubled, across crashes and outages."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from strikeboard import devservices
from strikeboard.store import ticks as tick_records
from strikeboard.store.archive import Archive
from strikeboard.store.archiver import Archiver, encode_minute, encode_ticks
from strikeboard.store.spool import Spool


def archived_seqs(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT ingest_seq FROM ticks ORDER BY 1")]


def test_spooled_batches_are_archived_once(
    tmp_path: Path, migrated_url: str, make_ticks: Any
) -> None:
    with Spool(tmp_path) as spool, Archive(migrated_url) as archive:
        for i in range(10):
            spool.append(encode_ticks(make_ticks(100, first_seq=1 + 100 * i)))
        minute = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
        spool.append(encode_minute(candles=[(256265, minute, 1.0, 2.0, 0.5, 1.5, None, None)]))
        archiver = Archiver(spool, archive, max_records=4)
        assert archiver.drain() == 11
        assert spool.lag().records == 0
        assert archiver.archived_rows == 1000
    assert archived_seqs(migrated_url) == list(range(1, 1001))
    with psycopg.connect(migrated_url) as conn:
        assert conn.execute("SELECT count(*) FROM candles_1m").fetchone() == (1,)


def test_crash_between_copy_and_checkpoint_replays_without_doubles(
    tmp_path: Path, migrated_url: str, make_ticks: Any
) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append(encode_ticks(make_ticks(50, first_seq=1 + 50 * i)))
    with Archive(migrated_url) as archive:
        # Written to PostgreSQL, then the process dies before the checkpoint moves.
        records = spool.read()
        arrays = [tick_records.from_bytes(r.payload[1:]) for r in records]
        assert archive.write_ticks(np.concatenate(arrays)) == 250
    del spool
    with Spool(tmp_path) as spool, Archive(migrated_url) as archive:
        spool.append(encode_ticks(make_ticks(50, first_seq=251)))
        archiver = Archiver(spool, archive)
        assert archiver.drain() == 6
        assert archiver.archived_rows == 50  # only the new batch was new
    assert archived_seqs(migrated_url) == list(range(1, 301))


def test_torn_spool_tail_after_a_crash(tmp_path: Path, migrated_url: str, make_ticks: Any) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(encode_ticks(make_ticks(10, first_seq=1 + 10 * i)))
    (segment,) = spool.segments()
    del spool
    with segment.open("ab") as f:  # the fourth append was cut short by the crash
        f.write(encode_ticks(make_ticks(10, first_seq=31))[:77])
    with Spool(tmp_path) as spool, Archive(migrated_url) as archive:
        Archiver(spool, archive).drain()
    assert archived_seqs(migrated_url) == list(range(1, 31))


def test_postgres_outage_spools_then_catches_up(
    tmp_path: Path, private_postgres: devservices.PostgresCluster, make_ticks: Any
) -> None:
    cluster = private_postgres
    spool = Spool(tmp_path / "spool")
    archive = Archive(cluster.url, connect_timeout=1, auto_migrate=True)
    archiver = Archiver(spool, archive, backoff_s=0.05, max_backoff_s=0.5)
    archiver.start()
    seq = 1
    stop = threading.Event()

    def feed() -> None:  # 20 batches/s of 100 ticks, as the feed would append
        nonlocal seq
        while not stop.is_set():
            spool.append(encode_ticks(make_ticks(100, first_seq=seq)))
            seq += 100
            time.sleep(0.05)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        time.sleep(0.5)
        cluster.stop()
        time.sleep(2.0)  # the outage: the feed keeps appending
        lag = spool.lag()
        assert archiver.status().state == "retrying"
        assert lag.records > 10 and lag.bytes > 0 and lag.seconds > 1.0
        cluster.start()
        time.sleep(0.5)
    finally:
        stop.set()
        writer.join()
    try:
        assert archiver.wait_drained(timeout=30)
    finally:
        archiver.stop()
    assert archiver.status().state == "stopped"
    archive.close()
    assert archived_seqs(cluster.url) == list(range(1, seq))
    assert spool.lag().records == 0
    spool.close()


def test_partition_of_a_new_day_is_made_by_the_archiver(
    tmp_path: Path, migrated_url: str, make_ticks: Any
) -> None:
    day_us = 86_400_000_000
    with Spool(tmp_path) as spool, Archive(migrated_url) as archive:
        spool.append(encode_ticks(make_ticks(5)))
        later = make_ticks(5, first_seq=6)
        later["exchange_ts"] += 3 * day_us
        later["received_ts"] += 3 * day_us
        spool.append(encode_ticks(later))
        Archiver(spool, archive).drain()
        assert date(2026, 11, 28) in archive.partitions()
    assert archived_seqs(migrated_url) == list(range(1, 11))
