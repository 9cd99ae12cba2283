"""Alert evaluation: CPU per feed cycle with 1,000 rules (docs/alerts.md, "Cost").

The publisher process evaluates the rules reading each cycle's changed documents
(`AlertEvaluator.observe`: the pure `AlertBook.observe` under a lock, the changes queued for
its thread). Measured here on real documents: the simulator's market priced as the feed
prices it (5 expiries x 51 strikes, stepped a market second at a time), ``RULES`` rules of
every kind spread over the expiries, strikes and legs, their levels near the current values
so that rules arm, fire and re-arm as the market moves. Every expiry changes every cycle
(the worst case: a busy market), and the CPU time of the calling thread is counted
(``time.thread_time``), so other load on the machine changes the figure little.

No I/O: the evaluator's thread is not started (what it does, a PostgreSQL transaction per
change, happens off the cycle and only at crossings).

Run: uv run python bench/bench_alerts.py   (RULES=1000, CYCLES=400 by default)
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import datetime
from typing import Any

from strikeboard.chain.alerts import AlertBook, Kind, Op, Rule, RuleState, Target
from strikeboard.feed.alerts import AlertEvaluator
from strikeboard.market.calendar import IST
from strikeboard.store.alerts import AlertRepo
from strikeboard.store.hot import HotStore
from tests.support.sim_chain import SimChain

RULES = int(os.environ.get("RULES", "1000"))
CYCLES = int(os.environ.get("CYCLES", "400"))
AT = datetime(2026, 11, 25, 11, 0, tzinfo=IST)


def make_rules(docs: list[dict[str, Any]], count: int, seed: int = 7) -> list[Rule]:
    """``count`` rules of every kind, levels within a few percent of today's values."""
    rnd = random.Random(seed)
    kinds = list(Kind)
    out = []
    for i in range(count):
        doc = rnd.choice(docs)
        kind = kinds[i % len(kinds)]
        u, e = doc["underlying"], doc["expiry"]
        if kind is Kind.SPOT:
            target = Target(kind, u)
        elif kind in (Kind.PCR, Kind.MAX_PAIN):
            target = Target(kind, u, e)
        else:
            row = rnd.choice(list(doc["strikes"].values()))
            target = Target(kind, u, e, float(row["strike"]), rnd.choice(["CE", "PE"]))
        value = target.read(doc)
        base = value if value else 1.0
        level = base * (1 + rnd.uniform(-0.01, 0.01))
        if kind is Kind.IV:
            level = min(max(level, 0.01), 5.0)
        out.append(Rule(i + 1, f"user{i % 50}", target, rnd.choice(list(Op)), level))
    return out


def main() -> None:
    chain = SimChain(seed=3)
    cycles = [list(chain.step(1).values()) for _ in range(CYCLES)]
    rules = make_rules(cycles[0], RULES)
    strikes = len(cycles[0][0]["strikes"])
    print(f"{RULES} rules over {len(cycles[0])} expiries x {strikes} strikes, {CYCLES} cycles"
          " (every expiry changed)")  # fmt: skip

    book = AlertBook()
    book.replace([(r, RuleState()) for r in rules])
    pure: list[float] = []
    changes = 0
    for docs in cycles:
        started = time.thread_time()
        changes += len(book.observe(docs))
        pure.append((time.thread_time() - started) * 1e6)

    # The evaluator's own `observe` (lock, queue), its thread not started: no I/O at all.
    evaluator = AlertEvaluator(
        AlertRepo("postgresql://unused"), HotStore.from_url("redis://unused")
    )
    evaluator.book.replace([(r, RuleState()) for r in rules])
    full: list[float] = []
    for docs in cycles:
        started = time.thread_time()
        evaluator.observe(docs, AT)
        full.append((time.thread_time() - started) * 1e6)

    for name, measured in (("AlertBook.observe", pure), ("AlertEvaluator.observe", full)):
        xs = sorted(measured[10:])  # the first cycles arm every rule
        p50, p99 = statistics.median(xs), xs[int(len(xs) * 0.99) - 1]
        print(f"{name:24s} CPU per cycle: p50 {p50:7.0f} us, p99 {p99:7.0f} us, "
              f"max {xs[-1]:7.0f} us; {p50 / RULES * 1000:.0f} ns a rule")  # fmt: skip
    print(f"changes over the run (armed, fired, re-armed): {changes}, "
          f"{changes / CYCLES:.1f} a cycle")  # fmt: skip


if __name__ == "__main__":
    main()
