"""Push benchmark: 1,000 WebSocket clients on the local gateway, one expiry, 4 updates/s.

Processes: the gateway (`python -m strikeboard.gateway`) and the pusher
(`python -m strikeboard.push`), as `strikeboard dev` runs them; the 1,000 clients in a third
process (`websockets`); this process publishes real simulator snapshots with
`HotStore.publish` at 4 per second (one simulated market second each, ~13 KB deltas) for
DURATION seconds. Figures: messages/s delivered to clients, latency from the PUBLISH (taken
when `HotStore.publish` returns) to a client's receipt (p50/p99/max, wall clocks of one
machine), coalesced deltas, and CPU of each process. A few clients also apply every delta
and their documents are compared with Redis at the end.

Reference, same run and clients: a direct fan-out server (one process subscribes the Redis
channel and writes each message to its own sockets: no Management API hop, no boto3) — the
ceiling of a single Python process on this machine.

Uses REDIS_URL when set, else a private Redis. Run: uv run python bench/bench_push.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import redis

from strikeboard import devservices
from strikeboard.auth import Principal
from strikeboard.push import messages
from strikeboard.store.auth_state import AuthState
from strikeboard.store.hot import HotStore

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1000"))
RATE_HZ = 4.0
DURATION_S = float(os.environ.get("BENCH_DURATION", "30"))
VERIFY = 5  # clients that rebuild the document and are compared with Redis
TOKEN = "bench-token"
# BENCH_PHASES=gateway:1,gateway:2,reference:0 (path:pusher workers) selects the runs.
PHASES = [
    (name, int(workers))
    for name, workers in (
        p.split(":") for p in os.environ.get("BENCH_PHASES", "gateway:1,reference:0").split(",")
    )
]
_SEQ = re.compile(r'^\{"seq":(\d+),')


# -- the clients process ---------------------------------------------------------------------


async def _client(url: str, expiry: str, index: int, ready: asyncio.Event,
                  counter: list[int], out: dict[str, Any]) -> None:  # fmt: skip
    from websockets.asyncio.client import connect  # noqa: PLC0415

    receipts: list[tuple[int, float]] = []
    follower = messages.Follower() if index < VERIFY else None
    assembler = messages.Assembler()
    try:
        async with connect(url, max_size=None, compression=None, open_timeout=60) as socket:
            await socket.send(json.dumps({"action": "subscribe", "expiry": expiry}))
            first = True
            async for raw in socket:
                now = time.time()
                text = raw if isinstance(raw, str) else raw.decode()
                head = _SEQ.match(text)
                if head and follower is None:
                    receipts.append((int(head.group(1)), now))  # a delta: no need to parse
                    continue
                message = json.loads(text)
                if message["type"] == "part":
                    message = assembler.feed(message)
                    if message is None:
                        continue
                for inner in messages.unbatch(message):  # a push cycle's messages in one
                    if inner["type"] == "delta":
                        receipts.append((int(inner["seq"]), now))
                    if follower is not None and inner["type"] in ("snapshot", "delta", "reset"):
                        follower.handle(inner)
                    if first and inner["type"] in ("snapshot", "reset"):
                        first = False
                        counter[0] += 1
                        if counter[0] == counter[1]:
                            ready.set()
    finally:  # cancelled at the end of the run: keep what arrived
        out["receipts"] = receipts
        if follower is not None:
            out["document"] = follower.document


async def clients_main(url: str, expiry: str, n: int) -> None:
    ready = asyncio.Event()
    counter = [0, n]
    outs: list[dict[str, Any]] = [{} for _ in range(n)]
    tasks = []
    # Each socket opens with its own one-time ticket (what POST /api/ws/ticket stores), issued
    # straight into Redis so that the HTTP API is not part of the measurement.
    hot = HotStore.from_url(os.environ["REDIS_URL"], os.environ["REDIS_KEY_PREFIX"], timeout=5)
    tickets = AuthState.of(hot)
    user = Principal("bench", "bench")
    for i in range(n):
        ticketed = f"{url}?ticket={tickets.issue_ticket(user)}"
        tasks.append(asyncio.create_task(_client(ticketed, expiry, i, ready, counter, outs[i])))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # a gentle ramp, like browsers arriving
    hot.close()
    await asyncio.wait_for(ready.wait(), 120)
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the orchestrator says stop
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    receipts = [r for o in outs for r in o.get("receipts", [])]
    documents = [o.get("document") for o in outs[:VERIFY]]
    json.dump({"receipts": receipts, "documents": documents}, sys.stdout)
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


def run_phase(name: str, servers: list[list[str]], ws_url: str, ready_url: str,
              env: dict[str, str], redis_url: str, prefix: str,
              pushers: int) -> dict[str, Any]:  # fmt: skip
    from strikeboard.push.replay import SimChain  # noqa: PLC0415 - not in the client process

    chain = SimChain(seed=17)
    expiry = chain.expiries[0]
    hot = HotStore.from_url(redis_url, prefix, timeout=5)
    previous = chain.snapshots()[expiry]
    hot.publish(previous)
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(_process(argv, env)) for argv in servers]
        _wait_port(ready_url, procs[0])
        if pushers:
            _wait_subscribed(redis_url, f"{prefix}orders", pushers)
        clients = stack.enter_context(_process(
            [sys.executable, __file__, "--clients", ws_url, expiry, str(CLIENTS)], env,
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
        published: dict[int, float] = {}
        sizes: list[int] = []
        t0 = time.monotonic()
        for k in range(int(DURATION_S * RATE_HZ)):
            due = t0 + k / RATE_HZ
            time.sleep(max(0.0, due - time.monotonic()))
            document = chain.step(1)[expiry]
            seq = hot.publish(document, previous)
            published[seq] = time.time()
            sizes.append(len(messages.dumps(document)) if k == 0 else 0)
            previous = document
        elapsed = time.monotonic() - t0
        time.sleep(3.0)  # let the last messages arrive
        cpu = [sum(p.cpu_percent(None) for p in tree) for tree in watched]
        clients.stdin.write("stop\n")
        clients.stdin.flush()
        result = json.loads(clients.stdout.read())
    final = hot.read_snapshot("NIFTY", expiry)
    hot.close()
    receipts = result["receipts"]
    latencies = [(t - published[s]) * 1000 for s, t in receipts if s in published]
    last_seq = max(published)
    first_at = min(published.values())
    exact = sum(1 for d in result["documents"] if d == final)
    return {
        "name": name,
        "connect_s": connect_s,
        "updates": len(published),
        "offered": len(published) * CLIENTS / elapsed,
        # Over the span from the first publish to the last receipt.
        "delivered": len(receipts) / max(max(t for _, t in receipts) - first_at, 1e-9)
        if receipts
        else 0.0,
        "delivered_msgs": len(receipts),
        "complete": sum(1 for s, _ in receipts if s == last_seq),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": _percentile(latencies, 0.99) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "cpu": cpu,
        "exact": f"{exact}/{len(result['documents'])}",
        "snapshot_kb": sizes[0] / 1024,
    }


def main() -> None:
    local = Path(tempfile.mkdtemp(prefix="bench-push-", dir=ROOT / ".local"))
    try:
        with devservices.services(local, durable=False) as found:
            redis_url = found.redis_url
            results = []
            for phase, workers in PHASES:
                prefix = f"benchpush:{uuid.uuid4().hex[:8]}:"
                port = devservices.free_port()
                url = f"http://127.0.0.1:{port}"
                env = {**os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix,
                       "DEV_TOKEN": TOKEN, "COGNITO_ISSUER": "", "PUSH_ENDPOINT_URL": url,
                       "PUSH_WORKERS": str(workers), "LOG_LEVEL": "WARNING",
                       "POWERTOOLS_LOG_LEVEL": "WARNING"}  # fmt: skip
                if phase == "gateway":
                    servers = [
                        [sys.executable, "-m", "strikeboard.gateway", "--port", str(port)],
                        [sys.executable, "-m", "strikeboard.push"],
                    ]
                    name = f"gateway + pusher x{workers} (boto3)"
                else:
                    servers = [[sys.executable, __file__, "--reference", str(port)]]
                    name = "reference: direct Redis -> sockets"
                ready = f"{url}/_gateway/health" if phase == "gateway" else f"{url}/ws"
                results.append(run_phase(name, servers, f"ws://127.0.0.1:{port}/ws",
                                         ready, env, redis_url, prefix, workers))  # fmt: skip
                client = redis.Redis.from_url(redis_url)
                keys = list(client.scan_iter(match=f"{prefix}*"))
                if keys:
                    client.delete(*keys)
                client.close()
    finally:
        shutil.rmtree(local, ignore_errors=True)
    print(f"\nPush: {CLIENTS} WebSocket clients, one expiry, {RATE_HZ:g} updates/s for "
          f"{DURATION_S:g} s (real simulator deltas; 2 shared cores; clients in their own "
          f"process)\n")  # fmt: skip
    header = (f"{'path':<40} {'offered/s':>9} {'delivered/s':>11} {'last seq':>9} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'exact':>6}  "
              "CPU % (servers..., clients)")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in results:
        cpu = ", ".join(f"{c:.0f}" for c in r["cpu"])
        print(f"{r['name']:<40} {r['offered']:>9.0f} {r['delivered']:>11.0f} "
              f"{r['complete']:>4}/{CLIENTS:<4} {r['p50']:>8.0f} {r['p99']:>8.0f} {r['max']:>8.0f} "
              f"{r['exact']:>6}  {cpu}")  # fmt: skip
    connect = ", ".join(f"{r['connect_s']:.1f} s" for r in results)
    print(f"\nsnapshot {results[0]['snapshot_kb']:.0f} KB; clients connected+subscribed in "
          f"{connect}; 'last seq' = clients that received the final update; 'exact' = "
          f"verifying clients whose rebuilt document equals Redis's")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", nargs=3, metavar=("URL", "EXPIRY", "N"))
    parser.add_argument("--reference", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.clients:
        asyncio.run(clients_main(args.clients[0], args.clients[1], int(args.clients[2])))
    elif args.reference:
        reference_main(args.reference, os.environ["REDIS_URL"], os.environ["REDIS_KEY_PREFIX"])
    else:
        main()
