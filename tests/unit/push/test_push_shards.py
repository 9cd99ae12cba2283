"""Scale-out: pushers that split the connections (``PUSH_WORKERS`` processes, or tasks) send
each connection every change exactly once, all from one pusher: no message twice, none
skipped."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from strikeboard.auth import Principal
from strikeboard.push import messages
from strikeboard.push.poster import PostResult
from strikeboard.push.registry import Registry
from strikeboard.push.service import Pusher
from strikeboard.store.hot import HotStore
from tests.support.sim_chain import SimChain

SHARDS = 3
JSONDict = dict[str, Any]


class Recorder:
    """The posts of all shards: (shard, message) per connection."""

    def __init__(self) -> None:
        self.received: dict[str, list[tuple[int, JSONDict]]] = defaultdict(list)

    def poster(self, shard: int) -> ShardPoster:
        return ShardPoster(self, shard)


class ShardPoster:
    def __init__(self, recorder: Recorder, shard: int) -> None:
        self.recorder, self.shard = recorder, shard

    async def post(self, connection_id: str, data: bytes) -> PostResult:
        for message in messages.unbatch(json.loads(data)):
            self.recorder.received[connection_id].append((self.shard, message))
        return PostResult.OK

    async def aclose(self) -> None:
        pass


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_shards_send_every_change_once(redis_url: str, redis_prefix: str) -> None:
    hot = HotStore.from_url(redis_url, redis_prefix)
    registry = Registry.from_url(redis_url, redis_prefix, ttl_s=60)
    chain = SimChain(seed=8)
    e0, e1 = chain.expiries[:2]
    previous = chain.snapshots()
    for document in previous.values():
        hot.publish(document)
    recorder = Recorder()
    pushers = []
    for i in range(SHARDS):
        pushers.append(Pusher(redis_url, recorder.poster(i), prefix=redis_prefix,
                              registry=registry, hot=hot, market_hz=20, shard=i,
                              shards=SHARDS))  # fmt: skip
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in pushers]
    for p in pushers:
        await asyncio.wait_for(p.subscribed.wait(), 10)
    ids = [f"conn{i:02d}=" for i in range(30)]
    start: dict[str, dict[str, int]] = {}
    for n, cid in enumerate(ids):
        registry.connect(cid, Principal("dev", "dev"))
        expiries = [e0, e1] if n % 3 == 0 else [e0]
        for expiry in expiries:
            registry.subscribe(cid, "NIFTY", expiry)
        start[cid] = {e: int(hot.read_snapshot("NIFTY", e)["seq"]) for e in expiries}  # type: ignore[index]
    last: dict[str, int] = {}
    order = chain.order_update()
    try:
        for step in range(8):
            for expiry, document in chain.step(1).items():
                if expiry in (e0, e1):
                    last[expiry] = hot.publish(document, previous[expiry])
                    previous[expiry] = document
            if step == 4:
                hot.write_market(chain.market())
                hot.publish_order(order)
            await asyncio.sleep(0.03)

        def done() -> bool:
            return all(
                any(m.get("seq") == last[e] and m.get("expiry") == e for _, m in
                    recorder.received[cid]) for cid in ids for e in start[cid]
            )  # fmt: skip

        await eventually(done)
        await asyncio.sleep(0.2)  # anything sent twice would arrive by now
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        hot.close()
        registry.close()

    for cid in ids:
        got = recorder.received[cid]
        assert {shard for shard, _ in got} == {zlib.crc32(cid.encode()) % SHARDS}
        for expiry, seq in start[cid].items():
            chain_of = [(m["base"], m["seq"]) for _, m in got
                        if m["type"] == "delta" and m["expiry"] == expiry]  # fmt: skip
            # The deltas tile start..last: each follows the one before, none repeats or skips.
            assert chain_of and chain_of[0][0] == seq, cid
            assert all(b == a[1] for a, (b, _) in itertools.pairwise(chain_of))
            assert chain_of[-1][1] == last[expiry]
        assert [m["data"] for _, m in got if m["type"] == "order"] == [order]
        assert len([m for _, m in got if m["type"] == "market"]) == 1
        assert all(m["type"] != "delta" or m["expiry"] in start[cid] for _, m in got)
