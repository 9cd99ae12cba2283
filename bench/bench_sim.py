"""Simulator throughput: 3 connections x 3,000 instruments in full mode, one tick/instrument/s.

Runs the simulator as a subprocess (`--every-second`), consumes with plain `websockets`
clients in another process for ~20 s, and prints ticks/s, bytes/s and the simulator's CPU
share (psutil on its PID) against the reference target of half a core (50 %).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import websockets

DURATION = 20.0
CONNS = 3
PER_CONN = 3000
TARGET_CPU = 50.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _client(url: str, tokens: list[int], out: dict[str, float]) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"a": "subscribe", "v": tokens}))
        await ws.send(json.dumps({"a": "mode", "v": ["full", tokens]}))
        t_end = time.monotonic() + DURATION
        ticks = nbytes = 0
        while (left := t_end - time.monotonic()) > 0:
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=left)
            except TimeoutError:
                break
            if isinstance(msg, bytes) and len(msg) > 2:
                ticks += int.from_bytes(msg[:2], "big")
                nbytes += len(msg)
        out["ticks"], out["bytes"] = ticks, nbytes


def _consume(url: str, token_sets: list[list[int]], q: mp.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> list[dict[str, float]]:
        outs: list[dict[str, float]] = [{} for _ in token_sets]
        await asyncio.gather(*(_client(url, t, o) for t, o in zip(token_sets, outs, strict=True)))
        return outs

    q.put(asyncio.run(main()))


def main() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "strikeboard", "sim", "--port", str(port), "--every-second",
         "--start", "10:00", "--date", "2026-11-25"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        root = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                csv = urllib.request.urlopen(f"{root}/instruments").read().decode()
                break
            except OSError:
                time.sleep(0.1)
        tokens = [int(line.split(",")[0]) for line in csv.strip().splitlines()[1:]]
        sets = [
            [tokens[(c * 1000 + j) % len(tokens)] for j in range(PER_CONN)] for c in range(CONNS)
        ]
        url = f"ws://127.0.0.1:{port}/ws?api_key=sim_api_key&access_token=sim_access_token"
        q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        consumer = mp.Process(target=_consume, args=(url, sets, q))
        ps = psutil.Process(proc.pid)
        consumer.start()
        time.sleep(2.0)  # let subscriptions settle before measuring CPU
        ps.cpu_percent(None)
        t0 = time.monotonic()
        outs = q.get(timeout=DURATION + 60)
        cpu = ps.cpu_percent(None)
        wall = time.monotonic() - t0 + 2.0
        consumer.join()
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"simulator: {len(tokens)} instruments, {CONNS} conns x {PER_CONN} full mode, "
        f"{DURATION:.0f} s"
    )
    print(f"{'connection':>10} {'ticks/s':>10} {'MB/s':>8}")
    tot_t = tot_b = 0.0
    for i, o in enumerate(outs):
        tot_t += o["ticks"]
        tot_b += o["bytes"]
        print(f"{i + 1:>10} {o['ticks'] / DURATION:>10.0f} {o['bytes'] / DURATION / 1e6:>8.2f}")
    print(f"{'total':>10} {tot_t / DURATION:>10.0f} {tot_b / DURATION / 1e6:>8.2f}")
    print(
        f"simulator CPU: {cpu:.1f} % of one core over the last {wall - 2:.0f} s "
        f"(reference target < {TARGET_CPU:.0f} %): {'MET' if cpu < TARGET_CPU else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
