"""End to end: a tick at the simulator's socket to the WebSocket client that receives it.

The stack as `strikeboard dev` plans it (`strikeboard.dev.plan`): the Kite simulator, the feed
(`python -m feed_container`, with its publisher process), the local gateway and the pusher,
on private Redis and PostgreSQL unless REDIS_URL / DATABASE_URL are set, all on the
simulator's market clock (MARKET_CLOCK), so the simulated morning BENCH_AT runs at any wall
time. The simulator runs in this process (so that it can stamp its sockets, below) with the
flags `plan` gives it, a universe wide enough for BENCH_INSTRUMENTS (default 9,000: Kite's 3
connections x 3,000 tokens, the most the feed can subscribe) over BENCH_EXPIRIES expiries, and
every instrument ticking each market second (BENCH_EVERY_SECOND=0: the simulator's own,
liquidity-driven tick rate). Then, one phase each, BENCH_CLIENTS WebSocket clients (default
100 and 1,000, in a process of their own, opening BENCH_RAMP sockets a second), each
subscribed to one of the nearest BENCH_SPREAD expiries, measured for BENCH_DURATION seconds
after BENCH_WARMUP. The pusher's and feed's own variables (CYCLE_MS, PUSH_WORKERS, ...) pass
through.

What is measured: the simulator stamps each market second when the first frame holding a tick
of that second has been written to a ticker socket (its exchange_timestamp is that second:
every tick of a second goes out in one step). The feed carries the newest exchange timestamp
to the browser twice: as the expiry document's ``ts`` (the newest tick of the cycle that priced
it: the chain path, through the publisher, the delta, the pusher) and as each instrument's
``ts`` in ``market`` messages (spot, VIX, futures, written to Redis at ingest, polled by the
pusher: the market path). Each client notes when the newest ``ts`` it holds grows; the age of
that change is its receipt time minus the simulator's stamp (wall clocks of one machine). A
probe process shows where the time goes: the same age when the second reaches the feed's
recent-ticks stream in Redis (ingest) and a delta on the clients' expiry's live channel (the
publisher). Printed: p50/p99/max per stage and client count, messages per client-minute, and
the CPU of each process (psutil) over the window. Target (issue 14): chain p99 under
CYCLE_MS + 150 ms at 100 clients.

Run: uv run python bench/bench_e2e.py (BENCH_CLIENTS=100 BENCH_DURATION=20 for a short one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]  # no stubs locked; typed at its uses
import psycopg
import redis

from strikeboard import dev, devservices
from strikeboard.auth import Principal
from strikeboard.config import get_settings
from strikeboard.market.calendar import Phase, phase
from strikeboard.market.universe import (
    MAX_CONNECTIONS,
    MAX_TOKENS_PER_CONNECTION,
    Catalog,
    UniverseConfig,
    UniverseError,
    parse_instruments_csv,
    select_universe,
)
from strikeboard.push import messages
from strikeboard.sim import cli as sim_cli
from strikeboard.sim.engine import SimConfig, Simulator
from strikeboard.sim.server import Running, SentMessage, run_simulator
from strikeboard.sim.universe import UniverseConfig as SimUniverse
from strikeboard.sim.universe import build_universe, instruments_csv
from strikeboard.store.auth_state import AuthState
from strikeboard.store.hot import HotStore
from strikeboard.store.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTS = int(os.environ.get("BENCH_INSTRUMENTS", "9000"))
EXPIRIES = int(os.environ.get("BENCH_EXPIRIES", "20"))
CLIENTS = [int(n) for n in os.environ.get("BENCH_CLIENTS", "100,1000").split(",") if n]
DURATION_S = float(os.environ.get("BENCH_DURATION", "60"))
WARMUP_S = float(os.environ.get("BENCH_WARMUP", "10"))
SPREAD = int(os.environ.get("BENCH_SPREAD", "1"))
EVERY_SECOND = os.environ.get("BENCH_EVERY_SECOND", "1") != "0"
AT = os.environ.get("BENCH_AT", "2026-11-25T10:00")
SEED = int(os.environ.get("BENCH_SEED", "7"))
RAMP = float(os.environ.get("BENCH_RAMP", "100"))
"""Clients opening their socket per second (a busy gateway refuses a handshake that takes
over 10 s with a 408: a burst of 1,000 at once mostly fails on a loaded machine)."""
TARGET_CLIENTS = 100
CONNECT_ATTEMPTS = 8
TARGET_EXTRA_MS = 150.0
"""Issue 14: tick-to-client p99 under the cycle period plus this, at TARGET_CLIENTS."""
STRIKE_STEP_NEAR, STRIKE_BAND_NEAR, STRIKE_STEP_FAR = 50, 1500, 100
"""The simulator's weekly strike grid (sim.universe.listing): 50 apart within 1,500 points of
the money, 100 apart beyond."""


# -- the universe: what the simulator lists and the feed subscribes ----------------------------


@dataclass(frozen=True)
class Sizing:
    universe: SimUniverse
    """The simulator's listing: EXPIRIES weeklies, strikes wide enough for the window."""
    strikes_each_side: int
    """STRIKES_EACH_SIDE for the feed."""
    instruments: int
    """The feed's selection at the previous close (spot, VIX, the future and the options)."""


