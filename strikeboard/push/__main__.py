"""``python -m strikeboard.push [--workers N]``: the pusher process(es) (docs/live.md).

Settings: REDIS_URL, REDIS_KEY_PREFIX, PUSH_ENDPOINT_URL (API Gateway's
https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, or the local gateway's URL),
PUSH_CONCURRENCY, PUSH_POSTER, PUSH_WORKERS, PUSH_MARKET_HZ, WS_CONNECTION_TTL_S, LOG_LEVEL.
With N workers, N processes each post to their share of the connections (posting is
CPU-bound: one process tops out near one core). Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from strikeboard import heartbeat
from strikeboard.config import get_settings, settings_or_exit
from strikeboard.logs import configure_logging
from strikeboard.push.httpposter import HttpPoster
from strikeboard.push.poster import AsyncPoster, ThreadedPoster
from strikeboard.push.registry import Registry
from strikeboard.push.service import Pusher

log = logging.getLogger("strikeboard.push")
HEARTBEAT_EVERY_S = 5.0


async def _serve(shard: int, shards: int) -> int:
    settings = get_settings()
    url, concurrency = settings.push_endpoint_url, settings.push_concurrency
    poster: AsyncPoster = (
        ThreadedPoster.boto3(url, concurrency)
        if settings.push_poster == "boto3"
        else HttpPoster.from_endpoint(url, concurrency)
    )
    pusher = Pusher(
        settings.redis_url,
        poster,
        prefix=settings.redis_key_prefix,
        registry=Registry.from_url(
            settings.redis_url, settings.redis_key_prefix, settings.ws_connection_ttl_s
        ),
        market_hz=settings.push_market_hz,
        shard=shard,
        shards=shards,
        concurrency=concurrency,
    )
    # Imports, botocore's models and the clients are here for good: out of the collector's
    # way (a full collection walking them paused the loop 50-80 ms every few seconds, a late
    # cycle for every connection).
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("pusher %d/%d posting to %s (%s)", shard + 1, shards, url, settings.push_poster)
    beating = None
    if settings.heartbeat_file is not None:
        path = heartbeat.worker_file(settings.heartbeat_file, shard, shards)
        beating = asyncio.create_task(_beat(path, stop))
    try:
        await pusher.run(stop)
    finally:
        await poster.aclose()
    if beating is not None:
        await beating
    log.info("pusher %d/%d stopped", shard + 1, shards)
    return 0


async def _beat(path: Path, stop: asyncio.Event) -> None:
    """Touch ``path`` every few seconds while the event loop runs (the container health check:
    a loop blocked by a stuck call stops the beats)."""
    while not stop.is_set():
        heartbeat.beat(path)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_EVERY_S)


def _run(serve: Coroutine[Any, Any, int]) -> int:
    """``serve`` on uvloop (its loop, transports and futures are C: a fifth less CPU a post
    than on asyncio's own loop, bench/bench_push.py), or on asyncio's where it is missing."""
    try:
        import uvloop  # noqa: PLC0415 - optional: not built for Windows
    except ImportError:
        return asyncio.run(serve)
    return uvloop.run(serve)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m strikeboard.push", description=__doc__)
    parser.add_argument("--workers", type=int, default=None,
                        help="pusher processes (default PUSH_WORKERS, 1)")  # fmt: skip
    parser.add_argument("--shard", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = settings_or_exit("pusher")
    configure_logging(settings.log_level, "strikeboard-push")
    if not settings.push_endpoint_url:
        print("PUSH_ENDPOINT_URL is not set: the Management API endpoint to post to "
              "(the local gateway's URL, or API Gateway's https://.../{stage})",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)
    workers = args.workers or settings.push_workers
    if workers < 1 or (args.shard is not None and not 0 <= args.shard < workers):
        parser.error("--workers must be at least 1 and --shard in 0..workers-1")
    if workers == 1 or args.shard is not None:
        sys.exit(_run(_serve(args.shard or 0, workers)))
    # N workers: N copies of this command, each owning a share of the connections.
    command = [sys.executable, "-m", "strikeboard.push", "--workers", str(workers), "--shard"]
    procs = [subprocess.Popen([*command, str(i)]) for i in range(workers)]

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # each worker stops cleanly

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [proc.wait() for proc in procs]
    sys.exit(max(codes))


if __name__ == "__main__":
    main()
