"""Push benchmark: WebSocket clients on the local gateway, one expiry, N updates/s.

Processes: the gateway (`python -m strikeboard.gateway`) and the pusher
(`python -m strikeboard.push`), as `strikeboard dev` runs them; the clients in a third
process (`websockets`); this process publishes real simulator snapshots with
`HotStore.publish` (one simulated market second each, ~13 KB deltas) and writes the market
hash with each, for BENCH_DURATION seconds. Figures: updates offered (published x clients)
and delta messages delivered (a client that falls behind gets one merged delta for several
updates: delivered % below 100), latency from the PUBLISH (taken when `HotStore.publish`
returns) to a client's receipt of that seq or a later one merged with it (p50/p99/max, wall
clocks of one machine), WebSocket messages and API Gateway's 32 KB billing units per client
and minute (what the cost model needs), and CPU of each process. A few clients apply every
delta (re-fetching from Redis on a reset, as the SPA does over REST) and their documents are
compared with Redis at the end.

Phases, in one run (BENCH_PHASES, comma-separated ``path:workers:clients:hz``):
- ``http``: the pusher with its own SigV4 + keep-alive HTTP poster (the default);
- ``boto3``: the same pusher posting with boto3's ``post_to_connection`` (``PUSH_POSTER=boto3``),
  the reference the new poster is measured against;
- ``reference``: a direct fan-out server (one process subscribes the Redis channel and writes
  each message to its own sockets: no Management API hop) — the ceiling of a single Python
  process on this machine.
Default: http and boto3 at 1,000 clients x 4 Hz, http at 5,000 connections x 1 Hz, the
reference at 1,000 x 4 Hz. Other knobs: BENCH_DURATION (s, default 30), BENCH_MARKET (0: no
market data), BENCH_VERIFY (clients that rebuild the document, default 5), BENCH_READY_S
(how long the clients may take to connect, default 300), BENCH_POST_RTT_MS (the gateway
answers each post this much later, as the network to API Gateway would: 0 by default);
PUSH_CONCURRENCY and the other pusher settings pass through.

Uses REDIS_URL when set, else a private Redis. Run: uv run python bench/bench_push.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis

from strikeboard import devservices
from strikeboard.auth import Principal
from strikeboard.dev import GATEWAY_SERVES
from strikeboard.push import messages
from strikeboard.store.auth_state import AuthState
from strikeboard.store.hot import HotStore

ROOT = Path(__file__).resolve().parents[1]
DURATION_S = float(os.environ.get("BENCH_DURATION", "30"))
VERIFY = int(os.environ.get("BENCH_VERIFY", "5"))  # clients that rebuild the document
MARKET = os.environ.get("BENCH_MARKET", "1") != "0"
READY_S = float(os.environ.get("BENCH_READY_S", "300"))
POST_RTT_MS = float(os.environ.get("BENCH_POST_RTT_MS", "0"))  # the gateway's --post-rtt-ms
TOKEN = "bench-token"
UNIT_BYTES = 32 * 1024  # API Gateway meters WebSocket messages in 32 KB units
DEFAULT_PHASES = "http:1:1000:4,boto3:1:1000:4,http:1:5000:1,reference:0:1000:4"
PATHS = {"http", "boto3", "reference"}


@dataclass(frozen=True)
class Phase:
    path: str  # http, boto3 or reference
    workers: int  # pusher processes (PUSH_WORKERS)
    clients: int
    hz: float  # updates published a second

    @classmethod
    def parse(cls, spec: str) -> Phase:
        parts = spec.strip().split(":")
        path, workers, clients, hz = parts + ["1", "1000", "4"][len(parts) - 1 :]
        if path not in PATHS or len(parts) > 4:
            raise SystemExit(f"BENCH_PHASES: {spec!r} is not path:workers:clients:hz "
                             f"with a path of {sorted(PATHS)}")  # fmt: skip
        return cls(path, int(workers), int(clients), float(hz))

    @property
    def name(self) -> str:
        if self.path == "reference":
            return "reference: direct Redis -> sockets"
        workers = f" x{self.workers}" if self.workers > 1 else ""
        return f"pusher{workers} ({'own SigV4 HTTP' if self.path == 'http' else 'boto3'})"


PHASES = [Phase.parse(p) for p in os.environ.get("BENCH_PHASES", DEFAULT_PHASES).split(",") if p]
# A delta's head wherever it is (alone, or inside a batch with the market data): found
# without parsing 14 KB of JSON in the clients' process, which must not be the bottleneck.
_DELTA = re.compile(r'\{"seq":(\d+),"base":(?:\d+|null),"type":"delta"')
_HEAD = '{"seq":'


def delta_seqs(text: str) -> list[int]:
    """The seqs of the deltas in a message (`_DELTA.findall`, jumping from head to head with
    str.find: the regex scanning every character of 14 KB was a tenth of the clients' CPU)."""
    seqs = []
    at = text.find(_HEAD)
    while at >= 0:
        found = _DELTA.match(text, at)
        if found is not None:
            seqs.append(int(found.group(1)))
        at = text.find(_HEAD, found.end() if found is not None else at + 1)
    return seqs


# -- the clients process ---------------------------------------------------------------------


@dataclass
class Tally:
    """What all clients received since the orchestrator said go."""

    frames: int = 0
    units: int = 0  # 32 KB units, as API Gateway bills them


async def _client(url: str, expiry: str, index: int, ready: asyncio.Event, counter: list[int],
                  tally: Tally, out: dict[str, Any], hot: HotStore) -> None:  # fmt: skip
    from websockets.asyncio.client import connect  # noqa: PLC0415

    receipts: list[tuple[int, float]] = []
    follower = messages.Follower() if index < VERIFY else None
    outcomes: Counter[str] = Counter()
    assembler = messages.Assembler()

    def rest() -> None:  # what the SPA does on a reset or a gap: GET /api/chain/{expiry}
        assert follower is not None
        follower.load(hot.read_snapshot("NIFTY", expiry) or {})

    try:
        async with connect(url, max_size=None, compression=None, open_timeout=120) as socket:
            await socket.send(json.dumps({"action": "subscribe", "expiry": expiry}))
            first = True
            async for raw in socket:
                now = time.time()
                text = raw if isinstance(raw, str) else raw.decode()
                if not text:
                    continue  # a route response without a body
                tally.frames += 1
                size = len(text) if text.isascii() else len(text.encode())
                tally.units += -(-size // UNIT_BYTES)
                if follower is None and not first:
                    receipts.extend((seq, now) for seq in delta_seqs(text))
                    if not text.startswith('{"type":"part"'):
                        continue
                message = json.loads(text)
                if message["type"] == "part":
                    message = assembler.feed(message)
                    if message is None:
                        continue
                for inner in messages.unbatch(message):  # a push cycle's messages in one
                    if inner["type"] == "delta" and (follower is not None or first):
                        receipts.append((int(inner["seq"]), now))
                    if follower is not None and inner["type"] in ("snapshot", "delta", "reset"):
                        outcome = follower.handle(inner)
                        outcomes[outcome] += 1
                        if outcome in ("reset", "gap"):
                            rest()
                    if first and inner["type"] in ("snapshot", "reset"):
                        first = False
                        counter[0] += 1
                        if counter[0] == counter[1]:
                            ready.set()
    finally:  # cancelled at the end of the run: keep what arrived
        out["receipts"] = receipts
        out["outcomes"] = outcomes
        if follower is not None:
            out["document"] = follower.document


async def clients_main(url: str, expiry: str, n: int) -> None:
    ready = asyncio.Event()
    counter = [0, n]
    tally = Tally()
    outs: list[dict[str, Any]] = [{} for _ in range(n)]
    tasks = []
    # Each socket opens with its own one-time ticket (what POST /api/ws/ticket stores), issued
    # straight into Redis so that the HTTP API is not part of the measurement.
    hot = HotStore.from_url(os.environ["REDIS_URL"], os.environ["REDIS_KEY_PREFIX"], timeout=5)
    tickets = AuthState.of(hot)
    user = Principal("bench", "bench")
    for i in range(n):
        ticketed = f"{url}?ticket={tickets.issue_ticket(user)}"
        tasks.append(asyncio.create_task(
            _client(ticketed, expiry, i, ready, counter, tally, outs[i], hot)
        ))  # fmt: skip
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # a gentle ramp, like browsers arriving
    await asyncio.wait_for(ready.wait(), READY_S)
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the orchestrator says go
    tally.frames = tally.units = 0
    # This process stands for browsers on other machines: its own collector's pauses (up to
    # 0.5 s walking the receipts of 1,000 clients) are not the push path's latency.
    gc.collect()
    gc.freeze()
    gc.disable()
    await loop.run_in_executor(None, sys.stdin.readline)  # ... and stop
    gc.enable()
    counted = (tally.frames, tally.units)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    hot.close()
    receipts = [r for o in outs for r in o.get("receipts", [])]
    outcomes = sum((o.get("outcomes", Counter()) for o in outs[:VERIFY]), Counter())
    documents = [o.get("document") for o in outs[:VERIFY]]
    json.dump({"receipts": receipts, "documents": documents, "frames": counted[0],
               "units": counted[1], "outcomes": dict(outcomes)}, sys.stdout)  # fmt: skip
    sys.stdout.flush()


# -- the reference: direct fan-out from Redis --------------------------------------------------


def reference_main(port: int, redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis  # noqa: PLC0415
    import uvicorn  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.routing import WebSocketRoute  # noqa: PLC0415
    from starlette.websockets import WebSocket  # noqa: PLC0415

    sockets: set[WebSocket] = set()
    hot = HotStore.from_url(redis_url, prefix)

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        with contextlib.suppress(Exception):
            while True:
                body = json.loads(await websocket.receive_text())
                document = hot.read_snapshot("NIFTY", body["expiry"])
                sockets.add(websocket)
                for part in messages.split(messages.snapshot_message(document or {}), "s"):
                    await websocket.send_text(part)
        sockets.discard(websocket)

    async def broadcast() -> None:
        client = aioredis.Redis.from_url(redis_url)
        pubsub = client.pubsub()
        await pubsub.psubscribe(f"{prefix}live:*")
        async for msg in pubsub.listen():
            if msg["type"] == "pmessage":
                text = msg["data"].decode()
                await asyncio.gather(*(s.send_text(text) for s in list(sockets)),
                                     return_exceptions=True)  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        task = asyncio.create_task(broadcast())
        yield
        task.cancel()

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)], lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning",
                ws_per_message_deflate=False)  # fmt: skip


