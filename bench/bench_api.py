"""HTTP API benchmark: GET /api/chain/{expiry} under 200 concurrent requests.

The real app (`lambdas.http_api:app`) runs under uvicorn in a subprocess on a loopback port,
over Redis holding real snapshots: the simulator's wire ticks through ChainState and
`expiry_snapshot` (5 expiries x 51 strikes, the feed's defaults), published with HotStore.
200 client connections (a minimal asyncio HTTP/1.1 client) issue requests back to back.
Reported: p50/p99 latency and requests/s for

- GET /api/chain/{expiry}                 the live chain (stored JSON spliced, not re-encoded)
- GET /api/chain/{expiry}?strikes=10      parsed, windowed and re-encoded
- GET /api/chain/{expiry}?convention=nse  parsed and re-priced (IV + Greeks of every leg)
- GET /api/health (reference)             one Redis GET and one PostgreSQL SELECT 1

"server CPU" is the uvicorn process's CPU time per request (ms): what the app itself costs,
independent of the client and of other load on the machine.

The client shares the machine (2 cores) with the server, so the figures are a floor.
Uses REDIS_URL / DATABASE_URL when set, otherwise private servers (strikeboard.devservices).
Run: uv run python bench/bench_api.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import psutil  # type: ignore[import-untyped]
import redis

from strikeboard import devservices
from strikeboard.chain.snapshot import PricingParams, expiry_snapshot, market_document
from strikeboard.chain.state import ChainState, Field
from strikeboard.market import codec, layouts
from strikeboard.market.calendar import TradingCalendar
from strikeboard.market.universe import NIFTY_50_TOKEN as SPOT_TOKEN
from strikeboard.market.universe import (
    Catalog,
    UniverseConfig,
    parse_instruments_csv,
    select_universe,
)
from strikeboard.sim.engine import SimConfig, default_day
from strikeboard.sim.server import MODE_FULL, SimServer
from strikeboard.sim.universe import instruments_csv
from strikeboard.store.hot import HotStore

CONCURRENCY = 200
TOKEN = "bench-token"
ROOT = Path(__file__).resolve().parents[1]


def publish_market(hot: HotStore) -> list[str]:
    """Real snapshots of every configured expiry at 10:15 IST in Redis; returns expiries."""
    day = default_day(TradingCalendar())
    server = SimServer(SimConfig(seed=11, day=day, every_second=True))
    sim = server.sim
    catalog = Catalog(parse_instruments_csv(instruments_csv(sim.instruments)), UniverseConfig())
    sim.advance_to(3600)
    universe = select_universe(catalog, float(sim.ltp[sim.by_token[SPOT_TOKEN]]), day)
    state = ChainState()
    state.set_universe(universe.instruments)
    idx = np.array([sim.by_token[t] for t in sorted(universe.tokens)])
    state.set_values(Field.OI_PREV, {int(sim.token[i]): float(sim.oi_prev[i]) for i in idx})
    state.apply(codec.decode(layouts.frame_many(server.encode(idx, np.full(len(idx), MODE_FULL)))))
    expiries = []
    for index in state.expiries:
        doc = expiry_snapshot(state, index, sim.market_time(3600), PricingParams(rate=0.065))
        if doc is not None:
            hot.publish(doc)
            expiries.append(doc["expiry"])
    hot.write_market(market_document(state))
    hot.write_health({"ts": time.time(), "token": "ok", "connected": True,
                      "last_tick_age_s": 0.1, "ticks_per_s": 1000.0}, ttl_s=3600)  # fmt: skip
    return expiries


def drop_keys(redis_url: str, prefix: str) -> None:
    """Delete this run's keys (the Redis may be a shared one from REDIS_URL)."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One keep-alive HTTP/1.1 GET on an open connection; returns the status code. A minimal
    client on purpose: httpx's pool costs more CPU per request than the server does."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _load(port: int, path: str, total: int) -> tuple[list[float], float, int]:
    """``total`` GETs of ``path`` from CONCURRENCY connections; (latencies s, wall s, errors)."""
    latencies: list[float] = []
    errors = 0
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Bearer {TOKEN}\r\n\r\n").encode()  # fmt: skip
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CONCURRENCY)]
    # Warm up every connection (and the server's lazy clients) before timing.
    await asyncio.gather(*(_get(r, w, request) for r, w in connections))
    queue = iter(range(total))

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        for _ in queue:
            started = time.perf_counter()
            try:
                status = await _get(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                return
            latencies.append(time.perf_counter() - started)
            errors += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    wall = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    return latencies, wall, errors


def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("uvicorn did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario")
    args = parser.parse_args()
    local = Path(tempfile.mkdtemp(prefix="bench-api-", dir=ROOT / ".local"))
    try:
        with devservices.services(local, durable=False) as found:
            prefix = f"bench:{uuid.uuid4().hex[:8]}:"
            hot = HotStore.from_url(found.redis_url, prefix)
            expiries = publish_market(hot)
            snapshot_kb = (
                len(hot.client.hget(hot.keys.snapshot("NIFTY", expiries[0]), "data") or b"") / 1024
            )
            port = devservices.free_port()
            env = {**os.environ, "REDIS_URL": found.redis_url, "REDIS_KEY_PREFIX": prefix,
                   "DATABASE_URL": found.database_url, "DEV_TOKEN": TOKEN, "COGNITO_ISSUER": "",
                   "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", "/tmp/numba")}  # fmt: skip
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "lambdas.http_api:app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning", "--no-access-log",
                 "--timeout-keep-alive", "120"],
                cwd=ROOT, env=env,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_up(base, proc)
                server = psutil.Process(proc.pid)
                expiry = expiries[0]
                scenarios = [
                    ("GET /api/chain/{expiry}", f"/api/chain/{expiry}"),
                    ("  ?strikes=10", f"/api/chain/{expiry}?strikes=10"),
                    ("  ?convention=nse", f"/api/chain/{expiry}?convention=nse"),
                    ("GET /api/health (reference)", "/api/health"),
                ]
                print(f"{len(expiries)} expiries in Redis; snapshot JSON {snapshot_kb:.0f} KB; "
                      f"{CONCURRENCY} concurrent clients, {args.requests} requests per row; "
                      f"uvicorn, 1 worker; {os.cpu_count()} CPUs shared with the client, "
                      f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
                print(f"{'request':<30} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} "
                      f"{'server CPU':>10} {'errors':>7}")  # fmt: skip
                for name, path in scenarios:
                    before = server.cpu_times()
                    lat, wall, errors = asyncio.run(_load(port, path, args.requests))
                    after = server.cpu_times()
                    cpu_ms = (after.user + after.system - before.user - before.system) * 1e3
                    per_request = cpu_ms / (args.requests + CONCURRENCY)  # + the warm-up
                    ms = sorted(x * 1e3 for x in lat)
                    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
                    print(f"{name:<30} {statistics.median(ms):>8.1f} {p99:>8.1f} "
                          f"{len(ms) / wall:>8.0f} {per_request:>10.2f} {errors:>7}")  # fmt: skip
            finally:
                proc.terminate()
                proc.wait(timeout=20)
                drop_keys(found.redis_url, prefix)
                hot.close()
    finally:
        shutil.rmtree(local, ignore_errors=True)


if __name__ == "__main__":
    main()
