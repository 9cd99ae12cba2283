"""Storage benchmark: archive throughput and Redis snapshot write time.

1. Ticks through spool (append + fsync) -> archiver (binary COPY built with NumPy -> staging
   -> INSERT ON CONFLICT) -> PostgreSQL, in batches of 9,000 instruments; compared with the
   same path using psycopg's row-by-row ``Copy.write_row`` (the plain library way).
2. One feed cycle of Redis snapshot writes for 5 expiries x 100 strikes (diff + Lua publish
   of snapshot, seq, delta stream and PUBLISH), compared with a bare pipelined SET of the
   same JSON (no delta, no atomic seq).

Uses REDIS_URL / DATABASE_URL when set, otherwise private servers (strikeboard.devservices).
Run: uv run python bench/bench_store.py
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import redis
from psycopg import sql

from strikeboard import devservices
from strikeboard.store import snapshot as snap
from strikeboard.store import ticks as tick_records
from strikeboard.store.archive import TICK_COLUMNS, Archive, effective_exchange_ts
from strikeboard.store.archiver import Archiver, encode_ticks
from strikeboard.store.hot import HotStore
from strikeboard.store.migrate import migrate
from strikeboard.store.spool import Spool

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTS = 9000
BATCHES = 30
EXPIRIES = 5
STRIKES = 100
CYCLES = 100
BASE_US = 1_795_579_200_000_000  # 2026-11-25 09:30 IST


def tick_batch(i: int) -> tick_records.TickArray:
    rng = np.random.default_rng(i)
    t = tick_records.empty(INSTRUMENTS)
    t["ingest_seq"] = np.arange(i * INSTRUMENTS, (i + 1) * INSTRUMENTS) + 1
    t["token"] = np.arange(INSTRUMENTS) * 256 + 9
    t["exchange_ts"] = BASE_US + i * 1_000_000
    t["received_ts"] = t["exchange_ts"] + rng.integers(100, 5000, INSTRUMENTS)
    price = rng.uniform(1, 500, INSTRUMENTS).round(2)
    t["last_price"] = price
    for name in ("avg_price", "open", "high", "low", "close"):
        t[name] = price
    for name in ("last_qty", "volume", "buy_qty", "sell_qty", "oi", "oi_day_high", "oi_day_low"):
        t[name] = rng.integers(0, 10**7, INSTRUMENTS)
    t["bid_price"] = price[:, None] - np.arange(1, 6) * 0.05
    t["ask_price"] = price[:, None] + np.arange(1, 6) * 0.05
    t["bid_qty"] = rng.integers(0, 10**5, (INSTRUMENTS, 5))
    t["ask_qty"] = rng.integers(0, 10**5, (INSTRUMENTS, 5))
    t["bid_orders"] = rng.integers(0, 100, (INSTRUMENTS, 5))
    t["ask_orders"] = rng.integers(0, 100, (INSTRUMENTS, 5))
    return t


def write_row_reference(url: str, batches: list[tick_records.TickArray]) -> float:
    """psycopg's row-by-row COPY of the same rows into the same staging/insert path."""
    cols = sql.SQL(", ").join(map(sql.Identifier, TICK_COLUMNS))
    rows = 0
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE ref_stage (LIKE ticks) ON COMMIT DELETE ROWS")
        conn.commit()
        start = time.perf_counter()
        for t in batches:
            exchange = effective_exchange_ts(t)
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(sql.SQL("COPY ref_stage ({}) FROM STDIN").format(cols)) as copy:
                    for k in range(len(t)):
                        r = t[k]
                        copy.write_row((
                            int(r["token"]), _ts(int(exchange[k])), int(r["ingest_seq"]),
                            _ts(int(r["received_ts"])), float(r["last_price"]),
                            int(r["last_qty"]), float(r["avg_price"]), int(r["volume"]),
                            int(r["buy_qty"]), int(r["sell_qty"]), float(r["open"]),
                            float(r["high"]), float(r["low"]), float(r["close"]), int(r["oi"]),
                            int(r["oi_day_high"]), int(r["oi_day_low"]),
                            float(r["bid_price"][0]), int(r["bid_qty"][0]),
                            float(r["ask_price"][0]), int(r["ask_qty"][0]),
                            r["bid_price"].tolist(), r["bid_qty"].tolist(),
                            r["bid_orders"].tolist(), r["ask_price"].tolist(),
                            r["ask_qty"].tolist(), r["ask_orders"].tolist(),
                        ))  # fmt: skip
                cur.execute(
                    sql.SQL(
                        "INSERT INTO ticks ({0}) SELECT {0} FROM ref_stage ON CONFLICT DO NOTHING"
                    ).format(cols)
                )
                rows += len(t)
        return rows / (time.perf_counter() - start)


