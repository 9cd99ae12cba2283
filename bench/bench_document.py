"""The publisher's hot path on a 9,000-instrument chain: which typed chain document, and what a
cycle costs.

The chain: the simulator's NIFTY, BANKNIFTY and SENSEX, every strike of 6 weeklies and the
monthly, trimmed to Kite's 3 x 3,000 by the feed's own budget (`market.universe`), as
`bench_feed.py` and `strikeboard dev` follow them. Each instrument ticks once a market second;
a 250 ms cycle gets a quarter of them (and every expiry is dirty: each spot ticks every
second).

1. Candidates for the document type, side by side: the time to build one cycle's documents of
   every expiry from the priced columns, to serialise them (orjson, or the type's own
   encoder: the bytes must equal the wire format's) and to diff them against the previous
   cycle's. Best of several rounds, CPU time of this process.
2. The publisher (`feed.publisher.ChainPublisher` against this machine's Redis): CPU time per
   cycle, overall and per underlying, for this tree and (``--against REV``, default ``main``)
   for an earlier commit, in the same run; ``--profile`` adds cProfile's top functions.
   CPU time, not wall time: on a machine shared with other processes only CPU time means
   something (a wall-clock figure also counts everyone else's work).

Run: uv run --group bench python bench/bench_document.py [--against REV] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import datetime as dt
import functools
import json
import os
import pstats
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pydantic
import pydantic_core

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/previous.py

from previous import checkout, python_env

from strikeboard.chain.snapshot import PricingParams
from strikeboard.chain.state import ChainState, Field
from strikeboard.market import codec, layouts
from strikeboard.market.underlyings import parse_underlyings
from strikeboard.market.universe import (
    Catalog,
    UniverseConfig,
    parse_instruments_csv,
    select_universe,
)
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import MODE_FULL, SimServer
from strikeboard.sim.universe import UniverseConfig as SimUniverse
from strikeboard.sim.universe import instruments_csv

UNDERLYINGS = ("NIFTY", "BANKNIFTY", "SENSEX")
DAY = dt.date(2026, 11, 25)
"""A fixed day: the series listed (and so the instrument count) depend on the date."""
START = 2700  # 10:00 IST
CYCLES_PER_SECOND = 4
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Market:
    server: SimServer
    state: ChainState
    instruments: tuple[Any, ...]
    index: np.ndarray
    rng: np.random.Generator

    def cycles(self, seconds: int) -> Iterator[tuple[codec.TickBatch, dt.datetime]]:
        """The tick batches of the next ``seconds`` market seconds, a cycle's worth each."""
        sim = self.server.sim
        for _ in range(seconds):
            sim.advance_to(sim.sec + 1)
            now = sim.market_time()
            for chunk in np.array_split(self.rng.permutation(self.index), CYCLES_PER_SECOND):
                part = np.sort(chunk)
                groups = self.server.encode(part, np.full(len(part), MODE_FULL))
                yield codec.decode(layouts.frame_many(groups)), now


def market(underlyings: tuple[str, ...] = UNDERLYINGS) -> Market:
    """The simulator at 10:00 and a chain state of the feed's universe, every leg quoted."""
    wide = SimUniverse(weeklies=6, range_lo=0.43, range_hi=1.57, underlyings=underlyings)
    server = SimServer(SimConfig(seed=5, day=DAY, every_second=True, universe=wide))
    sim = server.sim
    config = UniverseConfig(
        underlyings=parse_underlyings(underlyings), weekly_expiries=6, strikes_each_side=None
    )
    catalog = Catalog(parse_instruments_csv(instruments_csv(sim.instruments)), config)
    sim.advance_to(START)
    spots = {n: float(sim.ltp[sim.by_token[catalog.of(n).spot_token]]) for n in underlyings}
    universe = select_universe(catalog, spots, DAY)
    index = np.array(sorted(sim.by_token[t] for t in universe.tokens))
    state = ChainState(underlyings)
    state.set_universe(universe.instruments)
    state.set_values(Field.OI_PREV, {int(sim.token[i]): float(sim.oi_prev[i]) for i in index})
    groups = server.encode(index, np.full(len(index), MODE_FULL))
    state.apply(codec.decode(layouts.frame_many(groups)))
    return Market(server, state, universe.instruments, index, np.random.default_rng(1))


# -- 1. the document type ------------------------------------------------------------------