def size_universe(config: SimConfig, target: int, expiries: int) -> Sizing:
    """The simulator listing and the feed's STRIKES_EACH_SIDE whose selection (the feed's own
    `select_universe`, WEEKLY_EXPIRIES=expiries) holds the most instruments up to ``target``
    and Kite's 3 x 3,000. Each window keeps about 2,000 points of listed strikes beyond it, so
    the count holds wherever the spot has moved since the previous close."""
    limit = min(target, MAX_CONNECTIONS * MAX_TOKENS_PER_CONNECTION)
    probe = Simulator(replace(config, universe=None))
    ref = float(probe.model.close(probe.prev_day))
    per_side = math.ceil((limit / max(expiries, 1) / 2 - 1) / 2)
    near = STRIKE_BAND_NEAR // STRIKE_STEP_NEAR
    reach = STRIKE_BAND_NEAR + max(0, per_side - near) * STRIKE_STEP_FAR + 2000
    # Strikes above 102,350 have no exchange_token (sim.universe.nfo_exchange_token).
    wide = SimUniverse(lot_size=config.lot_size, weeklies=expiries,
                       range_lo=max(0.01, 1 - reach / ref),
                       range_hi=min(1 + reach / ref, 100_000 / ref))  # fmt: skip
    listed = parse_instruments_csv(
        instruments_csv(build_universe(probe.day, ref, probe.calendar, wide))
    )

    def selected(each_side: int) -> int:
        cfg = UniverseConfig(weekly_expiries=expiries, include_monthly=True,
                             strikes_each_side=each_side)  # fmt: skip
        try:
            chosen = select_universe(Catalog(listed, cfg), ref, probe.day)
        except UniverseError:  # spot, VIX and futures alone over Kite's capacity
            return limit + 1
        # Over Kite's capacity the feed trims the farthest strikes (issue 15): whole windows
        # only here, so that nothing is trimmed and no warning is logged each re-centring.
        return limit + 1 if chosen.trimmed else len(chosen.tokens)

    lo, hi = 1, per_side * 2 + 10  # the count grows with the window: the largest that fits
    if selected(lo) > limit:
        raise SystemExit(f"even one strike each side of {expiries} expiries exceeds {limit}")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if selected(mid) <= limit else (lo, mid - 1)
    return Sizing(wide, lo, selected(lo))


# -- the simulator's socket stamps -------------------------------------------------------------


