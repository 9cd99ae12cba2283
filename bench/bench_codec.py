"""Benchmark: `strikeboard.market.codec.decode` against kiteconnect's `KiteTicker._parse_binary`.

Builds realistic messages with the simulator's encoder (`layouts.frame_many`): a 500-packet
full-mode message (the feed's common case), a 50-packet full-mode message, and a mixed
message of all five layouts. Prints ticks/s for each parser and the speed-up.
Run: uv run python bench/bench_codec.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from kiteconnect import KiteTicker

from strikeboard.market import codec, layouts

RNG = np.random.default_rng(42)


def _fill(n: int, dtype: np.dtype[np.void], segment: int) -> np.ndarray:
    arr = np.zeros(n, dtype=dtype)
    for name in dtype.names or ():
        if name == "depth":
            arr["depth"]["quantity"] = RNG.integers(75, 50_000, (n, 10))
            arr["depth"]["price"] = RNG.integers(5, 40_000, (n, 10)) * 5
            arr["depth"]["orders"] = RNG.integers(1, 200, (n, 10))
        elif name.endswith("timestamp") or name == "last_trade_time":
            arr[name] = 1_764_043_200 + RNG.integers(0, 22_500, n)
        else:
            arr[name] = RNG.integers(1, 5_000_000, n)
    arr["instrument_token"] = (RNG.integers(10_000, 60_000, n) << 8) | segment
    return arr


def messages() -> dict[str, bytes]:
    return {
        "full x500": layouts.frame(_fill(500, layouts.FULL, 2)),
        "full x50": layouts.frame(_fill(50, layouts.FULL, 2)),
        "mixed x500": layouts.frame_many(
            [
                _fill(2, layouts.INDEX_FULL, 9),
                _fill(300, layouts.FULL, 2),
                _fill(100, layouts.QUOTE, 2),
                _fill(50, layouts.LTP, 2),
                _fill(48, layouts.INDEX_QUOTE, 9),
            ]
        ),
    }


def rate(fn: Callable[[bytes], object], msg: bytes, ticks: int, budget: float = 1.5) -> float:
    """Best ticks/s over repeated runs for about `budget` seconds."""
    best = float("inf")
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn(msg)
        best = min(best, time.perf_counter() - t0)
    return ticks / best


def main() -> None:
    ticker = KiteTicker("k", "t")
    header = (
        f"{'message':<12}{'kiteconnect':>14}{'decode':>14}{'speed-up':>10}"
        f"{'decode+to_dicts':>18}{'speed-up':>10}"
    )
    print("ticks/s (best of repeated runs, one process, same payloads)")
    print(header)
    print("-" * len(header))
    for name, msg in messages().items():
        ticks = len(ticker._parse_binary(msg))
        assert len(codec.decode(msg)) == ticks
        kite = rate(ticker._parse_binary, msg, ticks)
        ours = rate(codec.decode, msg, ticks)
        dicts = rate(lambda m: codec.decode(m).to_dicts(), msg, ticks)
        print(
            f"{name:<12}{kite:>14,.0f}{ours:>14,.0f}{ours / kite:>9.1f}x"
            f"{dicts:>18,.0f}{dicts / kite:>9.1f}x"
        )
    print("target: decode at least 50x kiteconnect")


if __name__ == "__main__":
    main()