def cpu_best(fn: Callable[[], object], rounds: int) -> float:
    """Best CPU milliseconds of ``rounds`` calls."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best * 1000


def _rebuild(chain: Any, make_leg: Callable[[list[Any]], Any]) -> dict[str, Any]:
    """A chain's document with legs of another type, from the same columns (each type's legs
    from the same Python values: `chain.document` turns columns into those the same way for
    any type)."""
    from strikeboard.chain import document  # noqa: PLC0415

    n = len(chain.keys)
    legs: dict[str, list[Any]] = {}
    for side, pack in chain.packed.items():
        present = np.flatnonzero(chain.columns.sides[side].present)
        side_legs: list[Any] = [None] * n
        for i, values in zip(present.tolist(), pack.objects(present), strict=True):
            side_legs[i] = make_leg(values)
        legs[side] = side_legs
    shown = document.json_list("iv", chain.columns.iv)
    gex = document.json_list("gex", chain.columns.gex)
    rows = {}
    for i, (key, strike) in enumerate(zip(chain.keys, chain.columns.strikes.tolist(), strict=True)):
        row: dict[str, Any] = {"strike": strike, "iv": shown[i], "gex": gex[i]}
        for side, side_legs in legs.items():
            if side_legs[i] is not None:
                row[side] = side_legs[i]
        rows[key] = row
    head = {k: v for k, v in chain.document.items() if k != "strikes"}
    return {**head, "strikes": rows}


def candidates(seconds: int, rounds: int) -> None:
    from strikeboard.chain import document  # noqa: PLC0415
    from strikeboard.chain.snapshot import expiry_chain  # noqa: PLC0415
    from strikeboard.store import snapshot as snap  # noqa: PLC0415

    m = market()
    params = PricingParams(rate=0.065)
    cycles = list(m.cycles(seconds))
    # Two consecutive cycles' chains of every expiry: the diff is taken between them.
    chains: list[dict[tuple[str, str], Any]] = []
    for batch, now in cycles[-2:]:
        m.state.apply(batch)
        found = {}
        for index in m.state.expiries:
            built = expiry_chain(m.state, index, now, params)
            if built is not None:
                found[(index.underlying, index.expiry.isoformat())] = built[0]
        chains.append(found)
    before, after = chains
    legs = sum(int(sc.present.sum()) for c in after.values() for sc in c.columns.sides.values())
    wire = {key: orjson.dumps(c.document) for key, c in after.items()}
    names = document.LEG_FIELDS

    def build_all(make_leg: Callable[[list[Any]], Any]) -> dict[Any, dict[str, Any]]:
        return {key: _rebuild(c, make_leg) for key, c in after.items()}

    def dict_leg(t: list[Any]) -> dict[str, Any]:
        return dict(zip(names, t, strict=True))

    # The same leg, field for field, in each type.
    leg_slots = dataclasses.make_dataclass("LegSlots", [(f, Any) for f in names], slots=True)
    leg_struct = msgspec.defstruct("LegStruct", [(f, Any) for f in names], gc=False)
    leg_model = pydantic.create_model("LegModel", **{f: (Any, None) for f in names})  # type: ignore[call-overload]

    def model_leg(t: list[Any]) -> pydantic.BaseModel:
        return leg_model.model_construct(**dict(zip(names, t, strict=True)))

    encoder = msgspec.json.Encoder()
    kinds: list[tuple[str, Callable[[list[Any]], Any], Callable[[Any], bytes]]] = [
        ("TypedDict (dicts), orjson", dict_leg, orjson.dumps),
        ("dataclass(slots), orjson", lambda t: leg_slots(*t), orjson.dumps),
        ("msgspec.Struct, msgspec", lambda t: leg_struct(*t), encoder.encode),
        ("pydantic model_construct, pydantic_core", model_leg, pydantic_core.to_json),
    ]
    rebuilt_before = {key: c.document for key, c in before.items()}

    def encode_all(encode: Callable[[Any], bytes], docs: dict[Any, Any]) -> None:
        for d in docs.values():
            encode(d)

    def diff_all(docs: dict[Any, Any]) -> None:
        for key, d in docs.items():
            snap.diff_snapshot(rebuilt_before[key], d)

    print(
        f"chain: {legs:,} legs in {len(after)} expiries of {', '.join(UNDERLYINGS)}; "
        f"CPU ms per cycle (all expiries), best of {rounds}"
    )
    header = f"{'document type':<42}{'build':>8}{'serialise':>11}{'diff':>8}{'total':>8}  wire"
    print(header)
    print("-" * (len(header) + 12))
    for name, make, encode in kinds:
        docs = build_all(make)
        same = all(encode(docs[key]) == wire[key] for key in docs)
        build_ms = cpu_best(functools.partial(build_all, make), rounds)
        ser_ms = cpu_best(functools.partial(encode_all, encode, docs), rounds)
        if name.startswith("TypedDict"):
            diff_ms = cpu_best(functools.partial(diff_all, docs), rounds)
            diff = f"{diff_ms:8.1f}"
            total = f"{build_ms + ser_ms + diff_ms:8.1f}"
        else:
            diff, total = f"{'-':>8}", f"{build_ms + ser_ms:8.1f}+"
        print(
            f"{name:<42}{build_ms:8.1f}{ser_ms:11.1f}{diff}{total}  "
            f"{'same bytes' if same else 'DIFFERENT bytes'}"
        )

    def chosen() -> None:
        for key, c in after.items():
            built, _ = document.build(c.document, c.document["aggregates"], c.columns, before[key])
            orjson.dumps(built.document)

    def chosen_fresh() -> None:
        for c in after.values():
            built, _ = document.build(c.document, c.document["aggregates"], c.columns)
            orjson.dumps(built.document)

    both = cpu_best(chosen, rounds)
    fresh = cpu_best(chosen_fresh, rounds)
    print(
        f"{'chain.document.build: dicts from columns,':<42}{'':>8}{'':>11}{'':>8}{both:8.1f}  "
        "same bytes"
    )
    print(
        f"{'  unchanged legs reused, array diff':<42}  (the same without a previous chain, "
        f"no diff: {fresh:.1f})"
    )
    print(
        "'+': no diff of that type's objects measured (a dict walk needs dicts); the array diff "
        "of chain.document is the same for any type."
    )


# -- 2. the publisher -------------------------------------------------------------------------


def publisher_cpu(seconds: int, profile: bool) -> dict[str, Any]:
    """CPU per cycle of `ChainPublisher` in this process (whichever strikeboard it imports)."""
    from strikeboard.feed.publisher import ChainPublisher  # noqa: PLC0415
    from strikeboard.store.hot import HotStore  # noqa: PLC0415

    m = market()
    hot = HotStore.from_url(REDIS_URL, f"bench:{uuid.uuid4().hex[:8]}:")
    try:
        publisher = ChainPublisher(hot, UNDERLYINGS, PricingParams(rate=0.065))
        # The same instruments: the publisher's columns and expiries are the state's.
        publisher.set_universe(m.instruments)
        return _cycles(publisher, m, seconds, profile)
    finally:
        for key in hot.client.scan_iter(match=f"{hot.keys.prefix}*"):
            hot.client.delete(key)
        hot.close()


def _cycles(publisher: Any, m: Market, seconds: int, profile: bool) -> dict[str, Any]:
    # The first publish of each expiry (a reset), then the measured cycles (deltas).
    publisher.cycle(m.state.values.copy(), m.state.take_dirty(), m.server.sim.market_time())
    batches = list(m.cycles(seconds))
    prof = cProfile.Profile()
    cpu: list[float] = []
    per: dict[str, list[float]] = {}
    for batch, now in batches:
        m.state.apply(batch)
        values, dirty = m.state.values.copy(), m.state.take_dirty()
        t0 = time.process_time()
        by_underlying: dict[str, float] = {}
        for i in dirty:
            name = m.state.expiries[i].underlying
            t1 = time.process_time()
            if profile:
                prof.enable()
            publisher.cycle(values, [i], now)
            if profile:
                prof.disable()
            by_underlying[name] = by_underlying.get(name, 0.0) + time.process_time() - t1
        cpu.append(time.process_time() - t0)
        for name, spent in by_underlying.items():
            per.setdefault(name, []).append(spent)
    out: dict[str, Any] = {
        "cycles": len(cpu),
        "expiries": len(m.state.expiries),
        "median_ms": float(np.median(cpu)) * 1000,
        "mean_ms": float(np.mean(cpu)) * 1000,
        "underlyings": {n: float(np.median(v)) * 1000 for n, v in per.items()},
    }
    if profile:
        stats = pstats.Stats(prof, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(15)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--against", default="main", help="an earlier commit to measure too")
    parser.add_argument("--seconds", type=int, default=10, help="market seconds of cycles")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="publisher runs per tree")
    parser.add_argument("--profile", action="store_true", help="cProfile's top functions")
    parser.add_argument("--publisher-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher_json:  # a child measuring the tree on its PYTHONPATH
        print(json.dumps(publisher_cpu(args.seconds, args.profile)))
        return
    candidates(2, args.rounds)
    print()
    print(
        f"publisher CPU per 250 ms cycle (every expiry dirty), median of "
        f"{args.seconds * CYCLES_PER_SECOND} cycles; the lowest of {args.repeat} runs per tree, "
        "the trees' runs taking turns:"
    )
    with contextlib.ExitStack() as stack:
        trees: list[tuple[str, Path, dict[str, str] | None]] = [("this tree", ROOT, None)]
        if args.against:
            old = stack.enter_context(checkout(args.against))
            trees.insert(0, (args.against, old, python_env(old)))
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for label, tree, env in trees:
                result = _run_child(tree, env, args)
                if label not in best or result["median_ms"] < best[label]["median_ms"]:
                    best[label] = result
    for label, result in best.items():
        parts = ", ".join(f"{n} {ms:.1f} ms" for n, ms in result["underlyings"].items())
        print(
            f"  {label:<12} {result['median_ms']:6.1f} ms (mean {result['mean_ms']:.1f}) "
            f"over {result['expiries']} expiries; per underlying: {parts}"
        )


def _run_child(tree: Path, env: dict[str, str] | None, args: argparse.Namespace) -> dict[str, Any]:
    """`publisher_cpu` in a child process running the strikeboard of ``tree``."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--publisher-json",
        "--seconds",
        str(args.seconds),
        *(["--profile"] if args.profile else []),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=tree, env=env)
    if args.profile:
        print(done.stderr, file=sys.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