class SocketStamps:
    """Exchange second (epoch) -> wall time its first tick was written to a ticker socket.

    `SimServer.on_sent` runs on the simulator's loop right after a frame is queued for a
    connection, whose sender task was woken by that put; a callback scheduled then runs after
    that task has written the frame to the socket's transport (unless the socket pushes back,
    when the stamp comes early and the age reads longer, never shorter)."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self._newest = 0

    def __call__(self, msg: SentMessage) -> None:
        newest = max((int(a["exchange_timestamp"].max()) for a in msg.packets
                      if len(a) and "exchange_timestamp" in (a.dtype.names or ())),
                     default=0)  # fmt: skip
        if newest > self._newest:
            self._newest = newest
            asyncio.get_running_loop().call_soon(self._stamp, newest)

    def _stamp(self, second: int) -> None:
        self.at.setdefault(second, time.time())


# -- the clients process -----------------------------------------------------------------------


@dataclass
class ClientTotals:
    """What every client of the process received (counters reset by ``start``)."""

    chain: list[tuple[int, float]] = field(default_factory=list)
    market: list[tuple[int, float]] = field(default_factory=list)
    messages: int = 0
    bytes: int = 0
    subscribed: int = 0
    failed: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)


def _newest(message: dict[str, Any]) -> tuple[str, float] | None:
    """The path and newest exchange timestamp one (inner) message carries, if any."""
    kind = message.get("type")
    ts: Any = None
    if kind == "delta":
        ts = message.get("set", {}).get("ts")
    elif kind == "snapshot":
        ts = (message.get("data") or {}).get("ts")
    elif kind == "market":
        stamps = [v.get("ts") for v in (message.get("data") or {}).values()]
        ts = max((s for s in stamps if isinstance(s, int | float)), default=None)
        return None if ts is None else ("market", float(ts))
    return None if not isinstance(ts, int | float) else ("chain", float(ts))


async def _client(url: str, expiry: str, tickets: AuthState, totals: ClientTotals,
                  done: asyncio.Event, count: int) -> None:  # fmt: skip
    from websockets.asyncio.client import connect  # noqa: PLC0415

    newest = {"chain": 0.0, "market": 0.0}
    assembler = messages.Assembler()
    subscribed = False

    def settled() -> None:
        if totals.subscribed + totals.failed == count:
            done.set()

    for attempt in range(CONNECT_ATTEMPTS):
        try:
            # A ticket as POST /api/ws/ticket stores it, issued straight into Redis (the HTTP
            # API is not measured) just before its one use: it lives 30 s.
            ticket = tickets.issue_ticket(Principal("bench", "bench"))
            async with connect(f"{url}?ticket={ticket}", max_size=None, compression=None,
                               open_timeout=120) as socket:  # fmt: skip
                await socket.send(json.dumps({"action": "subscribe", "expiry": expiry}))
                async for raw in socket:
                    now = time.time()
                    if not raw:
                        continue  # an empty route response
                    totals.messages += 1
                    totals.bytes += len(raw)
                    message = orjson.loads(raw)
                    if message.get("type") == "part":
                        message = assembler.feed(message)
                        if message is None:
                            continue
                    for inner in messages.unbatch(message):
                        found = _newest(inner)
                        if found is not None and found[1] > newest[found[0]]:
                            newest[found[0]] = found[1]
                            getattr(totals, found[0]).append((int(found[1]), now))
                        # A snapshot, or a reset when it is too large for a route response:
                        # the connection is subscribed either way (deltas follow).
                        if not subscribed and inner.get("type") in ("snapshot", "reset"):
                            subscribed = True
                            totals.subscribed += 1
                            settled()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # counted and shown, never fatal to the others
            totals.errors.append(f"{type(exc).__name__}: {exc}")
            if subscribed:
                return  # a socket lost mid-run is not reopened: its samples stop
            if attempt + 1 == CONNECT_ATTEMPTS:
                totals.failed += 1
                settled()
                return
            # Refused or timed out at the handshake (a busy gateway answers 408 after 10 s):
            # retry with backoff and a new ticket, as the SPA does.
            totals.retries += 1
            await asyncio.sleep(min(2.0**attempt, 8.0) * (0.5 + random.random()))


async def clients_main(url: str, count: int, expiries: list[str]) -> None:
    """``count`` clients; READY once all are subscribed; ``start`` resets the counters,
    ``stop`` ends them and prints what arrived as JSON."""
    hot = HotStore.from_url(os.environ["REDIS_URL"], os.environ["REDIS_KEY_PREFIX"], timeout=5)
    tickets = AuthState.of(hot)
    totals = ClientTotals()
    done = asyncio.Event()
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(
            _client(url, expiries[i % len(expiries)], tickets, totals, done, count)
        ))  # fmt: skip
        if i % 10 == 9:
            await asyncio.sleep(10 / RAMP)  # a ramp, like browsers arriving
    await asyncio.wait_for(done.wait(), 300)
    print(f"READY {totals.subscribed} {totals.failed} {totals.retries}", flush=True)
    loop = asyncio.get_running_loop()
    started = 0.0
    while (line := (await loop.run_in_executor(None, sys.stdin.readline)).strip()) != "stop":
        if line == "start":
            totals.messages = totals.bytes = 0
            started = time.time()
    ended = time.time()
    # One line, before the sockets close: the orchestrator reads it without waiting for exit.
    print(json.dumps({"chain": totals.chain, "market": totals.market,
                      "messages": totals.messages, "bytes": totals.bytes,
                      "window": [started, ended], "failed": totals.failed,
                      "errors": totals.errors[:5], "error_count": len(totals.errors)}),
          flush=True)  # fmt: skip
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=10)
    hot.close()


# -- processes and their CPU -------------------------------------------------------------------


def _describe(owner: str, proc: psutil.Process) -> str | None:
    """A label for a child of one of the stack's processes (None: not worth a line)."""
    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return None
    if any("resource_tracker" in part for part in cmd):
        return None
    if "--shard" in cmd:
        return f"{owner} shard {cmd[cmd.index('--shard') + 1]}"
    if any("spawn_main" in part for part in cmd):
        return f"{owner}: publisher" if owner == "feed" else f"{owner}: worker {proc.pid}"
    return f"{owner}: {proc.name()} {proc.pid}"


