"""The feed under full load: ~9,000 instruments in full mode, each ticking once a second,
split over NIFTY, BANKNIFTY and SENSEX by the feed's own budget (`market.universe`: the
simulator lists more than Kite's 3 x 3,000, the feed trims by priority).

The simulator runs in this process (recording when it wrote each tick to the socket); the feed
runs as its own process (`python -m feed_container`), so its CPU share is measured alone. The
tick-to-Redis latency is measured twice: from the feed receiving a burst (its reactor thread) to
the recent-ticks stream entry holding it (per batch), and from the simulator writing each tick to
its socket (per tick; this one also carries the simulator's and this process's scheduling).
Stream entry ids are Redis' own clock, on the same host.
Archive rows/s: rows landing in PostgreSQL over the window. Target (issue 4): p99 under 50 ms.
Per underlying: its ticks' tick-to-Redis latency (from the simulator's socket) and the
publisher's time on its expiries in the last cycle that priced it (health `cycle_ms`, and its
CPU time, `cycle_cpu_ms`: on a busy machine wall time also counts the other processes' work).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import psycopg
import redis

from strikeboard import devservices
from strikeboard.market.calendar import IST
from strikeboard.sim.engine import SimConfig, Simulator
from strikeboard.sim.server import SentMessage, ServerOptions, run_simulator
from strikeboard.sim.universe import KIND_CE, KIND_PE
from strikeboard.sim.universe import UniverseConfig as SimUniverse
from strikeboard.store.archive import Archive

UNDERLYINGS = ("NIFTY", "BANKNIFTY", "SENSEX")
WARMUP_S = 15.0
WINDOW_S = 30.0
ROOT = Path(__file__).resolve().parents[1]


class SendTimes:
    """(token, exchange_ts, volume) -> wall time the simulator sent it, for one token in ten
    (bookkeeping every tick here would slow the simulator's own sending)."""

    @staticmethod
    def sampled(token: np.ndarray | int) -> Any:
        """One instrument in ten, by exchange token: Kite's token is ``exchange_token << 8 |
        segment``, so ``token % 10`` never hits a BFO (segment 5) token and SENSEX had no
        samples."""
        return (token >> 8) % 10 == 0

    def __init__(self) -> None:
        self.at: dict[tuple[int, int, int], float] = {}
        self.lock = threading.Lock()

    def __call__(self, msg: SentMessage) -> None:
        now = time.time()
        for arr in msg.packets:
            names = arr.dtype.names or ()
            if "exchange_timestamp" not in names:
                continue
            vol = arr["volume_traded"] if "volume_traded" in names else np.zeros(len(arr), int)
            sample = self.sampled(arr["instrument_token"])
            keys = zip(arr["instrument_token"][sample].tolist(),
                       arr["exchange_timestamp"][sample].tolist(), vol[sample].tolist(),
                       strict=True)  # fmt: skip
            with self.lock:
                for key in keys:
                    self.at.setdefault(key, now)


def seed_previous_close(database_url: str, sim: Simulator) -> None:
    """The previous session's closing minute in the archive, as a deployment past its first
    day has it: OI baselines then come from PostgreSQL. (On its first day the feed asks Kite's
    historical candles instead, 3 contracts a second: a one-off, not the live path measured.)"""
    close = dt.datetime.combine(sim.prev_day, dt.time(15, 29), IST)
    rows = [
        [ins.underlying, ins.expiry, close, ins.strike, "CE" if ins.kind == KIND_CE else "PE",
         ins.instrument_token, None, None, None, None, None, None, None, None,
         int(sim.oi_prev[i]), None, None]
        for i, ins in enumerate(sim.instruments) if ins.kind in (KIND_CE, KIND_PE)
    ]  # fmt: skip
    archive = Archive(database_url, auto_migrate=True)
    archive.write_chain_minute(rows, [])
    archive.close()


def main() -> None:
    with contextlib.ExitStack() as stack:
        found = stack.enter_context(devservices.services(ROOT / ".local" / "bench", durable=False))
        db = f"bench_feed_{os.getpid()}"
        with psycopg.connect(found.database_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{db}"')
        database_url = found.database_url.rsplit("/", 1)[0] + f"/{db}"
        prefix = f"bench:{uuid.uuid4().hex[:8]}:"
        spool = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sent = SendTimes()
        # 6 weeklies over 0.43-1.57x spot of three underlyings: more than Kite's 3 x 3,000,
        # which the feed's budget split trims to fit.
        wide = SimUniverse(weeklies=6, range_lo=0.43, range_hi=1.57, underlyings=UNDERLYINGS)
        # A fixed day: the series listed (and so the instrument count) depend on the date.
        config = SimConfig(seed=5, day=dt.date(2026, 11, 25), every_second=True, universe=wide)
        sim = stack.enter_context(
            # Three underlyings' session simulated up to 10:00 before the socket opens.
            run_simulator(
                config=config, options=ServerOptions(start=dt.time(10, 0)), start_timeout_s=180
            )
        )
        sim.server.on_sent = sent
        seed_previous_close(database_url, sim.server.sim)
        env = {**os.environ, "KITE_API_KEY": "sim_api_key", "KITE_ACCESS_TOKEN": "sim_access_token",
               "KITE_API_URL": sim.root, "KITE_TICKER_URL": sim.ws_root,
               "REDIS_URL": found.redis_url, "DATABASE_URL": database_url,
               "REDIS_KEY_PREFIX": prefix, "SPOOL_DIR": str(spool), "WEEKLY_EXPIRIES": "6",
               "UNDERLYINGS": ",".join(UNDERLYINGS),
               "STRIKES_EACH_SIDE": "0", "LOG_LEVEL": "WARNING",
               **{k: v for k, v in os.environ.items() if k == "CYCLE_MS"}}  # fmt: skip
        feed = subprocess.Popen([sys.executable, "-m", "feed_container"], env=env,
                                stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            owner = {i.instrument_token: i.underlying for i in sim.server.sim.instruments}
            run(feed, found.redis_url, prefix, database_url, sent, owner)
        finally:
            feed.terminate()
            feed.wait(60)
            with psycopg.connect(found.database_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            client = redis.Redis.from_url(found.redis_url)
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)


def run(feed: subprocess.Popen[bytes], redis_url: str, prefix: str, database_url: str,
        sent: SendTimes, owner: dict[int, str]) -> None:  # fmt: skip
    """Measures the running feed; ``owner``: each instrument token's underlying."""
    r = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 120
    health: dict[str, object] = {}
    while time.monotonic() < deadline:
        raw = r.get(f"{prefix}health")
        health = json.loads(raw) if raw else {}
        if health.get("connected") and int(health.get("ticks", 0)) > 0:  # type: ignore[call-overload]
            break
        if feed.poll() is not None:
            raise SystemExit(f"feed exited with {feed.returncode}")
        time.sleep(0.5)
    else:
        raise SystemExit("feed did not start receiving ticks")
    time.sleep(WARMUP_S)

    proc = psutil.Process(feed.pid)
    with psycopg.connect(database_url) as conn:
        rows0 = conn.execute("SELECT count(*) FROM ticks").fetchone()[0]  # type: ignore[index]
    processes = [proc, *proc.children(recursive=True)]  # the feed and its publisher
    cpu0, t0 = [p.cpu_times() for p in processes], time.monotonic()
    latencies: list[float] = []
    by_underlying: dict[str, list[float]] = {name: [] for name in UNDERLYINGS}
    feed_latencies: list[float] = []
    last_id = "$"
    end = time.monotonic() + WINDOW_S
    ticks_seen = 0
    # Each underlying's publisher time, as health has it each second (the last cycle that
    # priced it): percentiles over the window, not one cycle that may also have closed a minute.
    cycles: dict[str, list[tuple[float, float]]] = {name: [] for name in UNDERLYINGS}
    next_health, last_health_ts = 0.0, None
    while time.monotonic() < end:
        if time.monotonic() >= next_health:
            next_health = time.monotonic() + 1.0
            raw = r.get(f"{prefix}health")
            doc = json.loads(raw) if raw else {}
            if doc.get("ts") != last_health_ts:
                last_health_ts = doc.get("ts")
                for name, part in (doc.get("underlyings") or {}).items():
                    if part.get("cycle_ms") is not None and name in cycles:
                        cycles[name].append((part["cycle_ms"], part.get("cycle_cpu_ms") or 0.0))
        reply = r.xread({f"{prefix}ticks": last_id}, block=500, count=1000)
        for _stream, entries in reply:
            for entry_id, fields in entries:
                last_id = entry_id
                at_ms = int(entry_id.split(b"-")[0])
                feed_latencies.append(at_ms / 1000 - int(fields[b"received_us"]) / 1e6)
                cols = json.loads(fields[b"data"])
                ticks_seen += len(cols["token"])
                with sent.lock:
                    for tok, ts_us, vol in zip(cols["token"], cols["exchange_ts"], cols["volume"],
                                               strict=True):  # fmt: skip
                        if not sent.sampled(tok):
                            continue
                        t_sent = sent.at.pop((tok, ts_us // 1_000_000, vol), None)
                        if t_sent is not None:
                            latencies.append(at_ms / 1000 - t_sent)
                            by_underlying.setdefault(owner.get(tok, "?"), []).append(
                                at_ms / 1000 - t_sent
                            )
    cpu1, t1 = [p.cpu_times() for p in processes], time.monotonic()
    with psycopg.connect(database_url) as conn:
        rows1 = conn.execute("SELECT count(*) FROM ticks").fetchone()[0]  # type: ignore[index]
    raw = r.get(f"{prefix}health")
    health = json.loads(raw) if raw else health
    elapsed = t1 - t0
    cpu = sum(b.user - a.user + b.system - a.system for a, b in zip(cpu0, cpu1, strict=True))
    cpu /= elapsed
    lat = np.array(latencies) * 1000
    print(f"feed at {health.get('instruments')} instruments, full mode, one tick per instrument "
          f"per second, {elapsed:.0f} s window:")  # fmt: skip
    print(f"  ticks into Redis      {ticks_seen / elapsed:10,.0f} ticks/s")
    print(f"  feed CPU              {cpu * 100:10.1f} % of one core (feed + publisher process)")
    inside = np.array(feed_latencies) * 1000
    for name, values in (
        ("tick-to-Redis, feed receipt", inside),
        ("tick-to-Redis, sim socket", lat),
    ):
        if len(values):
            p50, p90, p99 = np.percentile(values, [50, 90, 99])
            print(
                f"  {name:28s} p50 {p50:6.1f} ms  p90 {p90:6.1f} ms  p99 {p99:6.1f} ms  "
                f"max {values.max():6.1f} ms  ({len(values):,} samples; target p99 < 50 ms)"
            )
    found = health.get("underlyings")
    parts: dict[str, dict[str, float]] = found if isinstance(found, dict) else {}
    for name, samples in by_underlying.items():
        part = parts.get(name, {})
        p99 = f"{np.percentile(np.array(samples) * 1000, 99):6.1f} ms" if samples else "     -"
        seen = np.array(cycles.get(name) or [(np.nan, np.nan)])
        wall50, wall99 = np.percentile(seen[:, 0], [50, 99])
        cpu50 = np.percentile(seen[:, 1], 50)
        print(f"  {name:10s} {part.get('instruments', 0):5} instruments "
              f"({part.get('instruments_trimmed', 0)} trimmed): tick-to-Redis p99 {p99} "
              f"({len(samples):,} samples); publisher time a cycle p50 {wall50:.1f} ms "
              f"(CPU {cpu50:.1f}), p99 {wall99:.1f} ms ({len(cycles.get(name, []))} "
              f"health samples)")  # fmt: skip
    print(f"  archive               {(rows1 - rows0) / elapsed:10,.0f} rows/s into PostgreSQL")
    print(
        f"  cycle                 {health.get('cycle_ms')} ms last (publisher CPU "
        f"{health.get('cycle_cpu_ms')} ms), "
        f"{health.get('max_cycle_ms')} ms max; archive lag "
        f"{health.get('archive', {}).get('lag_records')} records"
    )  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