# -- orchestration -----------------------------------------------------------------------------


def _wait_port(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # answering, even if with an error page
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not up after {timeout} s")


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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _wait_subscribed(redis_url: str, channel: str, count: int, timeout: float = 120) -> None:
    """Until ``count`` processes subscribe ``channel`` (the pushers start slowly on a busy
    machine: clients must not be measured against a pusher that is still importing)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= count:
                return
            time.sleep(0.2)
    finally:
        client.close()
    raise RuntimeError(f"{count} subscribers of {channel} not up after {timeout} s")


def _cpu_tree(proc: psutil.Process) -> list[psutil.Process]:
    return [proc, *proc.children(recursive=True)]


def run_phase(phase: Phase, servers: list[list[str]], ws_url: str, ready_url: str,
              env: dict[str, str], redis_url: str, prefix: str) -> dict[str, Any]:  # fmt: skip
    from tests.support.sim_chain import SimChain  # noqa: PLC0415 - not in the client process

    chain = SimChain(seed=17)
    expiry = chain.expiries[0]
    hot = HotStore.from_url(redis_url, prefix, timeout=5)
    previous = chain.snapshots()[expiry]
    hot.publish(previous)
    snapshot_kb = len(messages.dumps(previous)) / 1024
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(_process(argv, env)) for argv in servers]
        _wait_port(ready_url, procs[0])
        if phase.workers:
            _wait_subscribed(redis_url, f"{prefix}orders", phase.workers)
        clients = stack.enter_context(_process(
            [sys.executable, __file__, "--clients", ws_url, expiry, str(phase.clients)], env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        ))  # fmt: skip
        assert clients.stdout is not None and clients.stdin is not None
        started = time.monotonic()
        line = clients.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"clients failed: {line!r}")
        connect_s = time.monotonic() - started
        watched = [_cpu_tree(psutil.Process(p.pid)) for p in [*procs, clients]]
        for tree in watched:
            for p in tree:
                p.cpu_percent(None)
        clients.stdin.write("go\n")
        clients.stdin.flush()
        published: dict[int, float] = {}
        t0 = time.monotonic()
        for k in range(int(DURATION_S * phase.hz)):
            due = t0 + k / phase.hz
            time.sleep(max(0.0, due - time.monotonic()))
            step = chain.step(1)
            if MARKET:  # the feed writes the market hash with each cycle's chains
                hot.write_market(chain.market())
            document = step[expiry]
            seq = hot.publish(document, previous)
            published[seq] = time.time()
            previous = document
        elapsed = time.monotonic() - t0
        time.sleep(3.0)  # let the last messages arrive
        cpu = [sum(p.cpu_percent(None) for p in tree) for tree in watched]
        clients.stdin.write("stop\n")
        clients.stdin.flush()
        result = json.loads(clients.stdout.read())
    final = hot.read_snapshot("NIFTY", expiry)
    hot.close()
    receipts = [(s, t) for s, t in result["receipts"] if s in published]
    latencies = [(t - published[s]) * 1000 for s, t in receipts]
    last_seq = max(published)
    first_at = min(published.values())
    exact = sum(1 for d in result["documents"] if d == final)
    offered = len(published) * phase.clients
    minutes = phase.clients * elapsed / 60  # what the updates of `elapsed` brought, a minute
    return {
        "phase": phase,
        "connect_s": connect_s,
        "offered": offered / elapsed,
        # Over the span from the first publish to the last receipt.
        "delivered": len(receipts) / max(max(t for _, t in receipts) - first_at, 1e-9)
        if receipts
        else 0.0,
        "delivered_pct": 100 * len(receipts) / offered,
        "complete": sum(1 for s, _ in receipts if s == last_seq),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": _percentile(latencies, 0.99) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "cpu": cpu,
        "exact": f"{exact}/{len(result['documents'])}",
        "outcomes": result["outcomes"],
        "per_minute": result["frames"] / minutes,
        "units_per_minute": result["units"] / minutes,
        "snapshot_kb": snapshot_kb,
    }


def main() -> None:
    local = Path(tempfile.mkdtemp(prefix="bench-push-", dir=ROOT / ".local"))
    results = []
    try:
        with devservices.services(local, durable=False) as found:
            redis_url = found.redis_url
            for phase in PHASES:
                prefix = f"benchpush:{uuid.uuid4().hex[:8]}:"
                port = devservices.free_port()
                url = f"http://127.0.0.1:{port}"
                env = {**os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix,
                       "DEV_TOKEN": TOKEN, "COGNITO_ISSUER": "", "PUSH_ENDPOINT_URL": url,
                       "PUSH_WORKERS": str(max(phase.workers, 1)), "LOG_LEVEL": "WARNING",
                       "POWERTOOLS_LOG_LEVEL": "WARNING"}  # fmt: skip
                if phase.path == "reference":
                    servers = [[sys.executable, __file__, "--reference", str(port)]]
                    ready = f"{url}/ws"
                else:
                    env["PUSH_POSTER"] = phase.path
                    servers = [
                        [
                            sys.executable,
                            "-m",
                            "strikeboard.gateway",
                            *GATEWAY_SERVES,
                            "--port",
                            str(port),
                            "--post-rtt-ms",
                            str(POST_RTT_MS),
                        ],
                        [sys.executable, "-m", "strikeboard.push"],
                    ]
                    ready = f"{url}/_gateway/health"
                print(f"== {phase.name}: {phase.clients} clients x {phase.hz:g} Hz", flush=True)
                results.append(run_phase(phase, servers, f"ws://127.0.0.1:{port}/ws", ready,
                                         env, redis_url, prefix))  # fmt: skip
                client = redis.Redis.from_url(redis_url)
                keys = list(client.scan_iter(match=f"{prefix}*"))
                if keys:
                    client.delete(*keys)
                client.close()
    finally:
        shutil.rmtree(local, ignore_errors=True)
    print(f"\nPush: WebSocket clients on the local gateway, one expiry, real simulator deltas "
          f"{'with the market data ' if MARKET else ''}for {DURATION_S:g} s a phase "
          f"({os.cpu_count()} cores shared by every process, clients in their own)\n")  # fmt: skip
    header = (f"{'path':<30} {'clients':>7} {'Hz':>3} {'offered/s':>9} {'deliv/s':>8} "
              f"{'deliv %':>7} {'last seq':>11} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
              f"{'exact':>5} {'msg/cl-min':>10} {'32KB/cl-min':>11}  CPU % gateway, pusher, "
              "clients")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in results:
        phase = r["phase"]
        cpu = ", ".join(f"{c:.0f}" for c in r["cpu"])
        if phase.path == "reference":
            cpu = f"{r['cpu'][0]:.0f} (one server), -, {r['cpu'][-1]:.0f}"
        complete = f"{r['complete']}/{phase.clients}"
        print(f"{phase.name:<30} {phase.clients:>7} {phase.hz:>3g} {r['offered']:>9.0f} "
              f"{r['delivered']:>8.0f} {r['delivered_pct']:>6.1f}% {complete:>11} "
              f"{r['p50']:>7.0f} {r['p99']:>7.0f} {r['max']:>7.0f} {r['exact']:>5} "
              f"{r['per_minute']:>10.0f} {r['units_per_minute']:>11.0f}  {cpu}")  # fmt: skip
    connect = ", ".join(f"{r['connect_s']:.0f} s" for r in results)
    outcomes = "; ".join(
        ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items())) for r in results
    )
    print(f"\nsnapshot {results[0]['snapshot_kb']:.0f} KB; clients connected+subscribed in "
          f"{connect}. 'deliv %' = delta messages received / updates published x clients (a "
          f"merged delta stands for several); latency = publish of a seq to the receipt of a "
          f"delta ending at it; 'last seq' = clients that received the final update; 'exact' = "
          f"verifying clients whose rebuilt document equals Redis's (what they did: "
          f"{outcomes}); msg/cl-min = WebSocket messages per client and minute, 32KB/cl-min the "
          f"units API Gateway bills for them.")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", nargs=3, metavar=("URL", "EXPIRY", "N"))
    parser.add_argument("--reference", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.clients:
        # On uvloop when it is there (as the gateway's uvicorn and the pusher run): the
        # clients stand for browsers on other machines, their process should take little of
        # the cores the measured processes share.
        try:
            from uvloop import run as run_loop
        except ImportError:
            run_loop = asyncio.run  # type: ignore[assignment]
        run_loop(clients_main(args.clients[0], args.clients[1], int(args.clients[2])))
    elif args.reference:
        reference_main(args.reference, os.environ["REDIS_URL"], os.environ["REDIS_KEY_PREFIX"])
    else:
        main()