def _redis_server(redis_url: str) -> psutil.Process | None:
    """The redis-server listening on the URL's port, when it runs here and is visible."""
    port = int(redis_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[-1] or 6379)
    for proc in psutil.process_iter(["name"]):
        if not (proc.info["name"] or "").startswith("redis-server"):
            continue
        with contextlib.suppress(psutil.Error):
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN
                   for c in proc.net_connections("tcp")):  # fmt: skip
                return proc
    return None


def _postgres_backends(database: str) -> list[psutil.Process]:
    """The PostgreSQL backends serving ``database`` (their title names it), when visible."""
    found = []
    for proc in psutil.process_iter(["name"]):
        if (proc.info["name"] or "").startswith("postgres"):
            with contextlib.suppress(psutil.Error):
                if f" {database} " in " ".join(proc.cmdline()) + " ":
                    found.append(proc)
    return found


def watched(stack: dict[str, int], redis_url: str,
            database: str) -> list[tuple[str, psutil.Process]]:  # fmt: skip
    """Every process of the stack by name (children included), Redis and the PostgreSQL
    backends of the bench's database if found, this one. A name may repeat (summed)."""
    out: list[tuple[str, psutil.Process]] = [("simulator (+ this bench's main thread)",
                                              psutil.Process())]  # fmt: skip
    for name, pid in stack.items():
        proc = psutil.Process(pid)
        out.append((name, proc))
        for child in proc.children(recursive=True):
            label = _describe(name, child)
            if label is not None:
                out.append((label, child))
    found = _redis_server(redis_url)
    if found is not None:
        shared = "" if os.environ.get("REDIS_URL") is None else " (shared: other users count)"
        out.append((f"redis-server{shared}", found))
    out += [("postgresql (the archive's backends)", p) for p in _postgres_backends(database)]
    return out


def _cpu_seconds(proc: psutil.Process) -> float:
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return math.nan
    return float(times.user + times.system)


# -- the probe: where the time goes --------------------------------------------------------------