def _ts(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


def bench_archive(server_url: str) -> None:
    name = f"sbbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    conninfo = psycopg.conninfo.conninfo_to_dict(server_url)
    conninfo["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**conninfo)  # type: ignore[arg-type]
    try:
        migrate(url)
        batches = [tick_batch(i) for i in range(BATCHES)]
        n = BATCHES * INSTRUMENTS
        with (
            tempfile.TemporaryDirectory(dir=ROOT / ".local") as spool_dir,
            Spool(spool_dir) as spool,
            Archive(url) as archive,
        ):
            start = time.perf_counter()
            for t in batches:
                spool.append(encode_ticks(t))
            append_s = time.perf_counter() - start
            archiver = Archiver(spool, archive, max_records=4)
            start = time.perf_counter()
            archiver.drain()
            drain_s = time.perf_counter() - start
            if archive.count_ticks() != n:
                raise SystemExit(f"archived {archive.count_ticks()} rows, expected {n}")
            start = time.perf_counter()
            for t in batches[:5]:
                archive.write_ticks(t)  # a replay after a crash: every row conflicts
            replay_s = time.perf_counter() - start
        with psycopg.connect(url) as conn:
            conn.execute("TRUNCATE ticks")
        ref_rate = write_row_reference(url, batches[:5])
        mb = BATCHES * INSTRUMENTS * tick_records.TICK_DTYPE.itemsize / 1e6
        print(f"\nArchive: {BATCHES} batches x {INSTRUMENTS} ticks = {n} rows ({mb:.0f} MB)")
        print(f"{'path':<60}{'rows/s':>12}{'ms/batch':>11}")
        print(
            f"{'spool append + fsync (one record per batch)':<60}"
            f"{n / append_s:>12,.0f}{append_s / BATCHES * 1e3:>11.1f}"
        )
        print(
            f"{'archiver: NumPy binary COPY -> staging -> ON CONFLICT':<60}"
            f"{n / drain_s:>12,.0f}{drain_s / BATCHES * 1e3:>11.1f}"
        )
        print(
            f"{'replay of archived batches (all conflict, 0 written)':<60}"
            f"{5 * INSTRUMENTS / replay_s:>12,.0f}{replay_s / 5 * 1e3:>11.1f}"
        )
        print(
            f"{'reference: psycopg Copy.write_row per row, same path':<60}"
            f"{ref_rate:>12,.0f}{INSTRUMENTS / ref_rate * 1e3:>11.1f}"
        )
        print(f"target: 9,000 ticks/s sustained -> archiver headroom x{n / drain_s / 9000:.1f}")
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def chain(expiry: str, rng: random.Random, base: dict[str, Any] | None) -> dict[str, Any]:
    """A 100-strike chain; from ``base``, about a third of the legs tick."""
    strikes: dict[str, Any] = {}
    for i in range(STRIKES):
        key = str(24000 + 50 * i)
        strikes[key] = {}
        for side in ("CE", "PE"):
            old = base["strikes"][key][side] if base else None
            if old is not None and rng.random() > 0.33:
                strikes[key][side] = old
                continue
            ltp = round(rng.uniform(1, 800), 2)
            strikes[key][side] = {
                "ltp": ltp, "change": round(rng.uniform(-50, 50), 2), "bid": ltp - 0.05,
                "ask": ltp + 0.05, "bid_qty": rng.randint(0, 10**5),
                "ask_qty": rng.randint(0, 10**5), "volume": rng.randint(0, 10**8),
                "oi": rng.randint(0, 10**7), "oi_change": rng.randint(-10**5, 10**5),
                "iv": round(rng.uniform(0.08, 0.4), 5), "delta": round(rng.uniform(-1, 1), 5),
                "gamma": round(rng.uniform(0, 0.01), 6), "theta": round(rng.uniform(-20, 0), 3),
                "vega": round(rng.uniform(0, 30), 3),
            }  # fmt: skip
    return {
        "underlying": "NIFTY", "expiry": expiry, "ts": time.time(),
        "spot": 26000 + rng.random(), "future": 26050.0, "forward": 26040.0,
        "atm_strike": 26000.0, "strikes": strikes,
        "aggregates": {"pcr_oi": rng.random(), "pcr_volume": rng.random(), "max_pain": 26000.0,
                       "atm_iv": 0.12, "straddle": 210.0, "expected_move": 205.0},
    }  # fmt: skip


def bench_redis(url: str) -> None:
    prefix = f"sbbench:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(url)
    store = HotStore(client, prefix)
    rng = random.Random(7)
    expiries = [f"2026-12-{d:02d}" for d in (3, 10, 17, 24, 31)][:EXPIRIES]
    previous = {e: chain(e, rng, None) for e in expiries}
    for e in expiries:
        store.publish(previous[e])
    cycles = []
    for _ in range(CYCLES):
        cycles.append({e: chain(e, rng, previous[e]) for e in expiries})
    publish_ms, set_ms, delta_bytes, snap_bytes = [], [], [], []
    for cycle in cycles:
        start = time.perf_counter()
        for e in expiries:
            store.publish(cycle[e], previous[e])
        publish_ms.append((time.perf_counter() - start) * 1e3)
        first = expiries[0]
        delta_bytes.append(len(snap.dumps(snap.diff_snapshot(previous[first], cycle[first]))))
        snap_bytes.append(len(snap.dumps(cycle[expiries[0]])))
        start = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for e in expiries:
            pipe.set(f"{prefix}ref:{e}", snap.dumps(cycle[e]))
        pipe.execute()
        set_ms.append((time.perf_counter() - start) * 1e3)
        previous = cycle
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()
    print(f"\nRedis: one cycle = {EXPIRIES} expiries x {STRIKES} strikes x CE/PE, {CYCLES} cycles")
    print(f"{'path':<60}{'median ms':>11}{'p95 ms':>9}")
    for label, values in (
        ("HotStore.publish: diff + Lua (snapshot, seq, stream, PUBLISH)", publish_ms),
        ("reference: pipelined SET of the snapshot JSON only", set_ms),
    ):
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{label:<60}{statistics.median(values):>11.2f}{p95:>9.2f}")
    print(
        f"snapshot JSON per expiry: {statistics.median(snap_bytes) / 1024:.1f} KB; "
        f"delta (1/3 of legs changed): {statistics.median(delta_bytes) / 1024:.1f} KB"
    )


def main() -> None:
    local = ROOT / ".local" / f"bench-store-{os.getpid()}"
    local.mkdir(parents=True, exist_ok=True)
    try:
        with devservices.services(local, durable=True) as services:
            bench_archive(services.database_url)
            bench_redis(services.redis_url)
    finally:
        shutil.rmtree(local, ignore_errors=True)


if __name__ == "__main__":
    main()
