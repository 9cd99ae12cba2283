"""The PostgreSQL archive: exactly-once ticks, day partitions, minute data, instruments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import numpy as np
import psycopg
import pytest

from strikeboard.market.calendar import IST
from strikeboard.store.archive import TICK_COLUMNS, Archive
from strikeboard.store.errors import ArchiveUnavailableError, StoreError
from strikeboard.store.ticks import TickArray

DAY_US = 86_400_000_000
MakeTicks = Callable[..., TickArray]
BASE_US = 1_795_579_200_000_000  # 2026-11-25 09:30 IST, as in conftest


def test_ticks_round_trip_exactly_once(archive: Archive, make_ticks: MakeTicks) -> None:
    t = make_ticks(500)
    assert archive.write_ticks(t) == 500
    assert archive.write_ticks(t) == 0  # a replay after a crash writes nothing twice
    # An overlapping batch writes only its new rows.
    assert archive.write_ticks(make_ticks(200, first_seq=401)) == 100
    assert archive.count_ticks() == 600
    assert archive.max_ingest_seq() == 600

    token = int(t["token"][7])
    rows = archive.ticks_page(
        token, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    mine = t[t["token"] == token]
    assert [r[2] for r in rows] == mine["ingest_seq"].tolist()
    row = dict(zip(TICK_COLUMNS, rows[0], strict=True))
    first = mine[0]
    assert row["last_price"] == pytest.approx(first["last_price"])
    assert row["exchange_ts"] == datetime.fromtimestamp(first["exchange_ts"] / 1e6, UTC)
    assert row["received_ts"] == datetime.fromtimestamp(first["received_ts"] / 1e6, UTC)
    assert row["bid_price"] == pytest.approx(first["bid_price"][0])
    assert row["bid_qty"] == first["bid_qty"][0]
    assert row["depth_bid_price"] == pytest.approx(first["bid_price"].tolist())
    assert row["depth_bid_qty"] == first["bid_qty"].tolist()
    assert row["depth_ask_orders"] == [2] * 5
    assert row["volume"] == first["volume"] and row["oi"] == first["oi"]


def test_ticks_page_paginates_by_time_and_seq(archive: Archive, make_ticks: MakeTicks) -> None:
    t = make_ticks(50)
    t["token"] = 42
    t["exchange_ts"] = BASE_US  # every tick in the same microsecond: seq breaks the tie
    archive.write_ticks(t)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    seen: list[int] = []
    after = None
    while page := archive.ticks_page(42, start, end, after=after, limit=7):
        seen.extend(r[2] for r in page)
        after = (page[-1][1], page[-1][2])
    assert seen == list(range(1, 51))


def test_partitions_are_created_for_new_days(archive: Archive, make_ticks: MakeTicks) -> None:
    t = make_ticks(30)
    t["exchange_ts"][10:] += DAY_US  # the next day
    t["received_ts"][10:] += DAY_US
    t["exchange_ts"][20:] += 2 * DAY_US
    t["received_ts"][20:] += 2 * DAY_US
    assert archive.write_ticks(t) == 30
    days = archive.partitions()
    # The days of the batch, plus the day after the last one, created ahead.
    assert days == [date(2026, 11, d) for d in (25, 26, 28, 29)]
    with psycopg.connect(archive.url) as conn:
        per_day = conn.execute(
            "SELECT tableoid::regclass::text, count(*) FROM ticks GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert per_day == [("ticks_20261125", 10), ("ticks_20261126", 10), ("ticks_20261128", 10)]
    assert archive.drop_partitions_before(date(2026, 11, 26)) == [date(2026, 11, 25)]
    assert archive.count_ticks() == 20


def test_chain_minute_candles_and_instruments_upsert(archive: Archive) -> None:
    minute = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    expiry = date(2026, 11, 26)
    row = ["NIFTY", expiry, minute, 26000.0, "CE", 111, 10.5, 10.4, 10.6, 0.12, 0.5,
           0.001, -5.0, 12.0, 1000, 50, 300]  # fmt: skip
    agg = ["NIFTY", expiry, minute, 26010.0, 26050.0, 26040.0, 26000.0, 0.12, 210.0, 205.0,
           0.9, 1.1, 26000.0]  # fmt: skip
    archive.write_chain_minute([row, [*row[:4], "PE", 112, *row[6:]]], [agg])
    row[6] = 11.0
    archive.write_chain_minute([row], [agg])  # the minute rewritten: values replaced
    got = archive.chain_at("NIFTY", expiry, minute)
    assert [(r[4], r[6]) for r in got] == [("CE", 11.0), ("PE", 10.5)]

    archive.upsert_candles([(256265, minute, 1.0, 2.0, 0.5, 1.5, None, None)])
    archive.upsert_candles([(256265, minute, 1.0, 2.5, 0.5, 2.0, None, None)])
    with psycopg.connect(archive.url) as conn:
        candles = conn.execute("SELECT high, close FROM candles_1m").fetchall()
        assert candles == [(2.5, 2.0)]

    dump = [
        {"instrument_token": 256265, "exchange_token": 1001, "tradingsymbol": "NIFTY 50",
         "name": "NIFTY 50", "expiry": "", "strike": 0.0, "instrument_type": "EQ",
         "lot_size": 0, "tick_size": 0.0, "segment": "INDICES", "exchange": "NSE"},
        {"instrument_token": 111, "exchange_token": 5, "tradingsymbol": "NIFTY26N2626000CE",
         "name": "NIFTY", "expiry": expiry, "strike": 26000.0, "instrument_type": "CE",
         "lot_size": 75, "tick_size": 0.05, "segment": "NFO-OPT", "exchange": "NFO"},
    ]  # fmt: skip
    assert archive.upsert_instruments(dump) == 2
    with psycopg.connect(archive.url) as conn:
        before = conn.execute("SELECT first_seen, last_seen FROM instruments ORDER BY 1").fetchall()
    dump[1]["lot_size"] = 65
    archive.upsert_instruments(dump)
    with psycopg.connect(archive.url) as conn:
        after = conn.execute(
            "SELECT first_seen, last_seen, lot_size, expiry FROM instruments ORDER BY 1"
        ).fetchall()
    assert [a[0] for a in after] == [b[0] for b in before]  # first_seen kept
    assert all(a[1] >= b[1] for a, b in zip(after, before, strict=True))
    assert [(a[2], a[3]) for a in after] == [(65, expiry), (0, None)]


def test_previous_close_oi_is_the_last_sessions_closing_minute(archive: Archive) -> None:
    """Only rows of the previous session's close count: a strike that left the window at noon
    has no closing OI here (its last row is a noon OI), nor does a session seen only in part."""
    expiry = date(2026, 12, 1)

    def row(minute: datetime, token: int, oi: int) -> list[object]:
        return ["NIFTY", expiry, minute, 26000.0 + token, "CE", token, 10.0, 9.9, 10.1, 0.12,
                0.5, 0.001, -5.0, 12.0, oi, 0, 100]  # fmt: skip

    monday_noon = datetime(2026, 11, 23, 12, 0, tzinfo=IST)
    monday_close = datetime(2026, 11, 23, 15, 30, tzinfo=IST)
    archive.write_chain_minute([row(monday_noon, 1, 100), row(monday_noon, 2, 200)], [])
    archive.write_chain_minute([row(monday_close, 1, 150)], [])  # 2 left the window at noon
    # Wednesday (Tuesday is a holiday): Monday's close for 1; nothing for 2 or 3.
    assert archive.previous_close_oi([1, 2, 3], date(2026, 11, 25)) == {1: 150}
    # A session the feed stopped seeing at 14:00 has no close in the archive.
    wednesday = datetime(2026, 11, 25, 14, 0, tzinfo=IST)
    archive.write_chain_minute([row(wednesday, 1, 180)], [])
    assert archive.previous_close_oi([1], date(2026, 11, 26)) == {}


def test_bad_rows_raise_a_store_error_and_the_archive_stays_usable(
    archive: Archive, make_ticks: MakeTicks
) -> None:
    with pytest.raises(StoreError):
        archive.upsert_candles([(1, "not a time", 1.0, 1.0, 1.0, 1.0, None, None)])
    assert archive.write_ticks(make_ticks(3)) == 3


def test_unreachable_database_raises_archive_unavailable(
    make_ticks: MakeTicks,
) -> None:
    with pytest.raises(ArchiveUnavailableError):
        Archive("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1).write_ticks(
            make_ticks(1)
        )


def test_empty_batch_is_a_no_op(archive: Archive, make_ticks: MakeTicks) -> None:
    assert archive.write_ticks(make_ticks(0)) == 0
    assert np.asarray(archive.partitions()).size == 0