async def probe_main(expiry: str) -> None:
    """When the newest exchange second first reaches Redis: in the feed's recent-ticks stream
    (ingest; the entry id is Redis's clock) and in a delta published on the expiry's live
    channel (the publisher; this process's receipt). Prints READY, then the samples as JSON
    once ``stop`` comes on stdin."""
    import redis.asyncio as aioredis  # noqa: PLC0415

    keys = Keys(os.environ["REDIS_KEY_PREFIX"])
    client = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    seen: dict[str, list[tuple[int, float]]] = {"ingest": [], "published": []}

    async def live() -> None:
        pubsub = client.pubsub()
        await pubsub.subscribe(keys.channel("NIFTY", expiry))
        newest = 0.0
        async for msg in pubsub.listen():
            if msg["type"] != "message":
                continue
            now = time.time()
            ts = orjson.loads(msg["data"]).get("set", {}).get("ts")
            if isinstance(ts, int | float) and ts > newest:
                newest = ts
                seen["published"].append((int(ts), now))

    async def ticks() -> None:
        last: bytes | str = "$"
        newest = 0
        while True:
            reply: Any = await client.xread({keys.ticks(): last}, block=1000, count=100)
            for _stream, entries in reply:
                for entry_id, fields in entries:
                    last = entry_id
                    second = int(max(orjson.loads(fields[b"data"])["exchange_ts"]) // 1_000_000)
                    if second > newest:
                        newest = second
                        seen["ingest"].append((second, int(entry_id.split(b"-")[0]) / 1000))

    tasks = [asyncio.create_task(live()), asyncio.create_task(ticks())]
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() != "stop":
        pass
    # One line first: a blocking XREAD does not always give way to a cancel at once.
    print(json.dumps(seen), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=5)


# -- one phase: N clients ----------------------------------------------------------------------

STAGES = (
    ("ingest", "ticks in Redis (feed ingest)"),
    ("published", "chain delta published"),
    ("chain", "client: chain (delta ts)"),
    ("market", "client: market (spot/fut ts)"),
)


@dataclass
class PhaseResult:
    clients: int
    subscribed: int
    failed: int
    retries: int
    window: tuple[float, float]
    samples: dict[str, list[tuple[int, float]]]
    """Stage -> (exchange second, wall time it got there), the newest second each time."""
    messages: int
    bytes: int
    cpu: dict[str, float]
    errors: list[str]
    feed_cycle_ms: tuple[Any, Any]
    load: tuple[float, float]
    """The machine's 1-minute load average as the window starts and ends."""
    ages: dict[str, list[float]] = field(default_factory=dict)
    unstamped: int = 0

    def age(self, stamps: dict[int, float]) -> None:
        """The ages (ms) of the samples inside the window, from the simulator's stamps."""
        t0, t1 = self.window
        for stage, samples in self.samples.items():
            ages = self.ages.setdefault(stage, [])
            for second, at in samples:
                if not t0 <= at <= t1:
                    continue
                sent = stamps.get(second)
                if sent is None:
                    self.unstamped += 1
                else:
                    ages.append((at - sent) * 1000)


def run_phase(count: int, ws_url: str, env: dict[str, str], expiries: list[str],
              processes: list[tuple[str, Any]], hot: HotStore) -> PhaseResult:  # fmt: skip
    argv = [sys.executable, __file__, "--clients", ws_url, str(count), ",".join(expiries)]
    with _process(argv, env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as clients:
        assert clients.stdout is not None and clients.stdin is not None
        head = clients.stdout.readline().split()
        if not head or head[0] != "READY":
            raise RuntimeError(f"clients failed to start: {head!r}")
        subscribed, failed, retries = int(head[1]), int(head[2]), int(head[3])
        time.sleep(WARMUP_S)  # the pusher settles with its new connections
        processes = [*processes, ("clients", psutil.Process(clients.pid))]
        before = [_cpu_seconds(p) for _, p in processes]
        started = time.monotonic()
        load_before = os.getloadavg()[0]
        clients.stdin.write("start\n")
        clients.stdin.flush()
        time.sleep(DURATION_S)
        clients.stdin.write("stop\n")
        clients.stdin.flush()
        elapsed = time.monotonic() - started
        load_after = os.getloadavg()[0]
        cpu: dict[str, float] = {}
        for (name, proc), start in zip(processes, before, strict=True):
            cpu[name] = cpu.get(name, 0.0) + (_cpu_seconds(proc) - start) / elapsed * 100
        result = json.loads(clients.stdout.readline())
    health = hot.read_health() or {}
    return PhaseResult(
        count, subscribed, failed, retries, tuple(result["window"]),
        {"chain": result["chain"], "market": result["market"]},
        result["messages"], result["bytes"], cpu, result["errors"],
        (health.get("cycle_ms"), health.get("max_cycle_ms")), (load_before, load_after),
    )  # fmt: skip


@contextlib.contextmanager
def _process(argv: list[str], env: dict[str, str], **kw: Any) -> Iterator[subprocess.Popen[Any]]:
    proc = subprocess.Popen(argv, env=env, **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the stack ---------------------------------------------------------------------------------


def _carried(sim: Running) -> int:
    """Instruments subscribed on the simulator's ticker sockets (what the feed gets)."""
    return int(sim.call(lambda: sum(len(c.subs) for c in sim.server.conns.values())))


def _wait_live(hot: HotStore, sim: Running, redis_url: str, prefix: str, expiries: int,
               stack: dict[str, int], timeout: float = 300) -> int:  # fmt: skip
    """Until the feed's shards are subscribed and connected, every expiry is published and the
    pusher listens; the instruments the simulator's sockets carry."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    state = "nothing yet"
    try:
        while time.monotonic() < deadline:
            for name, pid in stack.items():
                if not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie":
                    raise RuntimeError(f"{name} exited while starting")
            health = hot.read_health() or {}
            live = hot.expiries("NIFTY")
            channel = f"{prefix}orders"
            listening = dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)
            state = (
                f"feed connected={health.get('connected')}, {len(live)} expiries live, "
                f"{_carried(sim)} instruments on the ticker, pusher listening={listening}"
            )
            if health.get("connected") and len(live) >= expiries and listening:
                time.sleep(2.0)  # the last subscriptions of a shard
                return _carried(sim)
            time.sleep(1.0)
    finally:
        client.close()
    raise RuntimeError(f"stack not live after {timeout:.0f} s: {state}")


def _market_at() -> dt.datetime:
    at = dev.market_time(AT)
    if phase(at) != Phase.OPEN:
        raise SystemExit(f"BENCH_AT={AT} is outside market hours: no ticks to measure")
    return at


def main() -> None:
    at = _market_at()
    local = Path(tempfile.mkdtemp(prefix="bench-e2e-", dir=ROOT / ".local"))
    try:
        with contextlib.ExitStack() as stack:
            found = stack.enter_context(devservices.services(local, durable=False))
            db = f"bench_e2e_{os.getpid()}"
            with psycopg.connect(found.database_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{db}"')

            def drop() -> None:
                with psycopg.connect(found.database_url, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

            stack.callback(drop)
            database_url = found.database_url.rsplit("/", 1)[0] + f"/{db}"
            services = devservices.Services(found.redis_url, database_url)
            results, header = run_stack(stack, services, local, at)
    finally:
        shutil.rmtree(local, ignore_errors=True)
    report(results, header)


def run_stack(stack: contextlib.ExitStack, services: devservices.Services, local: Path,
              at: dt.datetime) -> tuple[list[PhaseResult], dict[str, Any]]:  # fmt: skip
    from bench_feed import seed_previous_close  # noqa: PLC0415 - bench/ is the script's path

    prefix = f"benche2e:{uuid.uuid4().hex[:8]}:"
    sim_port, port = devservices.free_port(), devservices.free_port()
    args = argparse.Namespace(port=port, sim_port=sim_port, speed=1.0, seed=SEED, at=at,
                              local_dir=local)  # fmt: skip
    sim_child, *children = dev.plan(args, sim_port)
    # The simulator `plan` would start, here: its own flags, a wider listing, the stamps.
    parser = argparse.ArgumentParser()
    sim_cli.add_arguments(parser)
    flags = sim_child.argv[sim_child.argv.index("sim") + 1 :]
    config, options = sim_cli.build(parser.parse_args(flags + ["--every-second"] * EVERY_SECOND))
    sizing = size_universe(config, INSTRUMENTS, EXPIRIES)
    config = replace(config, universe=sizing.universe)
    stamps = SocketStamps()
    sim = stack.enter_context(
        run_simulator(sim_port, config=config, options=options, start_timeout_s=300)
    )
    sim.server.on_sent = stamps
    seed_previous_close(services.database_url, sim.server.sim)
    if sim_child.after_ready is not None:
        sim_child.after_ready()  # the market clock, shared with the feed, gateway and pusher
    env = {**dev.stack_env(services, sim_port, secrets.token_urlsafe(16)),
           # One underlying, as the simulator's widened listing above (dev's default is three).
           "UNDERLYINGS": "NIFTY", "REDIS_KEY_PREFIX": prefix, "WEEKLY_EXPIRIES": str(EXPIRIES),
           "STRIKES_EACH_SIDE": str(sizing.strikes_each_side), "INCLUDE_MONTHLY": "true",
           "COGNITO_ISSUER": "", "LOG_LEVEL": "WARNING",
           "POWERTOOLS_LOG_LEVEL": "WARNING"}  # fmt: skip
    hot = HotStore.from_url(services.redis_url, prefix, timeout=5)
    stack.callback(_forget, services.redis_url, prefix)
    stack.callback(hot.close)
    supervisor = stack.enter_context(dev.run_children(children, env))
    # No supervisor.tick(): a child that exits is not restarted, the bench fails instead.
    pids = {r.child.name: r.proc.pid for r in supervisor.running}
    carried = _wait_live(hot, sim, services.redis_url, prefix, EXPIRIES, pids)
    expiries = hot.expiries("NIFTY")[: max(1, SPREAD)]
    document = hot.read_snapshot("NIFTY", expiries[0]) or {}
    probe = stack.enter_context(_process(
        [sys.executable, __file__, "--probe", expiries[0]], env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ))  # fmt: skip
    assert probe.stdin is not None and probe.stdout is not None
    if probe.stdout.readline().strip() != "READY":
        raise RuntimeError("the probe failed to start")
    time.sleep(WARMUP_S)
    database = services.database_url.rsplit("/", 1)[-1]
    processes = [*watched(pids, services.redis_url, database), ("probe", psutil.Process(probe.pid))]
    results = []
    for count in CLIENTS:
        results.append(run_phase(count, f"ws://127.0.0.1:{port}/ws", env, expiries, processes,
                                 hot))  # fmt: skip
        for r in supervisor.running:
            if r.proc.poll() is not None:
                raise RuntimeError(f"{r.child.name} exited with {r.proc.returncode}")
    probe.stdin.write("stop\n")
    probe.stdin.flush()
    probed = json.loads(probe.stdout.readline())
    sent = sim.call(lambda: dict(stamps.at))
    for result in results:
        result.samples = {**probed, **result.samples}
        result.age(sent)
    header = {
        "carried": carried,
        "strikes_each_side": sizing.strikes_each_side,
        "expiries": expiries,
        "strikes": len(document.get("strikes", {})),
        "snapshot_kb": len(messages.dumps(document)) / 1024 if document else 0.0,
        "market": at,
    }
    return results, header


def _forget(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


# -- the report --------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


def report(results: list[PhaseResult], header: dict[str, Any]) -> None:
    settings = get_settings()
    target = settings.cycle_ms + TARGET_EXTRA_MS
    gap = ""
    if header["carried"] < INSTRUMENTS:
        short = INSTRUMENTS - header["carried"]
        gap = (
            f" (the most that fits Kite's {MAX_CONNECTIONS} x {MAX_TOKENS_PER_CONNECTION} with "
            f"{EXPIRIES} whole strike windows: {short} short)"
        )
    rate = "every instrument ticking each market second" if EVERY_SECOND else "simulator tick rate"
    print(f"\nEnd to end: simulator socket -> feed -> publisher -> Redis -> pusher -> local "
          f"gateway -> WebSocket clients\n"
          f"  {header['carried']:,} instruments on the simulator's sockets of {INSTRUMENTS:,} "
          f"asked{gap}: {EXPIRIES} expiries x {2 * header['strikes_each_side'] + 1} strikes, "
          f"{rate}\n"
          f"  market {header['market']:%Y-%m-%d %H:%M} IST at x1; CYCLE_MS {settings.cycle_ms}, "
          f"PUSH_MARKET_HZ {settings.push_market_hz:g}, PUSH_WORKERS {settings.push_workers}, "
          f"PUSH_POSTER {settings.push_poster}; "
          f"clients on {', '.join(header['expiries'])} ({header['strikes']} strikes, snapshot "
          f"{header['snapshot_kb']:.0f} KB); {DURATION_S:g} s per phase after {WARMUP_S:g} s; "
          f"2 shared cores, other jobs running: figures are noisy\n")  # fmt: skip
    head = (f"{'clients':>7}  {'age of the newest tick at':<30} {'samples':>7} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'max ms':>7}  target: chain p99 < {target:.0f} ms at "
            f"{TARGET_CLIENTS} clients")  # fmt: skip
    print(head)
    print("-" * len(head))
    verdicts = []
    for r in results:
        for stage, label in STAGES:
            ages = r.ages.get(stage, [])
            p50 = statistics.median(ages) if ages else math.nan
            p99, top = _pct(ages, 0.99), max(ages, default=math.nan)
            verdict = ""
            if r.clients == TARGET_CLIENTS and stage == "chain":
                verdict = "PASS" if p99 < target else "FAIL"
                verdicts.append(
                    f"{verdict}: tick-to-client p99 {p99:.0f} ms vs < {target:.0f} ms "
                    f"(CYCLE_MS + {TARGET_EXTRA_MS:.0f}) at {r.clients} clients"
                )
            print(f"{r.clients:>7}  {label:<30} {len(ages):>7} {p50:>7.0f} {p99:>7.0f} "
                  f"{top:>7.0f}  {verdict}")  # fmt: skip
    print()
    for r in results:
        window = r.window[1] - r.window[0]
        per_min = r.messages / max(r.subscribed, 1) / window * 60 if window > 0 else math.nan
        cyc = r.feed_cycle_ms
        notes = [
            f"{r.subscribed} subscribed ({r.retries} handshakes retried)",
            f"{per_min:.1f} messages per client-minute of {r.bytes / max(r.messages, 1) / 1024:.1f}"
            " KB",
            f"feed cycle last {cyc[0]} ms, max {cyc[1]} ms",
            f"load average {r.load[0]:.1f} -> {r.load[1]:.1f}",
        ]
        if r.failed or r.errors:
            shown = list(dict.fromkeys(r.errors))[:2]
            notes.append(f"{r.failed} never subscribed; errors (retried ones too): {shown}")
        if r.unstamped:
            notes.append(f"{r.unstamped} samples without a socket stamp left out")
        print(f"{r.clients} clients: " + "; ".join(notes))
    names = list(dict.fromkeys(name for r in results for name in r.cpu))
    print("\nCPU, % of one core over each window: "
          + " | ".join(f"{r.clients} clients" for r in results))  # fmt: skip
    for name in names:
        cells = " | ".join(f"{r.cpu.get(name, math.nan):>6.0f}" for r in results)
        print(f"  {name:<42} {cells}")
    print("\nage = when the newest exchange second got there - when the simulator wrote its "
          "first tick to a socket (one clock)")  # fmt: skip
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", nargs=3, metavar=("URL", "N", "EXPIRIES"))
    parser.add_argument("--probe", metavar="EXPIRY")
    parsed = parser.parse_args()
    if parsed.clients:
        url, n, expiries = parsed.clients
        asyncio.run(clients_main(url, int(n), expiries.split(",")))
    elif parsed.probe:
        asyncio.run(probe_main(parsed.probe))
    else:
        main()
